#include "infra/config.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <span>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include <boost/url/parse.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <toml++/toml.h>

namespace c4c::infra {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::size_t k_max_config_file_bytes = std::size_t{64} << 20;
constexpr std::size_t k_max_secret_file_bytes = 64 * 1024;
constexpr std::size_t k_max_ca_file_bytes = 16 * 1024 * 1024;

/// Each source, the use case it feeds and its defaults.
struct SourceSpec {
    const char* name;
    const char* use_case;
    Duration interval;
    int page_size;
    Duration lookback;
    Duration overlap;
};

constexpr std::array k_sources{
    SourceSpec{k_source_webservice_messages, k_use_case_integration, 60s, 500, 24h, 2min},
    SourceSpec{k_source_response_time_analysis, k_use_case_real_user, 5min, 1000, 1h, 10min},
    SourceSpec{k_source_business_objects, k_use_case_business_process, 60s, 1000, 24h, 2min},
};

constexpr std::array k_use_cases{k_use_case_integration, k_use_case_real_user, k_use_case_business_process,
                                 k_use_case_health};

constexpr std::array<std::string_view, 3> k_basic_keys{"user", "password", "password_file"};
constexpr std::array<std::string_view, 4> k_oauth2_keys{"token_url", "client_id", "client_secret",
                                                        "client_secret_file"};
constexpr std::array<std::string_view, 1> k_health_keys{"interval"};

const SourceSpec* find_source(std::string_view name) {
    const auto* it =
        std::find_if(k_sources.begin(), k_sources.end(), [&](const SourceSpec& spec) { return name == spec.name; });
    return it == k_sources.end() ? nullptr : it;
}

bool is_word(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

bool is_tenant_name(std::string_view text) {
    return !text.empty() && text.size() <= 63 && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

bool is_env_name(std::string_view text) {
    return is_word(text) && !(text.front() >= '0' && text.front() <= '9');
}

/// `${NAME}` -> NAME; anything else is an inline value.
std::optional<std::string_view> env_reference(std::string_view value) {
    if (value.size() < 4 || !value.starts_with("${") || !value.ends_with('}')) {
        return std::nullopt;
    }
    const auto name = value.substr(2, value.size() - 3);
    return is_env_name(name) ? std::optional(name) : std::nullopt;
}

bool is_port(std::string_view text) {
    unsigned port = 0;
    const auto* end = text.data() + text.size();
    const auto [last, ec] = std::from_chars(text.data(), end, port);
    return !text.empty() && text.size() <= 5 && ec == std::errc{} && last == end && port <= 65535;
}

/// Problems with `host:port` / `[v6]:port`, or "" when it is usable.
std::string check_listen(const std::string& text) {
    std::string_view host;
    std::string_view port;
    const std::string_view view(text);
    if (view.starts_with('[')) {
        const auto close = view.find(']');
        if (close == std::string_view::npos || close + 1 >= view.size() || view[close + 1] != ':') {
            return "expected \"[ipv6]:port\", such as \"[::1]:9479\"";
        }
        host = view.substr(1, close - 1);
        port = view.substr(close + 2);
    } else {
        const auto colon = view.rfind(':');
        if (colon == std::string_view::npos) {
            return "expected \"host:port\", such as \"127.0.0.1:9479\"";
        }
        host = view.substr(0, colon);
        port = view.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            return "an IPv6 address needs brackets, such as \"[::1]:9479\"";
        }
    }
    if (host.empty()) {
        return "the host is empty; use \"0.0.0.0:PORT\" to listen on every address";
    }
    if (!is_port(port)) {
        return "the port must be a number from 0 to 65535";
    }
    return {};
}

enum class QueryRule { forbidden, allowed };

/// Problems with an http(s) URL, or "" when it is usable. Never quotes the URL: it may carry a token.
std::string check_url(const std::string& text, QueryRule query) {
    const auto parsed = boost::urls::parse_uri(text);
    if (!parsed) {
        return "not a valid absolute URL";
    }
    const auto& url = *parsed;
    if (url.scheme_id() != boost::urls::scheme::http && url.scheme_id() != boost::urls::scheme::https) {
        return "the scheme must be http:// or https://";
    }
    if (!url.has_authority() || url.encoded_host().empty()) {
        return "the URL has no host";
    }
    if (url.has_userinfo()) {
        return "credentials do not belong in the URL; use the user/password keys";
    }
    if (url.has_port() && (!is_port(url.port()) || url.port_number() == 0)) {
        return "the port must be a number from 1 to 65535";
    }
    if (query == QueryRule::forbidden && url.has_query()) {
        return "the URL must not have a query (?...)";
    }
    if (url.has_fragment()) {
        return "the URL must not have a fragment (#...)";
    }
    return {};
}

struct FileContent {
    std::optional<std::string> content;
    std::string error;  ///< strerror-style reason when `content` is empty
};

FileContent read_file(const fs::path& path, std::size_t limit) {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) {
        return {std::nullopt, std::strerror(errno)};
    }
    std::string content;
    std::array<char, 4096> buffer{};
    while (const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get())) {
        content.append(buffer.data(), n);
        if (content.size() > limit) {
            return {std::nullopt, "larger than " + std::to_string(limit) + " bytes"};
        }
    }
    if (std::ferror(file.get())) {
        return {std::nullopt, std::strerror(errno)};
    }
    return {std::move(content), {}};
}

