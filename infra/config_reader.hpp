#pragma once

// Reading a TOML configuration into plain structs, keeping the file, line and column of every problem
// (`FILE:LINE:COLUMN: message`, CONTRACT.md section 2). It knows no key of its own: the daemon reads the
// top level and the tenants with it, each collector kind its source's keys, each exporter kind its
// endpoint's. Reading goes on after a problem, so that `--check` reports every problem at once, in file
// order; a key that nothing read is reported as unknown. Never puts a secret's value into a message.

#include "infra/config_error.hpp"
#include "infra/secrets.hpp"
#include "infra/units.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace c4c::infra {

/// Tag for a size given either as an integer number of bytes or as a string such as "4MiB".
struct Size {};

/// How a TOML node becomes a `ValueKind<T>::value_type`, and what to say when it does not.
template <class T>
struct ValueKind;

template <>
struct ValueKind<bool> {
    using value_type = bool;
    static constexpr std::string_view k_expected = "a boolean (true or false)";
    static std::optional<bool> from(const toml::node& node) { return node.value_exact<bool>(); }
};

template <>
struct ValueKind<std::string> {
    using value_type = std::string;
    static constexpr std::string_view k_expected = "a string";
    static std::optional<std::string> from(const toml::node& node) { return node.value_exact<std::string>(); }
};

template <>
struct ValueKind<std::int64_t> {
    using value_type = std::int64_t;
    static constexpr std::string_view k_expected = "an integer";
    static std::optional<std::int64_t> from(const toml::node& node) { return node.value_exact<std::int64_t>(); }
};

template <>
struct ValueKind<Duration> {
    using value_type = Duration;
    static constexpr std::string_view k_expected = "a duration string such as \"30s\"";
    static std::optional<Duration> from(const toml::node& node);
};

template <>
struct ValueKind<Size> {
    using value_type = std::size_t;
    static constexpr std::string_view k_expected = "a size such as \"4MiB\" or a number of bytes";
    static std::optional<std::size_t> from(const toml::node& node);
};

template <>
struct ValueKind<std::vector<std::string>> {
    using value_type = std::vector<std::string>;
    static constexpr std::string_view k_expected = "an array of strings";
    static std::optional<std::vector<std::string>> from(const toml::node& node);
};

/// A value read from the file, with the node it came from (for the position of later complaints).
template <class T>
struct Field {
    T value;
    const toml::node* node;
};

/// Checks for ConfigReader::read: each takes a value and returns "" when it is acceptable, otherwise
/// what is wrong with it (never quoting it).
namespace checks {

struct AcceptAll {
    template <class T>
    std::string operator()(const T&) const
    {
        return {};
    }
};

/// Non-empty and only [A-Za-z0-9_].
bool is_word(std::string_view text);

std::string positive(Duration value);
std::string not_empty(const std::string& value);
std::string word(const std::string& value);
std::function<std::string(std::int64_t)> in_range(std::int64_t min, std::int64_t max);
std::function<std::string(std::size_t)> at_least(std::size_t min_bytes);
/// `description` is the whole message, e.g. "must be text or json".
std::function<std::string(const std::string&)> one_of(std::initializer_list<std::string_view> choices,
                                                      std::string description);
/// `host:port` or `[v6]:port`, for a listening socket.
std::string listen_address(const std::string& text);

enum class QueryRule { forbidden, allowed };
/// An absolute http:// or https:// URL without credentials or fragment.
std::function<std::string(const std::string&)> http_url(QueryRule query);

}  // namespace checks

/// One TOML table being read: its dotted path for messages, and the keys consumed so far so that
/// whatever is left over can be reported as unknown.
struct ConfigSection {
    const toml::table& table;
    std::string path;  ///< "tenants[0].c4c"; empty for the top level
    std::string note;  ///< appended to every message about the section and its sub-tables: " (tenant t1)"
    std::set<std::string, std::less<>> seen;

    std::string key_path(std::string_view key) const
    {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }
    bool has(std::string_view key) const { return table.contains(key); }
};

/// Reads one configuration file and collects its problems. Not thread-safe; one per load.
class ConfigReader {
public:
    /// `file` names the configuration in messages; its directory is the base of relative paths.
    explicit ConfigReader(std::filesystem::path file);

    /// false: read_secret and read_ca_file check the keys' presence but leave the values unread (secrets
    /// empty, CA files unchecked), for commands that need the tenants and state_dir only and run where
    /// systemd's credentials are not ($CREDENTIALS_DIRECTORY).
    void read_credentials(bool read) { m_read_credentials = read; }

    const std::filesystem::path& file() const { return m_file; }
    /// `path` made absolute against the configuration file's directory.
    std::filesystem::path resolve(const std::filesystem::path& path) const;

