#include "infra/config_reader.hpp"

#include "infra/bounded_file.hpp"

#include <boost/url/parse.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <charconv>
#include <memory>
#include <system_error>
#include <tuple>

namespace c4c::infra {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t k_max_config_file_bytes = std::size_t{64} << 20;
constexpr std::size_t k_max_ca_file_bytes = std::size_t{16} << 20;

bool is_port(std::string_view text)
{
    unsigned port = 0;
    const auto* end = text.data() + text.size();
    const auto [last, ec] = std::from_chars(text.data(), end, port);
    return !text.empty() && text.size() <= 5 && ec == std::errc{} && last == end && port <= 65535;
}

/// Problems with an http(s) URL, or "" when it is usable. Never quotes the URL: it may carry a token.
std::string check_url(const std::string& text, checks::QueryRule query)
{
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
    if (query == checks::QueryRule::forbidden && url.has_query()) {
        return "the URL must not have a query (?...)";
    }
    if (url.has_fragment()) {
        return "the URL must not have a fragment (#...)";
    }
    return {};
}

bool holds_pem_certificate(const std::string& content)
{
    const std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())),
                                                  &BIO_free);
    const std::unique_ptr<X509, void (*)(X509*)> cert(
        bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
    ERR_clear_error();
    return cert != nullptr;
}

}  // namespace