bool holds_pem_certificate(const std::string& content) {
    const std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())),
                                                  &BIO_free);
    const std::unique_ptr<X509, void (*)(X509*)> cert(
        bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
    ERR_clear_error();
    return cert != nullptr;
}

fs::path absolute_in(const fs::path& dir, const fs::path& path) {
    return (path.is_absolute() ? path : dir / path).lexically_normal();
}

/// Tag for a size given either as an integer number of bytes or as a string such as "4MiB".
struct Size {};

/// How a TOML node becomes a value of `Kind<T>::value_type`, and what to say when it does not.
template <class T>
struct Kind;

template <>
struct Kind<bool> {
    using value_type = bool;
    static constexpr std::string_view expected = "a boolean (true or false)";
    static std::optional<bool> from(const toml::node& node) { return node.value_exact<bool>(); }
};

template <>
struct Kind<std::string> {
    using value_type = std::string;
    static constexpr std::string_view expected = "a string";
    static std::optional<std::string> from(const toml::node& node) { return node.value_exact<std::string>(); }
};

template <>
struct Kind<std::int64_t> {
    using value_type = std::int64_t;
    static constexpr std::string_view expected = "an integer";
    static std::optional<std::int64_t> from(const toml::node& node) { return node.value_exact<std::int64_t>(); }
};

template <>
struct Kind<Duration> {
    using value_type = Duration;
    static constexpr std::string_view expected = "a duration string such as \"30s\"";
    static std::optional<Duration> from(const toml::node& node) {
        const auto* text = node.as_string();
        return text ? parse_duration(text->get()) : std::nullopt;
    }
};

template <>
struct Kind<Size> {
    using value_type = std::size_t;
    static constexpr std::string_view expected = "a size such as \"4MiB\" or a number of bytes";
    static std::optional<std::size_t> from(const toml::node& node) {
        if (const auto* number = node.as_integer()) {
            return number->get() >= 0 ? std::optional(static_cast<std::size_t>(number->get())) : std::nullopt;
        }
        const auto* text = node.as_string();
        return text ? parse_size(text->get()) : std::nullopt;
    }
};

template <>
struct Kind<std::vector<std::string>> {
    using value_type = std::vector<std::string>;
    static constexpr std::string_view expected = "an array of strings";
    static std::optional<std::vector<std::string>> from(const toml::node& node) {
        const auto* array = node.as_array();
        if (array == nullptr) {
            return std::nullopt;
        }
        std::vector<std::string> values;
        for (const auto& element : *array) {
            const auto* text = element.as_string();
            if (text == nullptr) {
                return std::nullopt;
            }
            values.push_back(text->get());
        }
        return values;
    }
};

/// A value read from the file, with the node it came from (for the position of later complaints).
template <class T>
struct Field {
    T value;
    const toml::node* node;
};