    /// The TOML document; nullopt after reporting the syntax error.
    std::optional<toml::table> parse(std::string_view text);

    /// Every problem reported so far, in file order (those without a position last).
    std::vector<ConfigError> take_errors();
    bool failed() const { return !m_errors.empty(); }

    /// A problem at `where`, as it stands.
    void report(const toml::source_position& where, std::string message);
    /// A complaint about one key's value, at the value.
    void fail(const ConfigSection& section, std::string_view key, const toml::node& node, std::string_view what);
    /// A complaint about a table as a whole, at its header (without a position for the top level).
    void fail(const ConfigSection& section, std::string_view what);

    /// The value of `key` as a `ValueKind<K>`; nullopt when absent, or (after reporting) of the wrong type
    /// or, for a duration, longer than k_max_duration.
    template <class K>
    std::optional<Field<typename ValueKind<K>::value_type>> get(ConfigSection& section, std::string_view key)
    {
        section.seen.emplace(key);
        const auto* node = section.table.get(key);
        if (node == nullptr) {
            return std::nullopt;
        }
        if (auto value = ValueKind<K>::from(*node)) {
            if constexpr (std::is_same_v<K, Duration>) {
                if (*value > k_max_duration) {
                    fail(section, key, *node, "must be at most 3650d (ten years)");
                    return std::nullopt;
                }
            }
            return Field<typename ValueKind<K>::value_type>{std::move(*value), node};
        }
        fail(section, key, *node, "expected " + std::string(ValueKind<K>::k_expected));
        return std::nullopt;
    }

    /// Stores `key` into `out` when it is present, a `ValueKind<K>` (K defaults to the type of `out`) and
    /// passes `check`. Returns what was stored, with its node.
    template <class K = void, class Out, class CheckFn = checks::AcceptAll>
    auto read(ConfigSection& section, std::string_view key, Out& out, CheckFn check = {})
    {
        using KindTag = std::conditional_t<std::is_void_v<K>, Out, K>;
        auto field = get<KindTag>(section, key);
        if (field) {
            if (const auto problem = check(field->value); !problem.empty()) {
                fail(section, key, *field->node, problem);
                field.reset();
            } else {
                out = static_cast<Out>(field->value);
            }
        }
        return field;
    }

    /// Reports each of `keys` that the section lacks, at its header.
    void require(ConfigSection& section, std::initializer_list<std::string_view> keys);

    /// A sub-table; nullopt (after reporting) when `key` is something else, or absent.
    std::optional<ConfigSection> table(ConfigSection& parent, std::string_view key);

    /// Reports every key of the section that nothing read, with `note` after the key's name.
    void finish(const ConfigSection& section, std::string_view note = {});

    /// Reports keys that are present but do not apply here (`why`), so that they are not called unknown.
    void reject(ConfigSection& section, std::span<const std::string_view> keys, const std::string& why);

    /// `key` (inline or "${ENV}") or `key_file`: exactly one of them is required (secrets.hpp).
    void read_secret(ConfigSection& section, std::string_view key, Secret& out);

    /// Optional `ca_file`: a readable PEM certificate, stored as an absolute path.
    void read_ca_file(ConfigSection& section, std::string& out);

private:
    std::filesystem::path m_file;
    std::filesystem::path m_dir;
    bool m_read_credentials = true;
    std::vector<ConfigError> m_errors;
};

/// Reads the configuration `text` into a T: `read(reader, root)` returns the T, reporting its problems
/// through `reader`; it is kept only when nothing was reported. `file` names the configuration in
/// messages and is the base of relative paths, but is not read. Never throws: an exception becomes one
/// error without a position.
template <class T, class ReadFn>
ConfigLoad<T> read_config_text(std::string_view text, const std::filesystem::path& file, ReadFn read,
                               bool read_credentials = true)
{
    try {
        ConfigReader reader(file);
        reader.read_credentials(read_credentials);
        ConfigLoad<T> result;
        if (auto root = reader.parse(text)) {
            T config = read(reader, *root);
            if (!reader.failed()) {
                result.config = std::move(config);
            }
        }
        result.errors = reader.take_errors();
        return result;
    } catch (const std::exception& error) {
        return {std::nullopt, {{file.string(), 0, 0, std::string("cannot load the configuration: ") + error.what()}}};
    } catch (...) {
        return {std::nullopt, {{file.string(), 0, 0, "cannot load the configuration"}}};
    }
}

/// The text of the configuration file (at most 64 MiB), or the one error that says why it cannot be read.
std::optional<std::string> read_config_file(const std::filesystem::path& file, std::vector<ConfigError>& errors);

}  // namespace c4c::infra
