#pragma once

// Wall-clock bounds in unit tests that also run under sanitizers on a busy machine. A lower bound (a
// deadline did not fire early) always holds and is always checked. An upper bound (it did not fire
// much late) is checked only without sanitizers: ASan and TSan builds run several times slower, and
// there the order of events and the counts must carry the test.

namespace unit_tests {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool k_sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool k_sanitized = true;
#else
inline constexpr bool k_sanitized = false;
#endif
#else
inline constexpr bool k_sanitized = false;
#endif

}  // namespace unit_tests