// Checks take a value and return "" when it is acceptable, otherwise what is wrong with it.

struct AcceptAll {
    template <class T>
    std::string operator()(const T&) const {
        return {};
    }
};

std::string positive(Duration value) {
    return value > Duration::zero() ? std::string() : "must be greater than 0";
}

std::string not_empty(const std::string& value) {
    return value.empty() ? "must not be empty" : std::string();
}

std::string word(const std::string& value) {
    return is_word(value) ? std::string() : "must be non-empty and use only [A-Za-z0-9_]";
}

auto in_range(std::int64_t min, std::int64_t max) {
    return [=](std::int64_t value) {
        return min <= value && value <= max ? std::string()
                                            : "must be between " + std::to_string(min) + " and " + std::to_string(max);
    };
}

auto at_least(std::size_t min) {
    return [=](std::size_t bytes) {
        return bytes >= min ? std::string() : "must be at least " + std::to_string(min) + " bytes";
    };
}

auto one_of(std::initializer_list<std::string_view> choices, std::string description) {
    return [choices = std::vector(choices), description = std::move(description)](const std::string& value) {
        return std::find(choices.begin(), choices.end(), value) != choices.end() ? std::string() : description;
    };
}

auto http_url(QueryRule query) {
    return [=](const std::string& text) { return check_url(text, query); };
}

/// One TOML table being read: its dotted path for messages, and the keys consumed so far so that
/// whatever is left over can be reported as unknown.
struct Section {
    const toml::table& table;
    std::string path;    ///< "tenants[0].c4c"; empty for the top level
    std::string tenant;  ///< appended to messages once the tenant's name is known
    std::set<std::string, std::less<>> seen;

    std::string key_path(std::string_view key) const {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }
    bool has(std::string_view key) const { return table.contains(key); }
};

class Loader {
public:
    Loader(fs::path file, const LoadOptions& options)
        : m_file(std::move(file)), m_dir(fs::absolute(m_file).parent_path().lexically_normal()), m_options(options) {}

    LoadResult load(std::string_view text) {
        LoadResult result;
        if (auto root = parse(text)) {
            Config config;
            config.file = m_file;
            read_top_level(*root, config);
            if (m_errors.empty()) {
                result.config = std::move(config);
            }
        }
        // Reading follows the schema, not the file; a reader of `--check` wants file order.
        std::stable_sort(m_errors.begin(), m_errors.end(), [](const ConfigError& a, const ConfigError& b) {
            return std::tuple(a.line == 0, a.line, a.column) < std::tuple(b.line == 0, b.line, b.column);
        });
        result.errors = std::move(m_errors);
        return result;
    }

private:
    std::optional<toml::table> parse(std::string_view text) {
        try {
            return toml::parse(text, m_file.string());
        } catch (const toml::parse_error& error) {
            report(error.source().begin, std::string(error.description()));
            return std::nullopt;
        }
    }

    void report(const toml::source_position& where, std::string message) {
        m_errors.push_back(
            {m_file.string(), static_cast<int>(where.line), static_cast<int>(where.column), std::move(message)});
    }

    static std::string suffix(const Section& section) {
        return section.tenant.empty() ? std::string() : " (tenant " + section.tenant + ")";
    }

    /// A complaint about one key's value, at the value.
    void fail(const Section& section, std::string_view key, const toml::node& node, std::string_view what) {
        report(node.source().begin, section.key_path(key) + ": " + std::string(what) + suffix(section));
    }

    /// A complaint about a table as a whole, at its header.
    void fail(const Section& section, std::string_view what) {
        if (section.path.empty()) {
            report({}, std::string(what));
        } else {
            report(section.table.source().begin, section.path + ": " + std::string(what) + suffix(section));
        }
    }

