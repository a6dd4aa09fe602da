#include "infra/secrets.hpp"

#include "infra/bounded_file.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <system_error>

namespace c4c::infra {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t k_max_secret_file_bytes = std::size_t{64} * 1024;

bool is_env_name(std::string_view text)
{
    const auto word_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    };
    return !text.empty() && !(text.front() >= '0' && text.front() <= '9') &&
           std::all_of(text.begin(), text.end(), word_char);
}

/// `${NAME}` -> NAME; anything else is an inline value.
std::optional<std::string_view> env_reference(std::string_view value)
{
    if (value.size() < 4 || !value.starts_with("${") || !value.ends_with('}')) {
        return std::nullopt;
    }
    const auto name = value.substr(2, value.size() - 3);
    return is_env_name(name) ? std::optional(name) : std::nullopt;
}

/// systemd's LoadCredential= directory first, then beside the configuration file.
fs::path credential_path(const std::string& name, const fs::path& config_dir)
{
    const fs::path path(name);
    if (path.is_absolute()) {
        return path.lexically_normal();
    }
    if (const char* credentials = std::getenv("CREDENTIALS_DIRECTORY"); credentials && *credentials) {
        auto candidate = (fs::path(credentials) / path).lexically_normal();
        std::error_code ignored;
        if (fs::exists(candidate, ignored)) {
            return candidate;
        }
    }
    return (config_dir / path).lexically_normal();
}

}  // namespace

SecretLookup resolve_inline_secret(const std::string& value)
{
    const auto env = env_reference(value);
    if (!env) {
        if (value.empty()) {
            return {{}, "the secret is empty"};
        }
        return {Secret(value), {}};
    }
    const std::string name(*env);
    const char* env_value = std::getenv(name.c_str());
    if (env_value == nullptr) {
        return {{}, "environment variable " + name + " is not set"};
    }
    if (*env_value == '\0') {
        return {{}, "environment variable " + name + " is empty"};
    }
    return {Secret(env_value), {}};
}

SecretLookup read_secret_file(const std::string& name, const fs::path& config_dir)
{
    if (name.empty()) {
        return {{}, "must name a file"};
    }
    const auto path = credential_path(name, config_dir);
    auto file = read_bounded_file(path, k_max_secret_file_bytes);
    if (!file.content) {
        return {{}, "cannot read " + path.string() + ": " + file.error};
    }
    auto& text = *file.content;
    if (text.ends_with("\r\n")) {
        text.resize(text.size() - 2);
    } else if (text.ends_with('\n')) {
        text.pop_back();
    }
    if (text.empty()) {
        return {{}, path.string() + " is empty"};
    }
    return {Secret(std::move(text)), {}};
}

}  // namespace c4c::infra
