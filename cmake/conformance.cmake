# The conformance suite: `diffusiond conformance DIR` on the shared reference fixtures.
if(EXISTS "${DD_SHARED_DIR}/fixtures/manifest.json")
  add_test(NAME conformance_shared_fixtures
           COMMAND diffusiond conformance "${DD_SHARED_DIR}/fixtures")
else()
  message(STATUS "No reference fixtures at ${DD_SHARED_DIR}/fixtures: conformance tests are skipped")
  add_test(NAME conformance_shared_fixtures
           COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: no fixtures at ${DD_SHARED_DIR}/fixtures")
  set_tests_properties(conformance_shared_fixtures PROPERTIES SKIP_REGULAR_EXPRESSION "SKIPPED")
endif()

# The FLUX.1 sets (text-to-image; Fill, img2img and inpainting), when present beside the project.
foreach(set IN ITEMS fixtures-flux fixtures-flux-fill)
  if(EXISTS "${DD_SHARED_DIR}/${set}/manifest.json")
    string(REPLACE "-" "_" test_name "conformance_shared_${set}")
    add_test(NAME ${test_name} COMMAND diffusiond conformance "${DD_SHARED_DIR}/${set}")
  endif()
endforeach()

# Script tests against the tiny fixture models, each `SCRIPT SERVER_BINARY FIXTURES_DIR`:
#  cli_error_lines     bad input to the CLI: one clear error line and exit status 1 for each kind;
#  openai_client       the official OpenAI client (pinned `openai`) against a real server;
#  seed_examples       every example request of the four seed documents, sent with curl;
#  browser_playground  the playground (GET /) in Debian's Chromium driven by the pinned Selenium,
#                      against a server that requires a key;
#  a1111_client        the AUTOMATIC1111 client (pinned `webuiapi`) and Open WebUI's requests,
#                      against a server that has an API key;
#  multinode_postgres  a throwaway PostgreSQL, one `serve --no-worker` API node and three
#                      `worker`s: a worker killed mid-job (its lease expires, the job runs once
#                      elsewhere), PostgreSQL restarted mid-run (503, then recovery), a soak.
if(EXISTS "${DD_SHARED_DIR}/fixtures/manifest.json")
  foreach(script_test IN ITEMS cli_error_lines:cli/error_lines.sh openai_client:openai_client/run.sh
                               seed_examples:seed_examples/run.sh browser_playground:browser/run.sh
                               a1111_client:a1111_client/run.sh
                               multinode_postgres:multinode/run.sh)
    string(REPLACE ":" ";" parts "${script_test}")
    list(GET parts 0 test_name)
    list(GET parts 1 script)
    add_test(NAME ${test_name}
             COMMAND ${CMAKE_SOURCE_DIR}/tests/${script} $<TARGET_FILE:diffusiond>
                     "${DD_SHARED_DIR}/fixtures")
  endforeach()
endif()
