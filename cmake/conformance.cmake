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

# Bad input to the CLI: one clear error line and exit status 1 for each kind.
if(EXISTS "${DD_SHARED_DIR}/fixtures/manifest.json")
  add_test(NAME cli_error_lines
           COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/error_lines.sh $<TARGET_FILE:diffusiond>
                   "${DD_SHARED_DIR}/fixtures")
endif()

# The official OpenAI client (the pinned Python package `openai`) against a real `diffusiond serve`.
if(EXISTS "${DD_SHARED_DIR}/fixtures/manifest.json")
  add_test(NAME openai_client
           COMMAND ${CMAKE_SOURCE_DIR}/tests/openai_client/run.sh $<TARGET_FILE:diffusiond>
                   "${DD_SHARED_DIR}/fixtures")
endif()

# Every example request of the four seed documents, sent with curl to a real `diffusiond serve`.
if(EXISTS "${DD_SHARED_DIR}/fixtures/manifest.json")
  add_test(NAME seed_examples
           COMMAND ${CMAKE_SOURCE_DIR}/tests/seed_examples/run.sh $<TARGET_FILE:diffusiond>
                   "${DD_SHARED_DIR}/fixtures")
endif()

# The playground (GET /) in a real browser: Debian's Chromium driven by the pinned Selenium, against
# a real `diffusiond serve` that requires a key.
if(EXISTS "${DD_SHARED_DIR}/fixtures/manifest.json")
  add_test(NAME browser_playground
           COMMAND ${CMAKE_SOURCE_DIR}/tests/browser/run.sh $<TARGET_FILE:diffusiond>
                   "${DD_SHARED_DIR}/fixtures")
endif()

# The AUTOMATIC1111 API client (the pinned Python package `webuiapi`) and Open WebUI's requests
# against a real `diffusiond serve` that has an API key.
if(EXISTS "${DD_SHARED_DIR}/fixtures/manifest.json")
  add_test(NAME a1111_client
           COMMAND ${CMAKE_SOURCE_DIR}/tests/a1111_client/run.sh $<TARGET_FILE:diffusiond>
                   "${DD_SHARED_DIR}/fixtures")
endif()