std::string ConfigError::format() const
{
    if (line == 0) {
        return file + ": " + message;
    }
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::optional<Duration> ValueKind<Duration>::from(const toml::node& node)
{
    const auto* text = node.as_string();
    return text ? parse_duration(text->get()) : std::nullopt;
}

std::optional<std::size_t> ValueKind<Size>::from(const toml::node& node)
{
    if (const auto* number = node.as_integer()) {
        return number->get() >= 0 ? std::optional(static_cast<std::size_t>(number->get())) : std::nullopt;
    }
    const auto* text = node.as_string();
    return text ? parse_size(text->get()) : std::nullopt;
}

std::optional<std::vector<std::string>> ValueKind<std::vector<std::string>>::from(const toml::node& node)
{
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

namespace checks {

bool is_word(std::string_view text)
{
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::string positive(Duration value)
{
    return value > Duration::zero() ? std::string() : "must be greater than 0";
}

std::string not_empty(const std::string& value)
{
    return value.empty() ? "must not be empty" : std::string();
}

std::string word(const std::string& value)
{
    return is_word(value) ? std::string() : "must be non-empty and use only [A-Za-z0-9_]";
}

std::function<std::string(std::int64_t)> in_range(std::int64_t min, std::int64_t max)
{
    return [=](std::int64_t value) {
        return min <= value && value <= max ? std::string()
                                            : "must be between " + std::to_string(min) + " and " + std::to_string(max);
    };
}

std::function<std::string(std::size_t)> at_least(std::size_t min_bytes)
{
    return [=](std::size_t bytes) {
        return bytes >= min_bytes ? std::string() : "must be at least " + std::to_string(min_bytes) + " bytes";
    };
}

std::function<std::string(const std::string&)> one_of(std::initializer_list<std::string_view> choices,
                                                      std::string description)
{
    return [choices = std::vector(choices), description = std::move(description)](const std::string& value) {
        return std::find(choices.begin(), choices.end(), value) != choices.end() ? std::string() : description;
    };
}

std::string listen_address(const std::string& text)
{
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

std::function<std::string(const std::string&)> http_url(QueryRule query)
{
    return [=](const std::string& text) { return check_url(text, query); };
}

}  // namespace checks

ConfigReader::ConfigReader(fs::path file)
    : m_file(std::move(file)), m_dir(fs::absolute(m_file).parent_path().lexically_normal())
{}

fs::path ConfigReader::resolve(const fs::path& path) const
{
    return (path.is_absolute() ? path : m_dir / path).lexically_normal();
}

std::optional<toml::table> ConfigReader::parse(std::string_view text)
{
    try {
        return toml::parse(text, m_file.string());
    } catch (const toml::parse_error& error) {
        report(error.source().begin, std::string(error.description()));
        return std::nullopt;
    }
}

std::vector<ConfigError> ConfigReader::take_errors()
{
    // Reading follows the schema, not the file; a reader of `--check` wants file order.
    std::stable_sort(m_errors.begin(), m_errors.end(), [](const ConfigError& a, const ConfigError& b) {
        return std::tuple(a.line == 0, a.line, a.column) < std::tuple(b.line == 0, b.line, b.column);
    });
    return std::move(m_errors);
}

void ConfigReader::report(const toml::source_position& where, std::string message)
{
    m_errors.push_back(
        {m_file.string(), static_cast<int>(where.line), static_cast<int>(where.column), std::move(message)});
}

void ConfigReader::fail(const ConfigSection& section, std::string_view key, const toml::node& node,
                        std::string_view what)
{
    report(node.source().begin, section.key_path(key) + ": " + std::string(what) + section.note);
}

void ConfigReader::fail(const ConfigSection& section, std::string_view what)
{
    if (section.path.empty()) {
        report({}, std::string(what));
    } else {
        report(section.table.source().begin, section.path + ": " + std::string(what) + section.note);
    }
}

void ConfigReader::require(ConfigSection& section, std::initializer_list<std::string_view> keys)
{
    for (const auto key : keys) {
        if (!section.has(key)) {
            fail(section, "missing required key '" + std::string(key) + "'");
        }
    }
}

std::optional<ConfigSection> ConfigReader::table(ConfigSection& parent, std::string_view key)
{
    parent.seen.emplace(key);
    const auto* node = parent.table.get(key);
    if (node == nullptr) {
        return std::nullopt;
    }
    if (const auto* sub = node->as_table()) {
        return ConfigSection{*sub, parent.key_path(key), parent.note, {}};
    }
    fail(parent, key, *node, "expected a table");
    return std::nullopt;
}

void ConfigReader::finish(const ConfigSection& section, std::string_view note)
{
    const auto prefix = section.path.empty() ? std::string() : section.path + ": ";
    for (const auto& [key, node] : section.table) {
        if (!section.seen.contains(key.str())) {
            report(key.source().begin,
                   prefix + "unknown key '" + std::string(key.str()) + "'" + std::string(note) + section.note);
        }
    }
}

void ConfigReader::reject(ConfigSection& section, std::span<const std::string_view> keys, const std::string& why)
{
    for (const auto key : keys) {
        if (!section.seen.contains(key) && section.has(key)) {
            section.seen.emplace(key);
            fail(section, key, *section.table.get(key), why);
        }
    }
}

void ConfigReader::read_secret(ConfigSection& section, std::string_view key, Secret& out)
{
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
    const auto& field = inline_field ? inline_field : file_field;
    if (!field || !m_read_credentials) {
        return;
    }
    auto lookup = inline_field ? resolve_inline_secret(field->value) : read_secret_file(field->value, m_dir);
    if (!lookup.error.empty()) {
        fail(section, inline_field ? key : std::string_view(file_key), *field->node, lookup.error);
        return;
    }
    out = std::move(lookup.secret);
}

void ConfigReader::read_ca_file(ConfigSection& section, std::string& out)
{
    const auto field = get<std::string>(section, "ca_file");
    if (!field || field->value.empty() || !m_read_credentials) {
        return;
    }
    const auto path = resolve(field->value);
    const auto file = read_bounded_file(path, k_max_ca_file_bytes);
    if (!file.content) {
        fail(section, "ca_file", *field->node, "cannot read " + path.string() + ": " + file.error);
    } else if (!holds_pem_certificate(*file.content)) {
        fail(section, "ca_file", *field->node, path.string() + " holds no PEM certificate");
    } else {
        out = path.string();
    }
}

std::optional<std::string> read_config_file(const fs::path& file, std::vector<ConfigError>& errors)
{
    auto text = read_bounded_file(file, k_max_config_file_bytes);
    if (!text.content) {
        errors.push_back({file.string(), 0, 0, "cannot read the configuration: " + text.error});
    }
    return std::move(text.content);
}

}  // namespace c4c::infra
