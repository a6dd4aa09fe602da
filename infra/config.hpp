#pragma once

// The daemon's configuration: TOML (CONTRACT.md section 2) parsed into plain structs.
// Loading never throws; every problem is reported with the file and, where known, line and column.

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

using Duration = std::chrono::milliseconds;

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

/// One problem found while loading. `line`/`column` are 1-based, 0 where no position applies.
struct ConfigError {
    std::string file;
    int line = 0;
    int column = 0;
    std::string message;
    /// `FILE:LINE:COLUMN: message`, or `FILE: message` without a position.
    std::string format() const;
};

struct LoadResult {
    std::optional<Config> config;     ///< set when `errors` is empty
    std::vector<ConfigError> errors;
};

/// What loading reads besides the file itself.
struct LoadOptions {
    /// false: secrets stay unresolved (empty) and CA files unread, for the operator commands, which need
    /// the tenants and state_dir only and run where systemd's credentials are not ($CREDENTIALS_DIRECTORY).
    bool read_credentials = true;
};

/// Parses and validates the file, resolves `${ENV}` secrets and `*_file` secrets (relative paths are
/// looked up in `$CREDENTIALS_DIRECTORY` first, then beside the config file), checks that every
/// referenced CA file is readable PEM. Never throws; never puts a secret into an error message.
LoadResult load_config(const std::filesystem::path& file, const LoadOptions& options = {});

/// As load_config, for a configuration already in memory (load_config reads the file, then calls this).
/// `file` is not read: it names the configuration in errors and is the base of relative paths
/// (`state_dir`, `*_file`, `ca_file`). Secrets and CA files are still read from disk.
LoadResult load_config_text(std::string_view text, const std::filesystem::path& file,
                            const LoadOptions& options = {});

/// Parses "500ms", "30s", "5m", "2h", "1d" (and combinations such as "1h30m"). nullopt when invalid.
std::optional<Duration> parse_duration(std::string_view text);

/// Parses "4MiB", "512KiB", "1GiB", "1000", "10MB", "64kB". nullopt when invalid.
std::optional<std::size_t> parse_size(std::string_view text);

/// The use case that a source feeds.
const char* use_case_of_source(std::string_view source);

} // namespace c4c::infra
