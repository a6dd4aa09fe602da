#pragma once

// Credentials in the configuration (CONTRACT.md section 2): inline, "${ENV_NAME}", or a `*_file` whose
// relative path is looked up in $CREDENTIALS_DIRECTORY (systemd LoadCredential=) first, then beside the
// configuration file. A secret's value is never formatted into logs, errors or `--check` output.

#include <filesystem>
#include <string>

namespace c4c::infra {

/// A credential. Its value is never formatted into logs, errors or `--check` output.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string value) : m_value(std::move(value)) {}
    /// The clear text, for building an Authorization header only.
    const std::string& reveal() const { return m_value; }
    bool empty() const { return m_value.empty(); }
    friend bool operator==(const Secret&, const Secret&) = default;

private:
    std::string m_value;
};

/// A resolved secret, or what is wrong with its reference (`error`, never quoting a value).
struct SecretLookup {
    Secret secret;
    std::string error;  ///< empty when `secret` is set
};

/// An inline value, or "${NAME}" (the whole value) naming an environment variable that holds it.
SecretLookup resolve_inline_secret(const std::string& value);

/// The secret in the file `name`: an absolute path, or a relative one looked up in $CREDENTIALS_DIRECTORY
/// first, then in `config_dir`. One trailing line ending is dropped.
SecretLookup read_secret_file(const std::string& name, const std::filesystem::path& config_dir);

}  // namespace c4c::infra
