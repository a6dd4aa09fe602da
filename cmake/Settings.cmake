# Build switches shared by every target.
option(C4C_WERROR "Treat warnings as errors (development and CI, not for packagers)" OFF)
option(C4C_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(C4C_SANITIZE_THREAD "Build with ThreadSanitizer" OFF)
option(C4C_BUILD_BENCH "Build the benchmarks under bench/" ON)

if(C4C_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(C4C_SANITIZE_THREAD)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# libFuzzer targets (tests/fuzz): every library is instrumented for coverage and built with ASan and
# UBSan; only the fuzz targets link libFuzzer's main (tests/fuzz/CMakeLists.txt). Clang only.
option(C4C_FUZZ "Build the libFuzzer targets of tests/fuzz (and only what they link); needs clang" OFF)
if(C4C_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "C4C_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: "
                        "configure with CC=clang CXX=clang++ (Debian packages clang, libclang-rt-14-dev)")
  endif()
  if(C4C_SANITIZE_THREAD)
    message(FATAL_ERROR "C4C_FUZZ and C4C_SANITIZE_THREAD cannot be combined")
  endif()
  # Any UBSan report stops the run, so the fuzzer keeps the input that caused it. UBSan's `function`
  # check makes clang 14 fail on coroutines ("Cannot represent a difference across sections",
  # llvm/llvm-project#49689); it only checks calls through mistyped function pointers.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function
                      -fno-sanitize-recover=all -fno-omit-frame-pointer)
endif()

find_program(C4C_CCACHE ccache)
if(C4C_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${C4C_CCACHE}")
endif()


# Copies of ../shared/samples (real-shaped C4C and Cloud ALM payloads) used by parser tests.
set(C4C_SAMPLES_DIR "${CMAKE_CURRENT_SOURCE_DIR}/tests/samples")

# Asio/Beast, JSON and logging headers dominate compile time: one precompiled header per target.
option(C4C_PCH "Use precompiled headers" ON)
function(c4c_use_pch target)
  if(C4C_PCH)
    target_precompile_headers(${target} PRIVATE
      <boost/asio/awaitable.hpp> <boost/asio/co_spawn.hpp> <boost/asio/steady_timer.hpp>
      <boost/asio/use_awaitable.hpp> <boost/asio/as_tuple.hpp> <boost/asio/ip/tcp.hpp>
      <boost/asio/ssl.hpp> <boost/beast/core.hpp> <boost/beast/http.hpp> <boost/beast/ssl.hpp>
      <nlohmann/json.hpp> <spdlog/spdlog.h> <string> <vector> <map> <memory> <chrono>)
  endif()
endfunction()