    /// The value of `key` as a `Kind<K>`; nullopt when absent, or (after reporting) of the wrong type.
    template <class K>
    std::optional<Field<typename Kind<K>::value_type>> get(Section& section, std::string_view key) {
        section.seen.emplace(key);
        const auto* node = section.table.get(key);
        if (node == nullptr) {
            return std::nullopt;
        }
        if (auto value = Kind<K>::from(*node)) {
            return Field<typename Kind<K>::value_type>{std::move(*value), node};
        }
        fail(section, key, *node, "expected " + std::string(Kind<K>::expected));
        return std::nullopt;
    }

    /// Stores `key` into `out` when it is present, a `Kind<K>` (K defaults to the type of `out`) and
    /// passes `check`. Returns what was stored, with its node.
    template <class K = void, class Out, class CheckFn = AcceptAll>
    auto read(Section& section, std::string_view key, Out& out, CheckFn check = {}) {
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

    void require(Section& section, std::initializer_list<std::string_view> keys) {
        for (const auto key : keys) {
            if (!section.has(key)) {
                fail(section, "missing required key '" + std::string(key) + "'");
            }
        }
    }

    /// A sub-table; nullopt (after reporting) when `key` is something else, or absent.
    std::optional<Section> table(Section& parent, std::string_view key) {
        parent.seen.emplace(key);
        const auto* node = parent.table.get(key);
        if (node == nullptr) {
            return std::nullopt;
        }
        if (const auto* sub = node->as_table()) {
            return Section{*sub, parent.key_path(key), parent.tenant, {}};
        }
        fail(parent, key, *node, "expected a table");
        return std::nullopt;
    }

    /// Reports every key of the section that nothing read.
    void finish(const Section& section, std::string_view note = {}) {
        const auto prefix = section.path.empty() ? std::string() : section.path + ": ";
        for (const auto& [key, node] : section.table) {
            if (!section.seen.contains(key.str())) {
                report(key.source().begin,
                       prefix + "unknown key '" + std::string(key.str()) + "'" + std::string(note) + suffix(section));
            }
        }
    }

    /// Reports keys that are present but do not apply here, so that they are not called unknown.
    void reject(Section& section, std::span<const std::string_view> keys, const std::string& why) {
        for (const auto key : keys) {
            if (!section.seen.contains(key) && section.has(key)) {
                section.seen.emplace(key);
                fail(section, key, *section.table.get(key), why);
            }
        }
    }

    /// `key` (inline or "${ENV}") or `key_file`: exactly one of them.
    void read_secret(Section& section, std::string_view key, Secret& out) {
        const auto file_key = std::string(key) + "_file";
        const auto inline_field = get<std::string>(section, key);
        const auto file_field = get<std::string>(section, file_key);
        if (section.has(key) && section.has(file_key)) {
            fail(section, file_key, *section.table.get(file_key),
                 "set either " + std::string(key) + " or " + file_key + ", not both");
            return;
        }
        if (!section.has(key) && !section.has(file_key)) {
            fail(section, "missing required key '" + std::string(key) + "' or '" + file_key + "'");
            return;
        }
        if (!m_options.read_credentials) {
            return;
        }
        if (inline_field) {
            read_inline_secret(section, key, *inline_field, out);
        } else if (file_field) {
            read_secret_file(section, file_key, *file_field, out);
        }
    }

    void read_inline_secret(const Section& section, std::string_view key, const Field<std::string>& field,
                            Secret& out) {
        const auto env = env_reference(field.value);
        if (!env) {
            if (field.value.empty()) {
                fail(section, key, *field.node, "the secret is empty");
                return;
            }
            out = Secret(field.value);
            return;
        }
        const std::string name(*env);
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) {
            fail(section, key, *field.node, "environment variable " + name + " is not set");
        } else if (*value == '\0') {
            fail(section, key, *field.node, "environment variable " + name + " is empty");
        } else {
            out = Secret(value);
        }
    }

    void read_secret_file(const Section& section, std::string_view key, const Field<std::string>& field, Secret& out) {
        if (field.value.empty()) {
            fail(section, key, *field.node, "must name a file");
            return;
        }
        const auto path = credential_path(field.value);
        auto file = read_file(path, k_max_secret_file_bytes);
        if (!file.content) {
            fail(section, key, *field.node, "cannot read " + path.string() + ": " + file.error);
            return;
        }
        auto& text = *file.content;
        if (text.ends_with("\r\n")) {
            text.resize(text.size() - 2);
        } else if (text.ends_with('\n')) {
            text.pop_back();
        }
        if (text.empty()) {
            fail(section, key, *field.node, path.string() + " is empty");
            return;
        }
        out = Secret(std::move(text));
    }

