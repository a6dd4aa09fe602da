// daemon::load_config_text: the TOML configuration with every check of `--check`. The configuration
// "lives" in a directory that does not exist, so relative *_file and ca_file paths read nothing;
// absolute ones are read, so stdin is /dev/null (a "/dev/stdin" secret must not wait for a terminal).

#include "daemon/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    unsetenv("CREDENTIALS_DIRECTORY");
    setenv("C4C_FUZZ_SECRET", "fuzz-secret-value", 1);
    if (std::freopen("/dev/null", "rb", stdin) == nullptr) {
        std::perror("/dev/null");
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace c4c::daemon;
    using c4c::infra::ConfigError;
    const std::string_view text = c4c::fuzz::as_text(data, size);
    const auto result = load_config_text(text, "/nonexistent/c4c-fuzz/collector.toml");
    // "${C4C_FUZZ_SECRET}" resolves to a value that, unless the input holds it, only a leak can show.
    const bool may_show_secret = text.find("fuzz-secret-value") != std::string_view::npos;
    C4C_FUZZ_CHECK(result.config.has_value() == result.errors.empty(), "a config with errors, or neither");
    for (const ConfigError& error : result.errors) {
        C4C_FUZZ_CHECK(!error.message.empty(), "an error without a message");
        C4C_FUZZ_CHECK(error.line >= 0 && error.column >= 0, "a negative position");
        C4C_FUZZ_CHECK(may_show_secret || error.format().find("fuzz-secret-value") == std::string::npos,
                       "a secret in an error");
    }
    if (result.config) {
        C4C_FUZZ_CHECK(!result.config->tenants.empty(), "a valid config without tenants");
    }
    return 0;
}
