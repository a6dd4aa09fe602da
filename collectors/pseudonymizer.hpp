#pragma once

// Keyed pseudonyms for C4C user IDs, so that Response Time Analysis events can leave the installation
// without the clear user: "u_" + hex of the first 16 bytes of HMAC-SHA256(key, user). The 32-byte key
// is per installation and lives in `<state_dir>/pseudonymization.key` (mode 0600), created on first
// use from OpenSSL's RAND_bytes and written atomically (temp file, fsync, no-clobber rename, directory
// fsync); a missing state_dir is created with mode 0700 (infra/state_dir.hpp). A dry run writes nothing:
// it uses the stored key when it can read it, else a random key held in memory for that run only. A pseudonym is stable for as long as that file is kept; another key gives other pseudonyms.
// Losing the key only changes future pseudonyms; it must be kept secret like a password, since anyone
// holding it can test guesses of user IDs against pseudonyms.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

namespace c4c::collectors {

struct PseudonymizerError {
    std::string message;  ///< one line naming the key file and what to do
};

/// Only reached through result::value() on an error; throws std::runtime_error with the message.
[[noreturn]] void throw_exception_from_error(const PseudonymizerError& error, const boost::source_location& location);

class Pseudonymizer {
public:
    static constexpr std::size_t k_key_size = 32;
    static constexpr const char* k_key_file = "pseudonymization.key";
    using Key = std::array<unsigned char, k_key_size>;

    /// Loads `<state_dir>/pseudonymization.key`, or creates it (and `state_dir`) when it does not exist.
    /// Errors: the directory or file cannot be created or read, or an existing file is not exactly
    /// 32 bytes (it is never replaced: that would change every pseudonym). Never throws.
    static boost::system::result<Pseudonymizer, PseudonymizerError> open(const std::filesystem::path& state_dir);

    /// For a dry run: the key in `<state_dir>/pseudonymization.key` when that file can be read, else a
    /// random key held in memory only, with `note` saying why (empty when the stored key is used). Creates
    /// and changes nothing on disk (not even a loose file mode). Errors: OpenSSL has no random bytes.
    /// Never throws.
    static boost::system::result<Pseudonymizer, PseudonymizerError>
    open_without_writing(const std::filesystem::path& state_dir, std::string& note);

    /// A pseudonymizer over a given key (tests, tools).
    explicit Pseudonymizer(const Key& key) : m_key(key) {}
    ~Pseudonymizer();
    Pseudonymizer(const Pseudonymizer&) = default;
    Pseudonymizer& operator=(const Pseudonymizer&) = default;

    /// "u_" followed by 32 lower-case hex digits; the same user and key always give the same result.
    std::string pseudonym(std::string_view user) const;

private:
    Key m_key;
};

}  // namespace c4c::collectors