    /// systemd's LoadCredential= directory first, then beside the configuration file.
    fs::path credential_path(const std::string& name) const {
        const fs::path path(name);
        if (path.is_absolute()) {
            return path.lexically_normal();
        }
        if (const char* credentials = std::getenv("CREDENTIALS_DIRECTORY"); credentials && *credentials) {
            auto candidate = absolute_in(fs::path(credentials), path);
            std::error_code ignored;
            if (fs::exists(candidate, ignored)) {
                return candidate;
            }
        }
        return absolute_in(m_dir, path);
    }

    void read_ca_file(Section& section, std::string& out) {
        const auto field = get<std::string>(section, "ca_file");
        if (!field || field->value.empty() || !m_options.read_credentials) {
            return;
        }
        const auto path = absolute_in(m_dir, field->value);
        const auto file = read_file(path, k_max_ca_file_bytes);
        if (!file.content) {
            fail(section, "ca_file", *field->node, "cannot read " + path.string() + ": " + file.error);
        } else if (!holds_pem_certificate(*file.content)) {
            fail(section, "ca_file", *field->node, path.string() + " holds no PEM certificate");
        } else {
            out = path.string();
        }
    }

    void read_top_level(const toml::table& root, Config& config) {
        Section top{root, {}, {}, {}};
        std::string state_dir;
        if (read(top, "state_dir", state_dir, not_empty)) {
            config.state_dir = absolute_in(m_dir, state_dir);
        }
        read(top, "shutdown_timeout", config.shutdown_timeout);
        if (auto http = table(top, "http")) {
            read(*http, "listen", config.http_listen, check_listen);
            finish(*http);
        }
        if (auto log = table(top, "log")) {
            read(*log, "level", config.log_level,
                 one_of({"trace", "debug", "info", "warn", "error"}, "must be one of trace, debug, info, warn, error"));
            read(*log, "format", config.log_format, one_of({"text", "json"}, "must be text or json"));
            finish(*log);
        }
        read_tenants(top, config);
        finish(top);
    }

    void read_tenants(Section& top, Config& config) {
        top.seen.emplace("tenants");
        const auto* node = top.table.get("tenants");
        const auto* tenants = node ? node->as_array() : nullptr;
        if (node == nullptr || (tenants != nullptr && tenants->empty())) {
            fail(top, "at least one [[tenants]] entry is required");
            return;
        }
        if (tenants == nullptr) {
            fail(top, "tenants", *node, "expected an array of tables ([[tenants]])");
            return;
        }
        std::map<std::string, std::string, std::less<>> first_use;  // tenant name -> "tenants[i]"
        for (std::size_t index = 0; index < tenants->size(); ++index) {
            const auto& element = *tenants->get(index);
            const auto path = "tenants[" + std::to_string(index) + "]";
            const auto* tenant_table = element.as_table();
            if (tenant_table == nullptr) {
                report(element.source().begin, path + ": expected a table ([[tenants]])");
                continue;
            }
            Section section{*tenant_table, path, {}, {}};
            TenantConfig tenant;
            require(section, {"name"});
            if (const auto name = read(section, "name", tenant.name, [](const std::string& value) {
                    return is_tenant_name(value) ? std::string() : "must be 1 to 63 characters from [a-z0-9-]";
                })) {
                section.tenant = tenant.name;
                if (const auto [it, inserted] = first_use.emplace(tenant.name, path); !inserted) {
                    fail(section, "name", *name->node,
                         "duplicate tenant name '" + tenant.name + "' (also " + it->second + ")");
                }
            }
            read_tenant(section, tenant);
            config.tenants.push_back(std::move(tenant));
        }
    }

