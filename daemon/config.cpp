#include "daemon/config.hpp"

#include "infra/config_reader.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace c4c::daemon {

namespace {

namespace fs = std::filesystem;

bool is_tenant_name(std::string_view text)
{
    return !text.empty() && text.size() <= 63 && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

/// "a, b or c"
std::string one_of_list(const std::vector<std::string_view>& names)
{
    std::string text;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) {
            text += i + 1 == names.size() ? " or " : ", ";
        }
        text += names[i];
    }
    return text;
}

class ConfigLoader {
public:
    ConfigLoader(infra::ConfigReader& reader, const Registry& registry) : m_reader(reader), m_registry(registry) {}

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
        using namespace infra::checks;
        infra::ConfigSection top{root, {}, {}, {}};
        std::string state_dir;
        if (m_reader.read(top, "state_dir", state_dir, not_empty)) {
            config.state_dir = m_reader.resolve(state_dir);
        }
        m_reader.read(top, "shutdown_timeout", config.shutdown_timeout);
        m_reader.read(top, "retention", config.retention, positive);
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

    void read_tenants(infra::ConfigSection& top, Config& config)
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
            infra::ConfigSection section{*tenant_table, path, {}, {}};
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

    void read_tenant(infra::ConfigSection& section, TenantConfig& tenant)
    {
        m_reader.require(section, {"c4c"});
        if (auto c4c = m_reader.table(section, "c4c")) {
            tenant.c4c = collectors::read_c4c_config(m_reader, *c4c);
        }
        std::map<std::string, const toml::table*> source_tables;
        if (auto sources = m_reader.table(section, "sources")) {
            for (const auto& [key, node] : sources->table) {
                const std::string name(key.str());
                const auto* kind = collectors::find_collector_kind(m_registry.collectors, name);
                if (kind == nullptr) {
                    m_reader.report(key.source().begin, sources->path + ": unknown source '" + name + "' (expected " +
                                                            one_of_list(source_names()) + ")" + sources->note);
                } else if (auto source = m_reader.table(*sources, name)) {
                    source_tables.emplace(name, &source->table);
                    tenant.sources.emplace(name, collectors::read_source_config(m_reader, *source, *kind));
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
                const auto* kind = m_registry.exporter_for(use_case);
                if (kind == nullptr) {
                    m_reader.report(key.source().begin, endpoints->path + ": unknown endpoint '" + use_case +
                                                            "' (expected " + one_of_list(use_cases()) + ")" +
                                                            endpoints->note);
                } else if (auto endpoint = m_reader.table(*endpoints, use_case)) {
                    endpoint_tables.emplace(use_case, &endpoint->table);
                    tenant.endpoints.emplace(use_case, exporters::read_endpoint_config(m_reader, *endpoint, use_case,
                                                                                       *kind, m_registry.exporters));
                }
            }
        }
        check_pairing(section, tenant, source_tables, endpoint_tables);
        m_reader.finish(section);
    }

    /// A source without its endpoint, or an endpoint for sources without any of them, is an error.
    void check_pairing(const infra::ConfigSection& tenant_section, const TenantConfig& tenant,
                       const std::map<std::string, const toml::table*>& source_tables,
                       const std::map<std::string, const toml::table*>& endpoint_tables)
    {
        const auto& path = tenant_section.path;
        for (const auto* kind : m_registry.collectors) {
            const std::string name(kind->name);
            const std::string use_case(kind->use_case);
            const auto source = tenant.sources.find(name);
            if (source != tenant.sources.end() && source->second.enabled && !endpoint_tables.contains(use_case)) {
                m_reader.report(source_tables.at(name)->source().begin,
                                path + ".sources." + name + ": the source is enabled but [tenants.endpoints." +
                                    use_case + "] is missing; add it or set enabled = false" + tenant_section.note);
            }
            if (const auto endpoint = endpoint_tables.find(use_case);
                endpoint != endpoint_tables.end() && m_registry.first_feeding(use_case) == kind &&
                !std::any_of(m_registry.collectors.begin(), m_registry.collectors.end(), [&](const auto* other) {
                    return other->use_case == kind->use_case && source_tables.contains(std::string(other->name));
                })) {
                m_reader.report(endpoint->second->source().begin,
                                path + ".endpoints." + use_case + ": no [tenants.sources." + name +
                                    "] feeds this endpoint; add the source or remove the endpoint" +
                                    tenant_section.note);
            }
        }
    }

    std::vector<std::string_view> source_names() const
    {
        std::vector<std::string_view> names;
        for (const auto* kind : m_registry.collectors) {
            names.push_back(kind->name);
        }
        return names;
    }

    /// Every endpoint key: the use case of each collector, then each exporter kind's own.
    std::vector<std::string_view> use_cases() const
    {
        std::vector<std::string_view> names;
        const auto add = [&](std::string_view use_case) {
            if (!use_case.empty() && std::find(names.begin(), names.end(), use_case) == names.end()) {
                names.push_back(use_case);
            }
        };
        for (const auto* kind : m_registry.collectors) {
            add(kind->use_case);
        }
        for (const auto* kind : m_registry.exporters) {
            add(kind->use_case);
        }
        return names;
    }

    infra::ConfigReader& m_reader;
    const Registry& m_registry;
};

}  // namespace

const collectors::CollectorKind* Registry::first_feeding(std::string_view use_case) const
{
    const auto it = std::find_if(collectors.begin(), collectors.end(),
                                 [&](const auto* kind) { return kind->use_case == use_case; });
    return it == collectors.end() ? nullptr : *it;
}

const exporters::ExporterKind* Registry::exporter_for(std::string_view use_case) const
{
    return exporters::find_exporter_kind(exporters, use_case, fed_by_collector(use_case));
}

LoadResult load_config(const fs::path& file, const Registry& registry, const LoadOptions& options)
{
    LoadResult result;
    if (const auto text = infra::read_config_file(file, result.errors)) {
        return load_config_text(*text, file, registry, options);
    }
    return result;
}

LoadResult load_config_text(std::string_view text, const fs::path& file, const Registry& registry,
                            const LoadOptions& options)
{
    return infra::read_config_text<Config>(
        text, file,
        [&](infra::ConfigReader& reader, const toml::table& root) { return ConfigLoader(reader, registry).read(root); },
        options.read_credentials);
}

}  // namespace c4c::daemon
