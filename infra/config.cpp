#include "infra/config.hpp"

#include "infra/config_reader.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <utility>

namespace c4c::infra {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace checks;

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

const SourceSpec* find_source(std::string_view name)
{
    const auto* it =
        std::find_if(k_sources.begin(), k_sources.end(), [&](const SourceSpec& spec) { return name == spec.name; });
    return it == k_sources.end() ? nullptr : it;
}

bool is_tenant_name(std::string_view text)
{
    return !text.empty() && text.size() <= 63 && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

class Loader {
public:
    explicit Loader(ConfigReader& reader) : m_reader(reader) {}

    Config read(const toml::table& root)
    {
        Config config;
        config.file = m_reader.file();
        read_top_level(root, config);
        return config;
    }

private:
    void read_top_level(const toml::table& root, Config& config)
    {
        ConfigSection top{root, {}, {}, {}};
        std::string state_dir;
        if (m_reader.read(top, "state_dir", state_dir, not_empty)) {
            config.state_dir = m_reader.resolve(state_dir);
        }
        m_reader.read(top, "shutdown_timeout", config.shutdown_timeout);
        if (auto http = m_reader.table(top, "http")) {
            m_reader.read(*http, "listen", config.http_listen, listen_address);
            m_reader.finish(*http);
        }
        if (auto log = m_reader.table(top, "log")) {
            m_reader.read(
                *log, "level", config.log_level,
                one_of({"trace", "debug", "info", "warn", "error"}, "must be one of trace, debug, info, warn, error"));
            m_reader.read(*log, "format", config.log_format, one_of({"text", "json"}, "must be text or json"));
            m_reader.finish(*log);
        }
        read_tenants(top, config);
        m_reader.finish(top);
    }

    void read_tenants(ConfigSection& top, Config& config)
    {
        top.seen.emplace("tenants");
        const auto* node = top.table.get("tenants");
        const auto* tenants = node ? node->as_array() : nullptr;
        if (node == nullptr || (tenants != nullptr && tenants->empty())) {
            m_reader.fail(top, "at least one [[tenants]] entry is required");
            return;
        }
        if (tenants == nullptr) {
            m_reader.fail(top, "tenants", *node, "expected an array of tables ([[tenants]])");
            return;
        }
        std::map<std::string, std::string, std::less<>> first_use;  // tenant name -> "tenants[i]"
        for (std::size_t index = 0; index < tenants->size(); ++index) {
            const auto& element = *tenants->get(index);
            const auto path = "tenants[" + std::to_string(index) + "]";
            const auto* tenant_table = element.as_table();
            if (tenant_table == nullptr) {
                m_reader.report(element.source().begin, path + ": expected a table ([[tenants]])");
                continue;
            }
            ConfigSection section{*tenant_table, path, {}, {}};
            TenantConfig tenant;
            m_reader.require(section, {"name"});
            if (const auto name = m_reader.read(section, "name", tenant.name, [](const std::string& value) {
                    return is_tenant_name(value) ? std::string() : "must be 1 to 63 characters from [a-z0-9-]";
                })) {
                section.note = " (tenant " + tenant.name + ")";
                if (const auto [it, inserted] = first_use.emplace(tenant.name, path); !inserted) {
                    m_reader.fail(section, "name", *name->node,
                                  "duplicate tenant name '" + tenant.name + "' (also " + it->second + ")");
                }
            }
            read_tenant(section, tenant);
            config.tenants.push_back(std::move(tenant));
        }
    }

    void read_tenant(ConfigSection& section, TenantConfig& tenant)
    {
        m_reader.require(section, {"c4c"});
        if (auto c4c = m_reader.table(section, "c4c")) {
            read_c4c(*c4c, tenant.c4c);
        }
        std::map<std::string, const toml::table*> source_tables;
        if (auto sources = m_reader.table(section, "sources")) {
            for (const auto& [key, node] : sources->table) {
                const std::string name(key.str());
                const auto* spec = find_source(name);
                if (spec == nullptr) {
                    m_reader.report(key.source().begin,
                                    sources->path + ": unknown source '" + name +
                                        "' (expected webservice_messages, response_time_analysis or "
                                        "business_objects)" +
                                        sources->note);
                } else if (auto source = m_reader.table(*sources, name)) {
                    source_tables.emplace(name, &source->table);
                    tenant.sources.emplace(name, read_source(*source, *spec));
                }
            }
        }
        if (source_tables.empty()) {
            m_reader.fail(section, "no source configured; add at least one [tenants.sources.<name>]");
        }
        std::map<std::string, const toml::table*> endpoint_tables;
        if (auto endpoints = m_reader.table(section, "endpoints")) {
            for (const auto& [key, node] : endpoints->table) {
                const std::string use_case(key.str());
                if (std::find(k_use_cases.begin(), k_use_cases.end(), use_case) == k_use_cases.end()) {
                    m_reader.report(key.source().begin, endpoints->path + ": unknown endpoint '" + use_case +
                                                            "' (expected integration_monitoring, real_user_monitoring, "
                                                            "business_process_monitoring or health_monitoring)" +
                                                            endpoints->note);
                } else if (auto endpoint = m_reader.table(*endpoints, use_case)) {
                    endpoint_tables.emplace(use_case, &endpoint->table);
                    tenant.endpoints.emplace(use_case, read_endpoint(*endpoint, use_case));
                }
            }
        }
        check_pairing(section, tenant, source_tables, endpoint_tables);
        m_reader.finish(section);
    }

    void check_pairing(const ConfigSection& tenant_section, const TenantConfig& tenant,
                       const std::map<std::string, const toml::table*>& source_tables,
                       const std::map<std::string, const toml::table*>& endpoint_tables)
    {
        const auto& path = tenant_section.path;
        for (const auto& spec : k_sources) {
            const auto source = tenant.sources.find(spec.name);
            if (source != tenant.sources.end() && source->second.enabled && !endpoint_tables.contains(spec.use_case)) {
                m_reader.report(source_tables.at(spec.name)->source().begin,
                                path + ".sources." + spec.name + ": the source is enabled but [tenants.endpoints." +
                                    spec.use_case + "] is missing; add it or set enabled = false" +
                                    tenant_section.note);
            }
            if (const auto endpoint = endpoint_tables.find(spec.use_case);
                endpoint != endpoint_tables.end() && !source_tables.contains(spec.name)) {
                m_reader.report(endpoint->second->source().begin,
                                path + ".endpoints." + spec.use_case + ": no [tenants.sources." + spec.name +
                                    "] feeds this endpoint; add the source or remove the endpoint" +
                                    tenant_section.note);
            }
        }
    }

    void read_c4c(ConfigSection& section, C4cConfig& c4c)
    {
        m_reader.require(section, {"url", "user"});
        m_reader.read(section, "url", c4c.url, http_url(QueryRule::forbidden));
        while (c4c.url.ends_with('/')) {
            c4c.url.pop_back();
        }
        m_reader.read(section, "user", c4c.user, not_empty);
        m_reader.read_secret(section, "password", c4c.password);
        m_reader.read_ca_file(section, c4c.ca_file);
        m_reader.read(section, "timeout", c4c.timeout, positive);
        m_reader.read<std::int64_t>(section, "max_connections", c4c.max_connections, in_range(1, 64));
        m_reader.finish(section);
    }

    SourceConfig read_source(ConfigSection& section, const SourceSpec& spec)
    {
        SourceConfig source;
        source.name = spec.name;
        source.interval = spec.interval;
        source.page_size = spec.page_size;
        source.lookback = spec.lookback;
        source.overlap = spec.overlap;
        m_reader.read(section, "enabled", source.enabled);
        m_reader.read(section, "interval", source.interval, positive);
        m_reader.read<std::int64_t>(section, "page_size", source.page_size, in_range(1, 10000));
        m_reader.read(section, "lookback", source.lookback, positive);
        m_reader.read(section, "overlap", source.overlap);
        const std::string_view name = spec.name;
        if (name == k_source_webservice_messages) {
            m_reader.read(section, "path", source.path, [](const std::string& path) {
                return path.starts_with('/') ? std::string() : "must start with \"/\"";
            });
        } else if (name == k_source_response_time_analysis) {
            m_reader.read(section, "datasource", source.datasource, word);
            m_reader.read(section, "pseudonymize_users", source.pseudonymize_users);
        } else if (name == k_source_business_objects) {
            m_reader.read(section, "service", source.service, word);
            m_reader.read(section, "collections", source.collections, [](const std::vector<std::string>& collections) {
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
        m_reader.finish(section, " for source " + std::string(name));
        return source;
    }

    EndpointConfig read_endpoint(ConfigSection& section, const std::string& use_case)
    {
        EndpointConfig endpoint;
        endpoint.use_case = use_case;
        m_reader.require(section, {"url"});
        m_reader.read(section, "url", endpoint.url, http_url(QueryRule::allowed));
        read_auth(section, endpoint);
        m_reader.read_ca_file(section, endpoint.ca_file);
        m_reader.read(section, "timeout", endpoint.timeout, positive);
        m_reader.read<std::int64_t>(section, "max_batch_events", endpoint.max_batch_events, in_range(1, 100000));
        m_reader.read<Size>(section, "max_batch_bytes", endpoint.max_batch_bytes, at_least(1024));
        m_reader.read(section, "gzip", endpoint.gzip);
        m_reader.read<std::int64_t>(section, "max_outbox_events", endpoint.max_outbox_events,
                                    in_range(1, std::numeric_limits<std::int64_t>::max()));
        m_reader.read<Size>(section, "max_outbox_bytes", endpoint.max_outbox_bytes, at_least(1));
        if (use_case == k_use_case_health) {
            m_reader.read(section, "interval", endpoint.interval, positive);
        }
        m_reader.reject(section, k_health_keys, "applies to health_monitoring only");
        m_reader.finish(section);
        return endpoint;
    }

    void read_auth(ConfigSection& section, EndpointConfig& endpoint)
    {
        std::string auth = "none";
        if (section.has("auth") &&
            !m_reader.read(section, "auth", auth,
                           one_of({"none", "basic", "oauth2"}, "must be basic, oauth2 or none"))) {
            // Whatever was meant, the credential keys are not unknown: do not pile errors on top.
            section.seen.insert(k_basic_keys.begin(), k_basic_keys.end());
            section.seen.insert(k_oauth2_keys.begin(), k_oauth2_keys.end());
            return;
        }
        if (auth == "basic") {
            endpoint.auth = AuthKind::basic;
            m_reader.require(section, {"user"});
            m_reader.read(section, "user", endpoint.user, not_empty);
            m_reader.read_secret(section, "password", endpoint.password);
        } else if (auth == "oauth2") {
            endpoint.auth = AuthKind::oauth2;
            m_reader.require(section, {"token_url", "client_id"});
            m_reader.read(section, "token_url", endpoint.token_url, http_url(QueryRule::allowed));
            m_reader.read(section, "client_id", endpoint.client_id, not_empty);
            m_reader.read_secret(section, "client_secret", endpoint.client_secret);
        }
        const auto why = "does not apply to auth = \"" + auth + "\"";
        m_reader.reject(section, k_basic_keys, why);
        m_reader.reject(section, k_oauth2_keys, why);
    }

    ConfigReader& m_reader;
};

}  // namespace

LoadResult load_config(const std::filesystem::path& file)
{
    LoadResult result;
    if (const auto text = read_config_file(file, result.errors)) {
        return load_config_text(*text, file);
    }
    return result;
}

LoadResult load_config_text(std::string_view text, const std::filesystem::path& file)
{
    return read_config_text<Config>(
        text, file, [](ConfigReader& reader, const toml::table& root) { return Loader(reader).read(root); });
}

const char* use_case_of_source(std::string_view source)
{
    const auto* spec = find_source(source);
    return spec == nullptr ? "" : spec->use_case;
}

}  // namespace c4c::infra