    void read_tenant(Section& section, TenantConfig& tenant) {
        require(section, {"c4c"});
        if (auto c4c = table(section, "c4c")) {
            read_c4c(*c4c, tenant.c4c);
        }
        std::map<std::string, const toml::table*> source_tables;
        if (auto sources = table(section, "sources")) {
            for (const auto& [key, node] : sources->table) {
                const std::string name(key.str());
                const auto* spec = find_source(name);
                if (spec == nullptr) {
                    report(key.source().begin, sources->path + ": unknown source '" + name +
                                                   "' (expected webservice_messages, response_time_analysis or "
                                                   "business_objects)" +
                                                   suffix(*sources));
                } else if (auto source = table(*sources, name)) {
                    source_tables.emplace(name, &source->table);
                    tenant.sources.emplace(name, read_source(*source, *spec));
                }
            }
        }
        if (source_tables.empty()) {
            fail(section, "no source configured; add at least one [tenants.sources.<name>]");
        }
        std::map<std::string, const toml::table*> endpoint_tables;
        if (auto endpoints = table(section, "endpoints")) {
            for (const auto& [key, node] : endpoints->table) {
                const std::string use_case(key.str());
                if (std::find(k_use_cases.begin(), k_use_cases.end(), use_case) == k_use_cases.end()) {
                    report(key.source().begin, endpoints->path + ": unknown endpoint '" + use_case +
                                                   "' (expected integration_monitoring, real_user_monitoring, "
                                                   "business_process_monitoring or health_monitoring)" +
                                                   suffix(*endpoints));
                } else if (auto endpoint = table(*endpoints, use_case)) {
                    endpoint_tables.emplace(use_case, &endpoint->table);
                    tenant.endpoints.emplace(use_case, read_endpoint(*endpoint, use_case));
                }
            }
        }
        check_pairing(section, tenant, source_tables, endpoint_tables);
        finish(section);
    }

    void check_pairing(const Section& tenant_section, const TenantConfig& tenant,
                       const std::map<std::string, const toml::table*>& source_tables,
                       const std::map<std::string, const toml::table*>& endpoint_tables) {
        const auto& path = tenant_section.path;
        for (const auto& spec : k_sources) {
            const auto source = tenant.sources.find(spec.name);
            if (source != tenant.sources.end() && source->second.enabled && !endpoint_tables.contains(spec.use_case)) {
                report(source_tables.at(spec.name)->source().begin,
                       path + ".sources." + spec.name + ": the source is enabled but [tenants.endpoints." +
                           spec.use_case + "] is missing; add it or set enabled = false" + suffix(tenant_section));
            }
            if (const auto endpoint = endpoint_tables.find(spec.use_case);
                endpoint != endpoint_tables.end() && !source_tables.contains(spec.name)) {
                report(endpoint->second->source().begin,
                       path + ".endpoints." + spec.use_case + ": no [tenants.sources." + spec.name +
                           "] feeds this endpoint; add the source or remove the endpoint" + suffix(tenant_section));
            }
        }
    }

    void read_c4c(Section& section, C4cConfig& c4c) {
        require(section, {"url", "user"});
        read(section, "url", c4c.url, http_url(QueryRule::forbidden));
        while (c4c.url.ends_with('/')) {
            c4c.url.pop_back();
        }
        read(section, "user", c4c.user, not_empty);
        read_secret(section, "password", c4c.password);
        read_ca_file(section, c4c.ca_file);
        read(section, "timeout", c4c.timeout, positive);
        read<std::int64_t>(section, "max_connections", c4c.max_connections, in_range(1, 64));
        finish(section);
    }

