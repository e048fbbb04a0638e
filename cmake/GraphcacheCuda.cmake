# GRAPHCACHE_CUDA (ON / OFF / AUTO): whether the CUDA weight fingerprint is built. AUTO builds it when
# a CUDA compiler is found. Languages must be enabled at the top level (the tests and benchmarks link
# CUDA objects), so this file is included from the top-level CMakeLists.txt. Sets GRAPHCACHE_HAVE_CUDA.
string(TOUPPER "${GRAPHCACHE_CUDA}" _graphcache_cuda_mode)
set(GRAPHCACHE_HAVE_CUDA OFF)
if(NOT _graphcache_cuda_mode STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Hopper (H100/H200): sm_90 machine code plus compute_90 PTX for newer GPUs.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(GRAPHCACHE_HAVE_CUDA ON)
  elseif(_graphcache_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "GRAPHCACHE_CUDA=ON but no CUDA compiler was found (set CMAKE_CUDA_COMPILER)")
  endif()
endif()
message(STATUS "graphcache: CUDA weight fingerprint ${GRAPHCACHE_HAVE_CUDA}")
