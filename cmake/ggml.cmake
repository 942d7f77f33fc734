# Brings in ggml as a subproject: from RBEES_GGML_DIR when given, else from the pinned npm snapshot
# (fetched and cached by scripts/ggml-source.sh).
set(RBEES_GGML_DIR "" CACHE PATH "Existing ggml source folder (holds ggml's CMakeLists.txt)")

if(NOT RBEES_GGML_DIR)
  execute_process(
    COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/ggml-source.sh
    OUTPUT_VARIABLE _ggml_dir
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _ggml_rc)
  if(NOT _ggml_rc EQUAL 0)
    message(FATAL_ERROR "could not obtain the ggml source (scripts/ggml-source.sh failed)")
  endif()
  set(RBEES_GGML_DIR "${_ggml_dir}" CACHE PATH "Existing ggml source folder" FORCE)
endif()

if(NOT EXISTS "${RBEES_GGML_DIR}/CMakeLists.txt")
  message(FATAL_ERROR "RBEES_GGML_DIR=${RBEES_GGML_DIR} has no CMakeLists.txt")
endif()
message(STATUS "ggml source: ${RBEES_GGML_DIR}")

# ggml is linked statically into the one binary; its backends register themselves at start.
set(BUILD_SHARED_LIBS OFF CACHE BOOL "" FORCE)
set(GGML_BACKEND_DL OFF CACHE BOOL "" FORCE)
set(GGML_CUDA ${RBEES_CUDA} CACHE BOOL "" FORCE)
set(GGML_METAL ${RBEES_METAL} CACHE BOOL "" FORCE)
set(GGML_VULKAN ${RBEES_VULKAN} CACHE BOOL "" FORCE)
# ggml's RPC backend: `rpc-server` serves a local device over TCP and `--rpc` adds remote devices to
# a model's split. TCP only: the RDMA transport would depend on whether libibverbs happens to be
# installed where the build runs.
set(GGML_RPC ON CACHE BOOL "" FORCE)
set(GGML_RPC_RDMA OFF CACHE BOOL "" FORCE)
set(GGML_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(GGML_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
set(GGML_ALL_WARNINGS OFF CACHE BOOL "" FORCE)
# ggml's own worker threads (kept for the device's lifetime), not OpenMP: the worker computes on its
# engine thread while loading (and repacking weights) happens on the main one, and OpenMP keeps a
# spinning team per calling thread, so two teams fight over the cores. Measured on 16 cores, Q8_0
# TinyLlama through HTTP: 19.5 tok/s with OpenMP, 64.5 without (one stream); 76 and 299 (eight).
set(GGML_OPENMP OFF CACHE BOOL "" FORCE)
# llamafile's tinyBLAS kernels, on as in llama.cpp's own build: about twice the F16 prefill speed and
# much faster batched products. They take products of two or more columns only, so a token's result
# can depend on its batch; `--batch-invariant` keeps it independent at run time (ops::LinearOptions).
option(RBEES_LLAMAFILE "Use llamafile's tinyBLAS CPU kernels" ON)
set(GGML_LLAMAFILE ${RBEES_LLAMAFILE} CACHE BOOL "" FORCE)
if(RBEES_CUDA)
  set(GGML_CUDA_GRAPHS ON CACHE BOOL "" FORCE)
endif()

add_subdirectory(${RBEES_GGML_DIR} ${CMAKE_BINARY_DIR}/ggml EXCLUDE_FROM_ALL)