    SourceConfig read_source(Section& section, const SourceSpec& spec) {
        SourceConfig source;
        source.name = spec.name;
        source.interval = spec.interval;
        source.page_size = spec.page_size;
        source.lookback = spec.lookback;
        source.overlap = spec.overlap;
        read(section, "enabled", source.enabled);
        read(section, "interval", source.interval, positive);
        read<std::int64_t>(section, "page_size", source.page_size, in_range(1, 10000));
        read(section, "lookback", source.lookback, positive);
        read(section, "overlap", source.overlap);
        const std::string_view name = spec.name;
        if (name == k_source_webservice_messages) {
            read(section, "path", source.path, [](const std::string& path) {
                return path.starts_with('/') ? std::string() : "must start with \"/\"";
            });
        } else if (name == k_source_response_time_analysis) {
            read(section, "datasource", source.datasource, word);
            read(section, "pseudonymize_users", source.pseudonymize_users);
        } else if (name == k_source_business_objects) {
            read(section, "service", source.service, word);
            read(section, "collections", source.collections, [](const std::vector<std::string>& collections) {
                if (collections.empty()) {
                    return std::string("must name at least one collection");
                }
                if (!std::all_of(collections.begin(), collections.end(), is_word)) {
                    return std::string("each collection must be non-empty and use only [A-Za-z0-9_]");
                }
                const std::set<std::string_view> unique(collections.begin(), collections.end());
                return unique.size() == collections.size() ? std::string() : "names a collection twice";
            });
        }
        finish(section, " for source " + std::string(name));
        return source;
    }

    EndpointConfig read_endpoint(Section& section, const std::string& use_case) {
        EndpointConfig endpoint;
        endpoint.use_case = use_case;
        require(section, {"url"});
        read(section, "url", endpoint.url, http_url(QueryRule::allowed));
        read_auth(section, endpoint);
        read_ca_file(section, endpoint.ca_file);
        read(section, "timeout", endpoint.timeout, positive);
        read<std::int64_t>(section, "max_batch_events", endpoint.max_batch_events, in_range(1, 100000));
        read<Size>(section, "max_batch_bytes", endpoint.max_batch_bytes, at_least(1024));
        read(section, "gzip", endpoint.gzip);
        read<std::int64_t>(section, "max_outbox_events", endpoint.max_outbox_events,
                           in_range(1, std::numeric_limits<std::int64_t>::max()));
        read<Size>(section, "max_outbox_bytes", endpoint.max_outbox_bytes, at_least(1));
        if (use_case == k_use_case_health) {
            read(section, "interval", endpoint.interval, positive);
        }
        reject(section, k_health_keys, "applies to health_monitoring only");
        finish(section);
        return endpoint;
    }

    void read_auth(Section& section, EndpointConfig& endpoint) {
        std::string auth = "none";
        if (section.has("auth") &&
            !read(section, "auth", auth, one_of({"none", "basic", "oauth2"}, "must be basic, oauth2 or none"))) {
            // Whatever was meant, the credential keys are not unknown: do not pile errors on top.
            section.seen.insert(k_basic_keys.begin(), k_basic_keys.end());
            section.seen.insert(k_oauth2_keys.begin(), k_oauth2_keys.end());
            return;
        }
        if (auth == "basic") {
            endpoint.auth = AuthKind::basic;
            require(section, {"user"});
            read(section, "user", endpoint.user, not_empty);
            read_secret(section, "password", endpoint.password);
        } else if (auth == "oauth2") {
            endpoint.auth = AuthKind::oauth2;
            require(section, {"token_url", "client_id"});
            read(section, "token_url", endpoint.token_url, http_url(QueryRule::allowed));
            read(section, "client_id", endpoint.client_id, not_empty);
            read_secret(section, "client_secret", endpoint.client_secret);
        }
        const auto why = "does not apply to auth = \"" + auth + "\"";
        reject(section, k_basic_keys, why);
        reject(section, k_oauth2_keys, why);
    }

    fs::path m_file;
    fs::path m_dir;
    LoadOptions m_options;
    std::vector<ConfigError> m_errors;
};

}  // namespace

