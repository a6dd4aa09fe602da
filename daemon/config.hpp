#pragma once

// The daemon's configuration: the TOML file of CONTRACT.md section 2 as plain structs. This file reads
// the top level (state_dir, shutdown_timeout, [http], [log]) and the tenants; each tenant's tables are
// read by the part that uses them: [tenants.c4c] and each source by the collectors (each source's own
// keys by its kind), each endpoint by the exporters. Loading never throws; every problem is reported
// with the file and, where known, line and column. The structs compare with ==, so that a reload can
// tell which tenants changed.

#include "collectors/collector.hpp"
#include "exporters/exporter.hpp"
#include "infra/config_error.hpp"
#include "infra/units.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::daemon {

/// What a daemon can run: the feeds and the kinds of endpoint. By default the production tables
/// (collectors/registry.cpp, exporters/registry.cpp); a test may pass them with kinds of its own added.
struct Registry {
    std::span<const collectors::CollectorKind* const> collectors = collectors::collector_kinds();
    std::span<const exporters::ExporterKind* const> exporters = exporters::exporter_kinds();

    /// The first collector kind that feeds `use_case`, or nullptr (an endpoint no collector feeds, such
    /// as Health Monitoring).
    const collectors::CollectorKind* first_feeding(std::string_view use_case) const;
    /// True when a collector kind feeds `use_case`: its endpoint delivers from an outbox.
    bool fed_by_collector(std::string_view use_case) const { return first_feeding(use_case) != nullptr; }
    /// The exporter kind of the endpoint `use_case`, or nullptr (exporters::find_exporter_kind).
    const exporters::ExporterKind* exporter_for(std::string_view use_case) const;
};

struct TenantConfig {
    std::string name;
    collectors::C4cConfig c4c;
    std::map<std::string, collectors::SourceConfig> sources;     ///< keyed by source name
    std::map<std::string, exporters::EndpointConfig> endpoints;  ///< keyed by use case

    friend bool operator==(const TenantConfig&, const TenantConfig&) = default;
};

struct Config {
    std::filesystem::path file;  ///< the file it was loaded from
    std::filesystem::path state_dir{"/var/lib/c4c-alm-collector"};
    infra::Duration shutdown_timeout{std::chrono::seconds(10)};
    infra::Duration retention{std::chrono::days(30)};  ///< how long rejected events and quarantined records are kept
    std::string http_listen = "127.0.0.1:9479";
    std::string log_level = "info";
    std::string log_format = "text";
    std::vector<TenantConfig> tenants;

    friend bool operator==(const Config&, const Config&) = default;
};

using LoadResult = infra::ConfigLoad<Config>;

/// Parses and validates the file, resolves `${ENV}` secrets and `*_file` secrets (relative paths are
/// looked up in `$CREDENTIALS_DIRECTORY` first, then beside the config file), checks that every
/// referenced CA file is readable PEM. Sources and endpoints are those of `registry`. Never throws;
/// never puts a secret into an error message.
/// What loading reads besides the file itself.
struct LoadOptions {
    /// false: secrets stay unresolved (empty) and CA files unread, for the operator commands, which need
    /// the tenants and state_dir only and run where systemd's credentials are not ($CREDENTIALS_DIRECTORY).
    bool read_credentials = true;
};

LoadResult load_config(const std::filesystem::path& file, const Registry& registry = {},
                       const LoadOptions& options = {});

/// As load_config, for a configuration already in memory (load_config reads the file, then calls this).
/// `file` is not read: it names the configuration in errors and is the base of relative paths
/// (`state_dir`, `*_file`, `ca_file`). Secrets and CA files are still read from disk.
LoadResult load_config_text(std::string_view text, const std::filesystem::path& file, const Registry& registry = {},
                            const LoadOptions& options = {});

}  // namespace c4c::daemon
