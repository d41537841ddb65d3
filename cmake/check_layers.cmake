# Fails when a layer's source includes a header of a layer it does not depend on.
#   cmake -DDD_LAYERS_FILE=<build>/dd_layers.cmake -DDD_SOURCE_DIR=<repo>/src -P check_layers.cmake
# DD_LAYERS_FILE is written by dd_layer() (CMakeLists.txt): each layer's target, folder and direct
# dd_* dependencies. A folder under src/ may include itself, util/ (header-only, below every
# layer) and the folders of the layers it depends on, directly or through others.
cmake_minimum_required(VERSION 3.18)
if(NOT DD_LAYERS_FILE OR NOT DD_SOURCE_DIR)
  message(FATAL_ERROR "usage: cmake -DDD_LAYERS_FILE=... -DDD_SOURCE_DIR=... -P check_layers.cmake")
endif()
include("${DD_LAYERS_FILE}")

# Every folder under src/ that holds code: the layers' and util.
set(known_dirs util)
foreach(layer IN LISTS DD_LAYERS)
  list(APPEND known_dirs ${DD_LAYER_DIR_${layer}})
endforeach()

# The folders `layer` may include: its own, util and those of its dependencies, transitively.
function(allowed_dirs layer out)
  set(result ${DD_LAYER_DIR_${layer}} util)
  set(pending ${DD_LAYER_DEPS_${layer}})
  set(seen "")
  while(pending)
    list(POP_FRONT pending dep)
    if(dep IN_LIST seen OR NOT DEFINED DD_LAYER_DIR_${dep})
      continue()  # visited, or a dd_ target that is not a layer
    endif()
    list(APPEND seen ${dep})
    list(APPEND result ${DD_LAYER_DIR_${dep}})
    list(APPEND pending ${DD_LAYER_DEPS_${dep}})
  endwhile()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

set(violations "")
set(checked 0)
# Appends to `violations` each include in src/<dir>/ of a folder under src/ not in `allowed`.
function(check_dir dir allowed)
  list(JOIN allowed ", " allowed_text)
  file(GLOB files "${DD_SOURCE_DIR}/${dir}/*.h" "${DD_SOURCE_DIR}/${dir}/*.cpp")
  list(LENGTH files count)
  math(EXPR count "${checked} + ${count}")
  set(checked ${count} PARENT_SCOPE)
  foreach(file IN LISTS files)
    file(STRINGS "${file}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"/]+/")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"/]+)/.*$" "\\1" target_dir "${line}")
      if(target_dir IN_LIST allowed)
        continue()
      endif()
      if(target_dir IN_LIST known_dirs OR IS_DIRECTORY "${DD_SOURCE_DIR}/${target_dir}")
        file(RELATIVE_PATH rel "${DD_SOURCE_DIR}" "${file}")
        string(STRIP "${line}" line)
        list(APPEND violations "src/${rel}: ${line} (${dir}/ may include only: ${allowed_text})")
      endif()
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

check_dir(util util)  # below every layer
foreach(layer IN LISTS DD_LAYERS)
  allowed_dirs(${layer} allowed)
  check_dir(${DD_LAYER_DIR_${layer}} "${allowed}")
endforeach()

if(violations)
  list(LENGTH violations count)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "${count} include(s) against the layering declared by dd_layer():\n  ${text}")
endif()
list(LENGTH DD_LAYERS layer_count)
message(STATUS "Layering: the ${checked} files of util and ${layer_count} layers include only what they may")