std::string ConfigError::format() const {
    if (line == 0) {
        return file + ": " + message;
    }
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

LoadResult load_config(const std::filesystem::path& file, const LoadOptions& options) {
    const auto text = read_file(file, k_max_config_file_bytes);
    if (!text.content) {
        return {std::nullopt, {{file.string(), 0, 0, "cannot read the configuration: " + text.error}}};
    }
    return load_config_text(*text.content, file, options);
}

LoadResult load_config_text(std::string_view text, const std::filesystem::path& file, const LoadOptions& options) {
    try {
        return Loader(file, options).load(text);
    } catch (const std::exception& error) {
        return {std::nullopt, {{file.string(), 0, 0, std::string("cannot load the configuration: ") + error.what()}}};
    } catch (...) {
        return {std::nullopt, {{file.string(), 0, 0, "cannot load the configuration"}}};
    }
}

std::optional<Duration> parse_duration(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    std::int64_t total = 0;
    while (!text.empty()) {
        if (text.front() < '0' || text.front() > '9') {
            return std::nullopt;
        }
        std::int64_t number = 0;
        const auto [digits_end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
        if (ec != std::errc{}) {
            return std::nullopt;
        }
        text.remove_prefix(static_cast<std::size_t>(digits_end - text.data()));
        const auto unit_end = std::find_if(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
        const std::string_view unit(text.data(), static_cast<std::size_t>(unit_end - text.begin()));
        std::int64_t factor = 0;
        if (unit == "ms") {
            factor = 1;
        } else if (unit == "s") {
            factor = 1000;
        } else if (unit == "m") {
            factor = 60'000;
        } else if (unit == "h") {
            factor = 3'600'000;
        } else if (unit == "d") {
            factor = 86'400'000;
        } else {
            return std::nullopt;
        }
        std::int64_t part = 0;
        if (__builtin_mul_overflow(number, factor, &part) || __builtin_add_overflow(total, part, &total)) {
            return std::nullopt;
        }
        text.remove_prefix(unit.size());
    }
    return Duration(total);
}

std::optional<std::size_t> parse_size(std::string_view text) {
    const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    const auto* begin = text.data();
    const auto* end = text.data() + text.size();
    std::uint64_t whole = 0;
    const auto [whole_end, ec] = std::from_chars(begin, end, whole);
    if (text.empty() || !is_digit(text.front()) || ec != std::errc{}) {
        return std::nullopt;
    }
    std::string_view rest(whole_end, static_cast<std::size_t>(end - whole_end));
    std::uint64_t fraction = 0;
    std::uint64_t fraction_scale = 1;
    if (rest.starts_with('.')) {
        rest.remove_prefix(1);
        std::size_t digits = 0;
        while (digits < rest.size() && is_digit(rest[digits])) {
            fraction = fraction * 10 + static_cast<std::uint64_t>(rest[digits] - '0');
            fraction_scale *= 10;
            if (++digits > 9) {
                return std::nullopt;
            }
        }
        if (digits == 0) {
            return std::nullopt;
        }
        rest.remove_prefix(digits);
    }
    struct Unit {
        std::string_view name;
        std::uint64_t factor;
    };
    constexpr std::array<Unit, 8> units{{{"B", 1},
                                         {"kB", 1000},
                                         {"KB", 1000},
                                         {"MB", 1000 * 1000},
                                         {"GB", 1000 * 1000 * 1000},
                                         {"KiB", 1024},
                                         {"MiB", 1024 * 1024},
                                         {"GiB", 1024 * 1024 * 1024}}};
    std::uint64_t factor = 1;
    if (!rest.empty()) {
        const auto* unit = std::find_if(units.begin(), units.end(), [&](const Unit& u) { return u.name == rest; });
        if (unit == units.end()) {
            return std::nullopt;
        }
        factor = unit->factor;
    }
    // A fraction is fine as long as it names whole bytes ("1.5KiB" yes, "1.5B" no).
    const std::uint64_t fraction_bytes = fraction * factor;
    if (fraction_bytes % fraction_scale != 0) {
        return std::nullopt;
    }
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(whole, factor, &bytes) ||
        __builtin_add_overflow(bytes, fraction_bytes / fraction_scale, &bytes) ||
        bytes > std::numeric_limits<std::size_t>::max()) {
        return std::nullopt;
    }
    return static_cast<std::size_t>(bytes);
}

const char* use_case_of_source(std::string_view source) {
    const auto* spec = find_source(source);
    return spec == nullptr ? "" : spec->use_case;
}

}  // namespace c4c::infra
