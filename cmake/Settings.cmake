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
