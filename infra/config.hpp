#pragma once

// The daemon's configuration: TOML (CONTRACT.md section 2) parsed into plain structs.
// Loading never throws; every problem is reported with the file and, where known, line and column.
// The reading itself (positions, values, secrets, CA files) is config_reader.hpp's.

#include "infra/config_error.hpp"
#include "infra/secrets.hpp"
#include "infra/units.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::infra {

/// Where the tenant's C4C system is and how to reach it.
struct C4cConfig {
    std::string url;      ///< scheme://host[:port], no trailing slash
    std::string user;
    Secret password;
    std::string ca_file;  ///< optional extra PEM trust anchor (absolute path once loaded)
    Duration timeout{std::chrono::seconds(30)};
    int max_connections = 4;
};

/// Names of the three feeds, as used in config keys, metrics labels and `sap.c4c.source`.
inline constexpr const char* k_source_webservice_messages = "webservice_messages";
inline constexpr const char* k_source_response_time_analysis = "response_time_analysis";
inline constexpr const char* k_source_business_objects = "business_objects";

/// Names of the Cloud ALM use cases (endpoint keys and `sap.calm.use_case`).
inline constexpr const char* k_use_case_integration = "integration_monitoring";
inline constexpr const char* k_use_case_real_user = "real_user_monitoring";
inline constexpr const char* k_use_case_business_process = "business_process_monitoring";
inline constexpr const char* k_use_case_health = "health_monitoring";

/// One feed of one tenant. Fields that do not apply to a source keep their defaults.
struct SourceConfig {
    std::string name;  ///< one of the k_source_* names
    bool enabled = true;
    Duration interval{std::chrono::seconds(60)};
    int page_size = 1000;
    Duration lookback{std::chrono::hours(24)};
    Duration overlap{std::chrono::minutes(2)};
    // webservice_messages
    std::string path = "/sap/bc/srt/scs/sap/querybusinessdocumentmessagemoni";
    // response_time_analysis
    std::string datasource = "RTA_DS";
    bool pseudonymize_users = true;
    // business_objects
    std::string service = "c4codataapi";
    std::vector<std::string> collections{"OpportunityCollection", "SalesOrderCollection", "LeadCollection",
                                         "ServiceRequestCollection"};
};

enum class AuthKind { none, basic, oauth2 };

/// One Cloud ALM endpoint (one per use case).
struct EndpointConfig {
    std::string use_case;  ///< one of the k_use_case_* names
    std::string url;
    AuthKind auth = AuthKind::none;
    std::string user;      ///< basic
    Secret password;       ///< basic
    std::string token_url; ///< oauth2
    std::string client_id; ///< oauth2
    Secret client_secret;  ///< oauth2
    std::string ca_file;
    Duration timeout{std::chrono::seconds(30)};
    int max_batch_events = 1000;
    std::size_t max_batch_bytes = 4u << 20;
    bool gzip = true;
    std::size_t max_outbox_events = 1'000'000;        ///< sources stop advancing beyond this
    std::size_t max_outbox_bytes = std::size_t{1} << 30; ///< sources stop advancing beyond this
    Duration interval{std::chrono::seconds(60)};      ///< health_monitoring: push period
};

struct TenantConfig {
    std::string name;
    C4cConfig c4c;
    std::map<std::string, SourceConfig> sources;     ///< keyed by source name
    std::map<std::string, EndpointConfig> endpoints; ///< keyed by use case
};

struct Config {
    std::filesystem::path file;  ///< the file it was loaded from
    std::filesystem::path state_dir{"/var/lib/c4c-alm-collector"};
    Duration shutdown_timeout{std::chrono::seconds(10)};
    std::string http_listen = "127.0.0.1:9479";
    std::string log_level = "info";
    std::string log_format = "text";
    std::vector<TenantConfig> tenants;
};

using LoadResult = ConfigLoad<Config>;

/// Parses and validates the file, resolves `${ENV}` secrets and `*_file` secrets (relative paths are
/// looked up in `$CREDENTIALS_DIRECTORY` first, then beside the config file), checks that every
/// referenced CA file is readable PEM. Never throws; never puts a secret into an error message.
LoadResult load_config(const std::filesystem::path& file);

/// As load_config, for a configuration already in memory (load_config reads the file, then calls this).
/// `file` is not read: it names the configuration in errors and is the base of relative paths
/// (`state_dir`, `*_file`, `ca_file`). Secrets and CA files are still read from disk.
LoadResult load_config_text(std::string_view text, const std::filesystem::path& file);

/// The use case that a source feeds.
const char* use_case_of_source(std::string_view source);

} // namespace c4c::infra
