#include "daemon/config.hpp"

#include "collectors/business_objects.hpp"
#include "collectors/response_time_analysis.hpp"
#include "collectors/webservice_messages.hpp"
#include "exporters/health_monitoring.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace {

namespace fs = std::filesystem;
using namespace c4c::daemon;
using namespace std::chrono_literals;
using c4c::collectors::BusinessObjectsSettings;
using c4c::collectors::k_source_business_objects;
using c4c::collectors::k_source_response_time_analysis;
using c4c::collectors::k_source_webservice_messages;
using c4c::collectors::ResponseTimeAnalysisSettings;
using c4c::collectors::WebserviceMessagesSettings;
using c4c::exporters::AuthKind;
using c4c::exporters::EndpointConfig;
using c4c::exporters::k_use_case_health;
using c4c::infra::ConfigError;
using c4c::infra::Duration;

constexpr const char* k_use_case_integration = "integration_monitoring";
constexpr const char* k_use_case_real_user = "real_user_monitoring";
constexpr const char* k_use_case_business_process = "business_process_monitoring";

const WebserviceMessagesSettings& ws_settings(const c4c::collectors::SourceConfig& source)
{
    return source.settings.get<WebserviceMessagesSettings>();
}

const ResponseTimeAnalysisSettings& rta_settings(const c4c::collectors::SourceConfig& source)
{
    return source.settings.get<ResponseTimeAnalysisSettings>();
}

const BusinessObjectsSettings& bo_settings(const c4c::collectors::SourceConfig& source)
{
    return source.settings.get<BusinessObjectsSettings>();
}

/// A fresh directory per test under the system temp directory, removed afterwards, for configuration and
/// credential files.
struct ConfigDir : unit_tests::TempDir {
    ConfigDir() : TempDir(TempDir::create) {}

    fs::path write(const fs::path& name, std::string_view content) const
    {
        const auto file = path / name;
        fs::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << content;
        return file;
    }

    /// Writes the configuration as collector.toml and loads it.
    LoadResult load(std::string_view toml) const { return load_config(write("collector.toml", toml)); }
};

/// Sets or unsets an environment variable for the scope of a test.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : m_name(name)
    {
        if (const char* old = std::getenv(name)) {
            m_old = old;
        }
        if (value) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~ScopedEnv()
    {
        if (m_old) {
            ::setenv(m_name.c_str(), m_old->c_str(), 1);
        } else {
            ::unsetenv(m_name.c_str());
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string m_name;
    std::optional<std::string> m_old;
};

std::string all_errors(const LoadResult& result)
{
    std::string text;
    for (const auto& error : result.errors) {
        text += error.format() + "\n";
    }
    return text;
}

/// The first error whose message contains `needle`, or nullptr.
const ConfigError* find_error(const LoadResult& result, std::string_view needle)
{
    for (const auto& error : result.errors) {
        if (error.message.find(needle) != std::string::npos) {
            return &error;
        }
    }
    return nullptr;
}

/// Asserts that exactly one error contains `needle` and that it sits at line:column.
void check_error(const LoadResult& result, std::string_view needle, int line, int column)
{
    INFO("looking for '", needle, "' in:\n", all_errors(result));
    const auto* error = find_error(result, needle);
    REQUIRE(error != nullptr);
    CHECK(error->line == line);
    CHECK(error->column == column);
    CHECK(std::count_if(result.errors.begin(), result.errors.end(),
                        [&](const ConfigError& e) { return e.message.find(needle) != std::string::npos; }) == 1);
    CHECK_FALSE(result.config.has_value());
}

void check_error(const LoadResult& result, std::string_view needle)
{
    INFO("looking for '", needle, "' in:\n", all_errors(result));
    CHECK(find_error(result, needle) != nullptr);
    CHECK_FALSE(result.config.has_value());
}

/// The loaded configuration (a copy, so that it may outlive a temporary result).
Config check_ok(const LoadResult& result)
{
    INFO(all_errors(result));
    REQUIRE(result.errors.empty());
    REQUIRE(result.config.has_value());
    return *result.config;
}

/// One tenant with one source and its endpoint: the smallest valid file. Tests append to it.
constexpr std::string_view k_minimal = R"([[tenants]]
name = "t1"
[tenants.c4c]
url = "http://127.0.0.1:8080/"
user = "CRUN"
password = "pw"
[tenants.sources.business_objects]
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/logs"
)";

std::string minimal_with(std::string_view extra)
{
    return std::string(k_minimal) + std::string(extra);
}

/// A throw-away self-signed certificate in PEM.
std::string self_signed_pem()
{
    const std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    REQUIRE(key);
    const std::unique_ptr<X509, void (*)(X509*)> cert(X509_new(), &X509_free);
    REQUIRE(cert);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key.get());
    auto* name = X509_get_subject_name(cert.get());
    const std::string common_name = "c4c-alm-collector test CA";
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    const std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    REQUIRE(PEM_write_bio_X509(bio.get(), cert.get()) == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

TEST_SUITE_BEGIN("config");

TEST_CASE("the contract's example loads with every value in place")
{
    ConfigDir dir;
    const ScopedEnv credentials("CREDENTIALS_DIRECTORY", nullptr);
    dir.write("c4c-acme-prod", "c4c-password\n");
    dir.write("alm-acme-prod", "alm-secret\r\n");
    const auto result = dir.load(R"(state_dir = "/var/lib/c4c-alm-collector"   # durable outbox and checkpoints
shutdown_timeout = "10s"

[http]
listen = "127.0.0.1:9479"

[log]
level = "info"
format = "text"

[[tenants]]
name = "acme-prod"

  [tenants.c4c]
  url = "https://my123456.crm.ondemand.com"
  user = "CRUN_USER"
  password_file = "c4c-acme-prod"
  ca_file = ""
  timeout = "30s"
  max_connections = 4

  [tenants.sources.webservice_messages]
  interval = "60s"
  path = "/sap/bc/srt/scs/sap/querybusinessdocumentmessagemoni"
  page_size = 500
  lookback = "24h"
  overlap = "2m"

  [tenants.sources.response_time_analysis]
  interval = "5m"
  datasource = "RTA_DS"
  page_size = 1000
  lookback = "1h"
  overlap = "10m"
  pseudonymize_users = true

  [tenants.sources.business_objects]
  interval = "60s"
  service = "c4codataapi"
  collections = ["OpportunityCollection", "SalesOrderCollection", "LeadCollection", "ServiceRequestCollection"]
  page_size = 1000
  lookback = "24h"
  overlap = "2m"

  [tenants.endpoints.integration_monitoring]
  url = "https://eu10-004.alm.cloud.sap/api/calm-logs/v1/logs?useCase=IEM&serviceId=UUID"
  auth = "oauth2"
  token_url = "https://sub.authentication.eu10.hana.ondemand.com/oauth/token"
  client_id = "sb-client"
  client_secret_file = "alm-acme-prod"
  max_batch_events = 1000
  max_batch_bytes = "4MiB"
  gzip = true
  [tenants.endpoints.real_user_monitoring]
  url = "https://eu10-004.alm.cloud.sap/api/calm-logs/v1/logs?useCase=RUM"
  [tenants.endpoints.business_process_monitoring]
  url = "https://eu10-004.alm.cloud.sap/api/calm-logs/v1/logs?useCase=BPM"
  auth = "basic"
  user = "alm-user"
  password = "alm-password"
  [tenants.endpoints.health_monitoring]
  url = "https://eu10-004.alm.cloud.sap/api/calm-metrics/v1/metrics"
  interval = "30s"
)");
    const auto& config = check_ok(result);
    CHECK(config.file == dir.path / "collector.toml");
    CHECK(config.state_dir == "/var/lib/c4c-alm-collector");
    CHECK(config.shutdown_timeout == 10s);
    CHECK(config.http_listen == "127.0.0.1:9479");
    CHECK(config.log_level == "info");
    CHECK(config.log_format == "text");
    REQUIRE(config.tenants.size() == 1);
    const auto& tenant = config.tenants[0];
    CHECK(tenant.name == "acme-prod");
    CHECK(tenant.c4c.url == "https://my123456.crm.ondemand.com");
    CHECK(tenant.c4c.user == "CRUN_USER");
    CHECK(tenant.c4c.password.reveal() == "c4c-password");
    CHECK(tenant.c4c.ca_file.empty());
    CHECK(tenant.c4c.timeout == 30s);
    CHECK(tenant.c4c.max_connections == 4);

    REQUIRE(tenant.sources.size() == 3);
    const auto& ws = tenant.sources.at(k_source_webservice_messages);
    CHECK(ws.name == k_source_webservice_messages);
    CHECK(ws.enabled);
    CHECK(ws.interval == 60s);
    CHECK(ws_settings(ws).path == "/sap/bc/srt/scs/sap/querybusinessdocumentmessagemoni");
    CHECK(ws.page_size == 500);
    CHECK(ws.lookback == 24h);
    CHECK(ws.overlap == 2min);
    const auto& rta = tenant.sources.at(k_source_response_time_analysis);
    CHECK(rta.name == k_source_response_time_analysis);
    CHECK(rta.interval == 5min);
    CHECK(rta_settings(rta).datasource == "RTA_DS");
    CHECK(rta.page_size == 1000);
    CHECK(rta.lookback == 1h);
    CHECK(rta.overlap == 10min);
    CHECK(rta_settings(rta).pseudonymize_users);
    const auto& bo = tenant.sources.at(k_source_business_objects);
    CHECK(bo.name == k_source_business_objects);
    CHECK(bo_settings(bo).service == "c4codataapi");
    CHECK(bo_settings(bo).collections == std::vector<std::string>{"OpportunityCollection", "SalesOrderCollection",
                                                                  "LeadCollection", "ServiceRequestCollection"});

    REQUIRE(tenant.endpoints.size() == 4);
    const auto& im = tenant.endpoints.at(k_use_case_integration);
    CHECK(im.use_case == k_use_case_integration);
    CHECK(im.url == "https://eu10-004.alm.cloud.sap/api/calm-logs/v1/logs?useCase=IEM&serviceId=UUID");
    CHECK(im.auth == AuthKind::oauth2);
    CHECK(im.token_url == "https://sub.authentication.eu10.hana.ondemand.com/oauth/token");
    CHECK(im.client_id == "sb-client");
    CHECK(im.client_secret.reveal() == "alm-secret");
    CHECK(im.max_batch_events == 1000);
    CHECK(im.max_batch_bytes == 4u * 1024 * 1024);
    CHECK(im.gzip);
    CHECK(tenant.endpoints.at(k_use_case_real_user).auth == AuthKind::none);
    const auto& bpm = tenant.endpoints.at(k_use_case_business_process);
    CHECK(bpm.auth == AuthKind::basic);
    CHECK(bpm.user == "alm-user");
    CHECK(bpm.password.reveal() == "alm-password");
    CHECK(tenant.endpoints.at(k_use_case_health).interval == 30s);
}

TEST_CASE("defaults apply to whatever is left out")
{
    ConfigDir dir;
    const auto result = dir.load(R"([[tenants]]
name = "t1"
[tenants.c4c]
url = "http://127.0.0.1:8080/"
user = "CRUN"
password = "pw"
[tenants.sources.webservice_messages]
[tenants.sources.response_time_analysis]
[tenants.sources.business_objects]
[tenants.endpoints.integration_monitoring]
url = "http://127.0.0.1:9090/im"
[tenants.endpoints.real_user_monitoring]
url = "http://127.0.0.1:9090/rum"
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/bpm"
)");
    const auto& config = check_ok(result);
    CHECK(config.state_dir == "/var/lib/c4c-alm-collector");
    CHECK(config.shutdown_timeout == 10s);
    CHECK(config.retention == std::chrono::days(30));
    CHECK(config.http_listen == "127.0.0.1:9479");
    CHECK(config.log_level == "info");
    CHECK(config.log_format == "text");
    const auto& tenant = config.tenants.at(0);
    CHECK(tenant.c4c.url == "http://127.0.0.1:8080");  // trailing slash stripped
    CHECK(tenant.c4c.timeout == 30s);
    CHECK(tenant.c4c.max_connections == 4);
    CHECK(tenant.c4c.ca_file.empty());

    struct Expected {
        const char* name;
        Duration interval;
        int page_size;
        Duration lookback;
        Duration overlap;
    };
    for (const auto& expected : {Expected{k_source_webservice_messages, 60s, 500, 24h, 2min},
                                 Expected{k_source_response_time_analysis, 5min, 1000, 1h, 10min},
                                 Expected{k_source_business_objects, 60s, 1000, 24h, 2min}}) {
        CAPTURE(expected.name);
        const auto& source = tenant.sources.at(expected.name);
        CHECK(source.name == expected.name);
        CHECK(source.enabled);
        CHECK(source.interval == expected.interval);
        CHECK(source.page_size == expected.page_size);
        CHECK(source.lookback == expected.lookback);
        CHECK(source.overlap == expected.overlap);
    }
    const auto& rta = tenant.sources.at(k_source_response_time_analysis);
    CHECK(rta_settings(rta).datasource == "RTA_DS");
    CHECK(rta_settings(rta).pseudonymize_users);
    CHECK(ws_settings(tenant.sources.at(k_source_webservice_messages)).path ==
          "/sap/bc/srt/scs/sap/querybusinessdocumentmessagemoni");
    CHECK(bo_settings(tenant.sources.at(k_source_business_objects)).collections.size() == 4);

    REQUIRE(tenant.endpoints.size() == 3);
    for (const auto& [use_case, endpoint] : tenant.endpoints) {
        CAPTURE(use_case);
        CHECK(endpoint.use_case == use_case);
        CHECK(endpoint.auth == AuthKind::none);
        CHECK(endpoint.ca_file.empty());
        CHECK(endpoint.timeout == 30s);
        CHECK(endpoint.max_batch_events == 1000);
        CHECK(endpoint.max_batch_bytes == 4u << 20);
        CHECK(endpoint.gzip);
        CHECK(endpoint.max_outbox_events == 1'000'000);
        CHECK(endpoint.max_outbox_bytes == std::size_t{1} << 30);
        CHECK(endpoint.interval == 60s);
    }
}

TEST_CASE("top-level settings are read and checked")
{
    ConfigDir dir;
    SUBCASE("a relative state_dir is resolved against the config file's directory")
    {
        const auto& config = check_ok(dir.load(minimal_with("").insert(0, "state_dir = \"state/../data\"\n")));
        CHECK(config.state_dir == dir.path / "data");
        CHECK(config.state_dir.is_absolute());
    }
    SUBCASE("explicit values")
    {
        const auto& config = check_ok(dir.load(R"(shutdown_timeout = "1m30s"
[http]
listen = "[::1]:0"
[log]
level = "debug"
format = "json"
)" + std::string(k_minimal)));
        CHECK(config.shutdown_timeout == 90s);
        CHECK(config.http_listen == "[::1]:0");
        CHECK(config.log_level == "debug");
        CHECK(config.log_format == "json");
    }
    SUBCASE("bad values, each at its value")
    {
        const auto result = dir.load(R"(state_dir = 5
shutdown_timeout = "10"
[http]
listen = "127.0.0.1"
[log]
level = "verbose"
format = "xml"
)" + std::string(k_minimal));
        check_error(result, "state_dir: expected a string", 1, 13);
        check_error(result, "shutdown_timeout: expected a duration string such as \"30s\"", 2, 20);
        check_error(result, "http.listen: expected \"host:port\"", 4, 10);
        check_error(result, "log.level: must be one of trace, debug, info, warn, error", 6, 9);
        check_error(result, "log.format: must be text or json", 7, 10);
        CHECK(result.errors.size() == 5);
    }
    SUBCASE("retention: how long rejected and quarantined records are kept")
    {
        CHECK(check_ok(dir.load("retention = \"90d\"\n" + std::string(k_minimal))).retention == std::chrono::days(90));
        check_error(dir.load("retention = \"0s\"\n" + std::string(k_minimal)), "retention: must be greater than 0", 1,
                    13);
    }
    SUBCASE("no tenants")
    {
        const auto result = dir.load("state_dir = \"/tmp\"\n");
        check_error(result, "at least one [[tenants]] entry is required", 0, 0);
    }
    SUBCASE("tenants that are not an array of tables")
    {
        check_error(dir.load("tenants = 1\n"), "tenants: expected an array of tables", 1, 11);
        check_error(dir.load("tenants = [1]\n"), "tenants[0]: expected a table", 1, 12);
    }
    SUBCASE("http and log must be tables")
    {
        check_error(dir.load(minimal_with("").insert(0, "http = \"127.0.0.1:1\"\n")), "http: expected a table", 1, 8);
    }
}

TEST_CASE("http.listen accepts host:port and [v6]:port")
{
    ConfigDir dir;
    for (const char* listen : {"127.0.0.1:9479", "[::1]:9479", "localhost:0", "0.0.0.0:65535", "[::]:80"}) {
        CAPTURE(listen);
        const auto result = dir.load("[http]\nlisten = \"" + std::string(listen) + "\"\n" + std::string(k_minimal));
        CHECK(check_ok(result).http_listen == listen);
    }
    for (const char* listen : {":9479", "127.0.0.1", "127.0.0.1:65536", "::1:9479", "[::1]9479", "host:abc", "[]:1",
                               "host:", "host:-1", "[::1:80"}) {
        CAPTURE(listen);
        const auto result = dir.load("[http]\nlisten = \"" + std::string(listen) + "\"\n" + std::string(k_minimal));
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].message.starts_with("http.listen: "));
        CHECK(result.errors[0].line == 2);
        CHECK(result.errors[0].column == 10);
    }
}

TEST_CASE("a TOML syntax error is reported at its position")
{
    ConfigDir dir;
    const auto file = (dir.path / "collector.toml").string();
    SUBCASE("an unterminated string")
    {
        const auto result = dir.load("state_dir = \"/tmp\"\nshutdown_timeout = \"10s\n");
        REQUIRE(result.errors.size() == 1);
        CHECK_FALSE(result.config.has_value());
        CHECK(result.errors[0].file == file);
        CHECK(result.errors[0].line == 2);
        CHECK(result.errors[0].column == 24);
        CHECK(result.errors[0].format().starts_with(file + ":2:24: Error while parsing string"));
    }
    SUBCASE("a table defined twice")
    {
        const auto result = dir.load("[http]\nlisten = \"127.0.0.1:1\"\n\n[http]\n");
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].format() ==
              file + ":4:1: Error while parsing table header: cannot redefine existing table 'http'");
    }
}

TEST_CASE("a missing configuration file is one error without a position")
{
    ConfigDir dir;
    const auto result = load_config(dir.path / "nope.toml");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].line == 0);
    CHECK(result.errors[0].format() ==
          (dir.path / "nope.toml").string() + ": cannot read the configuration: No such file or directory");
}

TEST_CASE("unknown keys are errors at the key, everywhere, all at once")
{
    ConfigDir dir;
    const auto result = dir.load(R"(colour = "blue"
[http]
listen = "127.0.0.1:1"
port = 1
[[tenants]]
name = "t1"
nickname = "x"
[tenants.c4c]
url = "http://127.0.0.1:8080"
user = "CRUN"
password = "pw"
retries = 3
[tenants.sources.business_objects]
datasource = "RTA_DS"
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/logs"
compression = "zstd"
interval = "30s"
[tenants.sources.purchase_orders]
[tenants.endpoints.change_monitoring]
)");
    check_error(result, "unknown key 'colour'", 1, 1);
    check_error(result, "http: unknown key 'port'", 4, 1);
    check_error(result, "tenants[0]: unknown key 'nickname' (tenant t1)", 7, 1);
    check_error(result, "tenants[0].c4c: unknown key 'retries' (tenant t1)", 12, 1);
    check_error(result,
                "tenants[0].sources.business_objects: unknown key 'datasource' for source business_objects (tenant t1)",
                14, 1);
    check_error(result, "tenants[0].endpoints.business_process_monitoring: unknown key 'compression' (tenant t1)", 17,
                1);
    check_error(result, "endpoints.business_process_monitoring.interval: applies to health_monitoring only", 18, 12);
    check_error(result, "unknown source 'purchase_orders'", 19, 18);
    check_error(result, "unknown endpoint 'change_monitoring'", 20, 20);
    CHECK(result.errors.size() == 9);
    // In file order, for --check.
    CHECK(std::is_sorted(result.errors.begin(), result.errors.end(),
                         [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; }));
}

TEST_CASE("a wrong type names the dotted key, the tenant and the position of the value")
{
    ConfigDir dir;
    const auto result = dir.load(R"([[tenants]]
name = "acme-prod"
[tenants.c4c]
url = "http://127.0.0.1:8080"
user = "CRUN"
password = "pw"
timeout = 30
max_connections = "4"
[tenants.sources.business_objects]
enabled = "yes"
page_size = 1.5
collections = "LeadCollection"
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/logs"
gzip = 1
max_batch_bytes = "4 MiB"
)");
    check_error(result, "tenants[0].c4c.timeout: expected a duration string such as \"30s\" (tenant acme-prod)", 7, 11);
    check_error(result, "tenants[0].c4c.max_connections: expected an integer", 8, 19);
    check_error(result, "tenants[0].sources.business_objects.enabled: expected a boolean", 10, 11);
    check_error(result, "tenants[0].sources.business_objects.page_size: expected an integer", 11, 13);
    check_error(result, "tenants[0].sources.business_objects.collections: expected an array of strings", 12, 15);
    check_error(result, "tenants[0].endpoints.business_process_monitoring.gzip: expected a boolean", 15, 8);
    check_error(result, "max_batch_bytes: expected a size such as \"4MiB\"", 16, 19);
    CHECK(result.errors.size() == 7);
    CHECK(result.errors[0].format() == (dir.path / "collector.toml").string() +
                                           ":7:11: tenants[0].c4c.timeout: expected a duration string such as "
                                           "\"30s\" (tenant acme-prod)");
}

TEST_CASE("tenant names are checked and unique")
{
    ConfigDir dir;
    SUBCASE("duplicate")
    {
        const auto result = dir.load(std::string(k_minimal) + std::string(k_minimal));
        check_error(result, "tenants[1].name: duplicate tenant name 't1' (also tenants[0])", 11, 8);
    }
    SUBCASE("missing")
    {
        auto text = std::string(k_minimal);
        text.erase(text.find("name = \"t1\"\n"), 12);
        check_error(dir.load(text), "tenants[0]: missing required key 'name'", 1, 1);
    }
    for (const char* name : {"Acme", "acme_prod", "", "acme prod", "ä"}) {
        CAPTURE(name);
        auto text = std::string(k_minimal);
        text.replace(text.find("\"t1\""), 4, "\"" + std::string(name) + "\"");
        check_error(dir.load(text), "tenants[0].name: must be 1 to 63 characters from [a-z0-9-]", 2, 8);
    }
    SUBCASE("63 characters is the limit")
    {
        auto text = std::string(k_minimal);
        text.replace(text.find("\"t1\""), 4, "\"" + std::string(63, 'a') + "\"");
        CHECK(check_ok(dir.load(text)).tenants.at(0).name.size() == 63);
        text.replace(text.find(std::string(63, 'a')), 63, std::string(64, 'a'));
        check_error(dir.load(text), "tenants[0].name: must be 1 to 63");
    }
}

TEST_CASE("the c4c table")
{
    ConfigDir dir;
    const auto with_c4c = [&](std::string_view c4c) {
        return dir.load(R"([[tenants]]
name = "t1"
[tenants.sources.business_objects]
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/logs"
[tenants.c4c]
)" + std::string(c4c));
    };
    SUBCASE("missing table")
    {
        auto text = std::string(k_minimal);
        text.erase(text.find("[tenants.c4c]"), 14);
        check_error(dir.load(text), "tenants[0]: missing required key 'c4c'");
    }
    SUBCASE("missing keys are reported at the table header")
    {
        const auto result = with_c4c("");
        check_error(result, "tenants[0].c4c: missing required key 'url' (tenant t1)", 6, 1);
        check_error(result, "tenants[0].c4c: missing required key 'user'", 6, 1);
        check_error(result, "tenants[0].c4c: missing required key 'password' or 'password_file'", 6, 1);
        CHECK(result.errors.size() == 3);
    }
    SUBCASE("url")
    {
        for (const char* url : {"ftp://host", "https://host/?sap-client=100", "https://host#x", "https:///path",
                                "my123456.crm.ondemand.com", "https://user:pw@host", "http://host:99999"}) {
            CAPTURE(url);
            const auto result = with_c4c("url = \"" + std::string(url) + "\"\nuser = \"u\"\npassword = \"p\"\n");
            check_error(result, "tenants[0].c4c.url: ", 7, 7);
            CHECK(result.errors.size() == 1);
            CHECK(result.errors[0].message.find(url) == std::string::npos);
        }
        const auto& config =
            check_ok(with_c4c("url = \"https://host:8443/prefix//\"\nuser = \"u\"\npassword = \"p\"\n"));
        CHECK(config.tenants[0].c4c.url == "https://host:8443/prefix");
    }
    SUBCASE("limits")
    {
        const auto result = with_c4c(R"(url = "http://h"
user = ""
password = "p"
timeout = "0s"
max_connections = 65
)");
        check_error(result, "tenants[0].c4c.user: must not be empty", 8, 8);
        check_error(result, "tenants[0].c4c.timeout: must be greater than 0", 10, 11);
        check_error(result, "tenants[0].c4c.max_connections: must be between 1 and 64", 11, 19);
        CHECK(result.errors.size() == 3);
        check_error(with_c4c("url = \"http://h\"\nuser = \"u\"\npassword = \"p\"\nmax_connections = 0\n"),
                    "max_connections: must be between 1 and 64");
        CHECK(check_ok(with_c4c("url = \"http://h\"\nuser = \"u\"\npassword = \"p\"\nmax_connections = 64\n"))
                  .tenants[0]
                  .c4c.max_connections == 64);
    }
    SUBCASE("password and password_file together")
    {
        dir.write("pw", "x\n");
        const auto result = with_c4c("url = \"http://h\"\nuser = \"u\"\npassword = \"p\"\npassword_file = \"pw\"\n");
        check_error(result, "tenants[0].c4c.password_file: set either password or password_file, not both", 10, 17);
    }
}

TEST_CASE("sources")
{
    ConfigDir dir;
    const auto with_source = [&](std::string_view source) {
        return dir.load(R"([[tenants]]
name = "t1"
[tenants.c4c]
url = "http://127.0.0.1:8080"
user = "CRUN"
password = "pw"
[tenants.endpoints.integration_monitoring]
url = "http://127.0.0.1:9090/im"
[tenants.endpoints.real_user_monitoring]
url = "http://127.0.0.1:9090/rum"
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/bpm"
)" + std::string(source));
    };
    constexpr std::string_view k_other_two = R"([tenants.sources.webservice_messages]
[tenants.sources.response_time_analysis]
)";
    SUBCASE("common keys")
    {
        const auto result = with_source(std::string(k_other_two) + R"([tenants.sources.business_objects]
page_size = 0
interval = "0s"
lookback = "0ms"
overlap = "-1m"
)");
        check_error(result, "business_objects.page_size: must be between 1 and 10000", 16, 13);
        check_error(result, "business_objects.interval: must be greater than 0", 17, 12);
        check_error(result, "business_objects.lookback: must be greater than 0", 18, 12);
        check_error(result, "business_objects.overlap: expected a duration string", 19, 11);
        CHECK(check_ok(with_source(std::string(k_other_two) +
                                   "[tenants.sources.business_objects]\npage_size = 10000\noverlap = \"0s\"\n"))
                  .tenants[0]
                  .sources.at(k_source_business_objects)
                  .page_size == 10000);
        check_error(with_source(std::string(k_other_two) + "[tenants.sources.business_objects]\npage_size = 10001\n"),
                    "page_size: must be between 1 and 10000");
    }
    SUBCASE("source-specific keys")
    {
        const auto& config = check_ok(with_source(R"([tenants.sources.webservice_messages]
path = "/sap/bc/srt/scs/sap/other"
[tenants.sources.response_time_analysis]
datasource = "ZRTA_01"
pseudonymize_users = false
[tenants.sources.business_objects]
service = "cust_api"
collections = ["LeadCollection"]
)"));
        const auto& sources = config.tenants[0].sources;
        CHECK(ws_settings(sources.at(k_source_webservice_messages)).path == "/sap/bc/srt/scs/sap/other");
        CHECK(rta_settings(sources.at(k_source_response_time_analysis)).datasource == "ZRTA_01");
        CHECK_FALSE(rta_settings(sources.at(k_source_response_time_analysis)).pseudonymize_users);
        CHECK(bo_settings(sources.at(k_source_business_objects)).service == "cust_api");
        CHECK(bo_settings(sources.at(k_source_business_objects)).collections ==
              std::vector<std::string>{"LeadCollection"});
    }
    SUBCASE("bad source-specific values")
    {
        const auto result = with_source(R"([tenants.sources.webservice_messages]
path = "sap/bc/srt"
[tenants.sources.response_time_analysis]
datasource = "RTA-DS"
pseudonymize_users = "no"
[tenants.sources.business_objects]
service = ""
collections = []
)");
        check_error(result, "webservice_messages.path: must start with \"/\"", 14, 8);
        check_error(result, "response_time_analysis.datasource: must be non-empty and use only [A-Za-z0-9_]", 16, 14);
        check_error(result, "response_time_analysis.pseudonymize_users: expected a boolean", 17, 22);
        check_error(result, "business_objects.service: must be non-empty", 19, 11);
        check_error(result, "business_objects.collections: must name at least one collection", 20, 15);
        CHECK(result.errors.size() == 5);
        for (const char* collections : {"[\"Lead Collection\"]", "[\"\"]", "[\"A\", 1]", "[\"A\", \"A\"]"}) {
            CAPTURE(collections);
            std::string text(k_other_two);
            text += "[tenants.sources.business_objects]\ncollections = ";
            text += collections;
            check_error(with_source(text + "\n"), "business_objects.collections: ");
        }
    }
    SUBCASE("a key of another source is named as such")
    {
        const auto result = with_source(R"([tenants.sources.webservice_messages]
collections = ["A"]
[tenants.sources.response_time_analysis]
path = "/x"
[tenants.sources.business_objects]
pseudonymize_users = true
)");
        check_error(result, "unknown key 'collections' for source webservice_messages", 14, 1);
        check_error(result, "unknown key 'path' for source response_time_analysis", 16, 1);
        check_error(result, "unknown key 'pseudonymize_users' for source business_objects", 18, 1);
    }
    SUBCASE("a source must be a table")
    {
        auto result = dir.load(R"([[tenants]]
name = "t1"
[tenants.c4c]
url = "http://127.0.0.1:8080"
user = "CRUN"
password = "pw"
[tenants.sources]
business_objects = true
)");
        check_error(result, "tenants[0].sources.business_objects: expected a table", 8, 20);
        check_error(result, "no source configured");
    }
}

TEST_CASE("endpoints and their authentication")
{
    ConfigDir dir;
    const auto with_endpoint = [&](std::string_view endpoint) {
        return dir.load(std::string(R"([[tenants]]
name = "t1"
[tenants.c4c]
url = "http://127.0.0.1:8080"
user = "CRUN"
password = "pw"
[tenants.sources.business_objects]
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/logs"
)") + std::string(endpoint));
    };
    const auto endpoint_of = [](const Config& config) -> const EndpointConfig& {
        return config.tenants.at(0).endpoints.at(k_use_case_business_process);
    };
    SUBCASE("limits and sizes")
    {
        const auto& config = check_ok(with_endpoint(R"(timeout = "5s"
max_batch_events = 100000
max_batch_bytes = 1024
gzip = false
max_outbox_events = 10
max_outbox_bytes = "512KiB"
)"));
        const auto& endpoint = endpoint_of(config);
        CHECK(endpoint.use_case == k_use_case_business_process);
        CHECK(endpoint.timeout == 5s);
        CHECK(endpoint.max_batch_events == 100000);
        CHECK(endpoint.max_batch_bytes == 1024);
        CHECK_FALSE(endpoint.gzip);
        CHECK(endpoint.max_outbox_events == 10);
        CHECK(endpoint.max_outbox_bytes == 512 * 1024);

        const auto result = with_endpoint(R"(timeout = "0s"
max_batch_events = 0
max_batch_bytes = "1000B"
max_outbox_events = 0
max_outbox_bytes = -1
)");
        check_error(result, "business_process_monitoring.timeout: must be greater than 0", 10, 11);
        check_error(result, "max_batch_events: must be between 1 and 100000", 11, 20);
        check_error(result, "max_batch_bytes: must be at least 1024 bytes", 12, 19);
        check_error(result, "max_outbox_events: must be between 1 and", 13, 21);
        check_error(result, "max_outbox_bytes: expected a size", 14, 20);
        CHECK(result.errors.size() == 5);
        check_error(with_endpoint("max_batch_events = 100001\n"), "max_batch_events: must be between 1 and 100000");
    }
    SUBCASE("url")
    {
        auto text = std::string(R"([[tenants]]
name = "t1"
[tenants.c4c]
url = "http://127.0.0.1:8080"
user = "CRUN"
password = "pw"
[tenants.sources.business_objects]
[tenants.endpoints.business_process_monitoring]
)");
        check_error(dir.load(text), "business_process_monitoring: missing required key 'url'", 8, 1);
        check_error(dir.load(text + "url = \"file:///tmp/x\"\n"),
                    "business_process_monitoring.url: the scheme must be http:// or https://", 9, 7);
        check_error(dir.load(text + "url = \"https://alm/logs#frag\"\n"), "must not have a fragment", 9, 7);
    }
    SUBCASE("basic")
    {
        const auto& config = check_ok(with_endpoint("auth = \"basic\"\nuser = \"u\"\npassword = \"p\"\n"));
        CHECK(endpoint_of(config).auth == AuthKind::basic);
        CHECK(endpoint_of(config).user == "u");
        CHECK(endpoint_of(config).password.reveal() == "p");
        const auto result = with_endpoint("auth = \"basic\"\nclient_id = \"sb\"\n");
        check_error(result, "business_process_monitoring: missing required key 'user'", 8, 1);
        check_error(result, "missing required key 'password' or 'password_file'", 8, 1);
        check_error(result, "business_process_monitoring.client_id: does not apply to auth = \"basic\"", 11, 13);
        CHECK(result.errors.size() == 3);
    }
    SUBCASE("oauth2")
    {
        dir.write("secret", "s3\n");
        const auto& config = check_ok(with_endpoint(R"(auth = "oauth2"
token_url = "https://sub.authentication.eu10.hana.ondemand.com/oauth/token"
client_id = "sb-1"
client_secret_file = "secret"
)"));
        CHECK(endpoint_of(config).auth == AuthKind::oauth2);
        CHECK(endpoint_of(config).token_url == "https://sub.authentication.eu10.hana.ondemand.com/oauth/token");
        CHECK(endpoint_of(config).client_id == "sb-1");
        CHECK(endpoint_of(config).client_secret.reveal() == "s3");
        const auto result = with_endpoint("auth = \"oauth2\"\nuser = \"u\"\npassword = \"p\"\n");
        check_error(result, "missing required key 'token_url'", 8, 1);
        check_error(result, "missing required key 'client_id'", 8, 1);
        check_error(result, "missing required key 'client_secret' or 'client_secret_file'", 8, 1);
        check_error(result, "business_process_monitoring.user: does not apply to auth = \"oauth2\"", 11, 8);
        check_error(result, "business_process_monitoring.password: does not apply to auth = \"oauth2\"", 12, 12);
        CHECK(result.errors.size() == 5);
        check_error(with_endpoint("auth = \"oauth2\"\ntoken_url = \"sub/oauth/token\"\nclient_id = \"c\"\n"
                                  "client_secret = \"s\"\n"),
                    "token_url: not a valid absolute URL", 11, 13);
    }
    SUBCASE("none takes no credentials")
    {
        const auto result = with_endpoint("auth = \"none\"\npassword = \"p\"\ntoken_url = \"https://t\"\n");
        check_error(result, "password: does not apply to auth = \"none\"", 11, 12);
        check_error(result, "token_url: does not apply to auth = \"none\"", 12, 13);
        CHECK(result.errors.size() == 2);
    }
    SUBCASE("an unknown auth is one error, not one per credential key")
    {
        const auto result = with_endpoint("auth = \"kerberos\"\nuser = \"u\"\npassword = \"p\"\n");
        check_error(result, "auth: must be basic, oauth2 or none", 10, 8);
        CHECK(result.errors.size() == 1);
    }
    SUBCASE("health_monitoring takes an interval")
    {
        const auto& config = check_ok(with_endpoint(R"([tenants.endpoints.health_monitoring]
url = "http://127.0.0.1:9090/metrics"
interval = "15s"
)"));
        CHECK(config.tenants[0].endpoints.at(k_use_case_health).use_case == k_use_case_health);
        CHECK(config.tenants[0].endpoints.at(k_use_case_health).interval == 15s);
        check_error(with_endpoint("[tenants.endpoints.health_monitoring]\nurl = \"http://h/m\"\ninterval = \"0s\"\n"),
                    "health_monitoring.interval: must be greater than 0", 12, 12);
    }
}

TEST_CASE("sources and endpoints come in pairs")
{
    ConfigDir dir;
    const std::string head = R"([[tenants]]
name = "t1"
[tenants.c4c]
url = "http://127.0.0.1:8080"
user = "CRUN"
password = "pw"
)";
    SUBCASE("an enabled source without its endpoint")
    {
        const auto result = dir.load(head + R"([tenants.sources.webservice_messages]
[tenants.sources.business_objects]
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/bpm"
)");
        check_error(result,
                    "tenants[0].sources.webservice_messages: the source is enabled but "
                    "[tenants.endpoints.integration_monitoring] is missing",
                    7, 1);
        CHECK(result.errors.size() == 1);
    }
    SUBCASE("an endpoint without its source")
    {
        const auto result = dir.load(head + R"([tenants.sources.business_objects]
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/bpm"
[tenants.endpoints.real_user_monitoring]
url = "http://127.0.0.1:9090/rum"
)");
        check_error(result,
                    "tenants[0].endpoints.real_user_monitoring: no [tenants.sources.response_time_analysis] feeds "
                    "this endpoint",
                    10, 1);
        CHECK(result.errors.size() == 1);
    }
    SUBCASE("a disabled source needs no endpoint")
    {
        const auto& config = check_ok(dir.load(head + R"([tenants.sources.webservice_messages]
enabled = false
[tenants.sources.business_objects]
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/bpm"
)"));
        CHECK_FALSE(config.tenants[0].sources.at(k_source_webservice_messages).enabled);
        CHECK(config.tenants[0].endpoints.size() == 1);
    }
    SUBCASE("a disabled source may keep its endpoint")
    {
        check_ok(dir.load(head + R"([tenants.sources.business_objects]
enabled = false
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/bpm"
)"));
    }
    SUBCASE("health_monitoring needs no source")
    {
        check_ok(dir.load(head + R"([tenants.sources.business_objects]
[tenants.endpoints.business_process_monitoring]
url = "http://127.0.0.1:9090/bpm"
[tenants.endpoints.health_monitoring]
url = "http://127.0.0.1:9090/metrics"
)"));
    }
    SUBCASE("a tenant without sources")
    {
        check_error(dir.load(head), "tenants[0]: no source configured", 1, 1);
    }
}

TEST_CASE("secrets from ${ENV}")
{
    ConfigDir dir;
    auto text = minimal_with("");
    text.replace(text.find("password = \"pw\""), 15, "password = \"${C4C_TEST_PASSWORD}\"");
    SUBCASE("present")
    {
        const ScopedEnv env("C4C_TEST_PASSWORD", "from-env");
        CHECK(check_ok(dir.load(text)).tenants[0].c4c.password.reveal() == "from-env");
    }
    SUBCASE("missing: the error names the variable")
    {
        const ScopedEnv env("C4C_TEST_PASSWORD", nullptr);
        check_error(dir.load(text), "tenants[0].c4c.password: environment variable C4C_TEST_PASSWORD is not set", 6,
                    12);
    }
    SUBCASE("empty")
    {
        const ScopedEnv env("C4C_TEST_PASSWORD", "");
        check_error(dir.load(text), "environment variable C4C_TEST_PASSWORD is empty", 6, 12);
    }
    SUBCASE("only the whole value is a reference")
    {
        const ScopedEnv env("C4C_TEST_PASSWORD", nullptr);
        text.replace(text.find("${C4C_TEST_PASSWORD}"), 20, "a${C4C_TEST_PASSWORD}");
        CHECK(check_ok(dir.load(text)).tenants[0].c4c.password.reveal() == "a${C4C_TEST_PASSWORD}");
    }
    SUBCASE("an empty inline secret")
    {
        text.replace(text.find("\"${C4C_TEST_PASSWORD}\""), 22, "\"\"");
        check_error(dir.load(text), "tenants[0].c4c.password: the secret is empty", 6, 12);
    }
}

TEST_CASE("secrets from *_file")
{
    ConfigDir dir;
    ConfigDir credentials;
    auto text = minimal_with("");
    text.replace(text.find("password = \"pw\""), 15, "password_file = \"c4c-t1\"");
    SUBCASE("from $CREDENTIALS_DIRECTORY first")
    {
        const ScopedEnv env("CREDENTIALS_DIRECTORY", credentials.path.c_str());
        credentials.write("c4c-t1", "from-credentials\n");
        dir.write("c4c-t1", "from-config-dir\n");
        CHECK(check_ok(dir.load(text)).tenants[0].c4c.password.reveal() == "from-credentials");
    }
    SUBCASE("then beside the configuration file")
    {
        const ScopedEnv env("CREDENTIALS_DIRECTORY", credentials.path.c_str());
        dir.write("c4c-t1", "from-config-dir\r\n");
        CHECK(check_ok(dir.load(text)).tenants[0].c4c.password.reveal() == "from-config-dir");
    }
    SUBCASE("relative to the configuration file without $CREDENTIALS_DIRECTORY")
    {
        const ScopedEnv env("CREDENTIALS_DIRECTORY", nullptr);
        dir.write("secrets/c4c-t1", "x");
        text.replace(text.find("\"c4c-t1\""), 8, "\"secrets/c4c-t1\"");
        CHECK(check_ok(dir.load(text)).tenants[0].c4c.password.reveal() == "x");
    }
    SUBCASE("an absolute path")
    {
        const auto file = credentials.write("abs", "absolute\n");
        text.replace(text.find("\"c4c-t1\""), 8, "\"" + file.string() + "\"");
        CHECK(check_ok(dir.load(text)).tenants[0].c4c.password.reveal() == "absolute");
    }
    SUBCASE("only one line ending is stripped")
    {
        const ScopedEnv env("CREDENTIALS_DIRECTORY", nullptr);
        dir.write("c4c-t1", " spaced \n\n");
        CHECK(check_ok(dir.load(text)).tenants[0].c4c.password.reveal() == " spaced \n");
    }
    SUBCASE("missing: the error names the path it tried")
    {
        const ScopedEnv env("CREDENTIALS_DIRECTORY", credentials.path.c_str());
        check_error(dir.load(text),
                    "tenants[0].c4c.password_file: cannot read " + (dir.path / "c4c-t1").string() +
                        ": No such file or directory",
                    6, 17);
    }
    SUBCASE("empty")
    {
        const ScopedEnv env("CREDENTIALS_DIRECTORY", nullptr);
        dir.write("c4c-t1", "\n");
        check_error(dir.load(text), "tenants[0].c4c.password_file: " + (dir.path / "c4c-t1").string() + " is empty", 6,
                    17);
    }
    SUBCASE("a directory is not a secret")
    {
        const ScopedEnv env("CREDENTIALS_DIRECTORY", nullptr);
        fs::create_directories(dir.path / "c4c-t1");
        check_error(dir.load(text), "tenants[0].c4c.password_file: cannot read ", 6, 17);
    }
}

TEST_CASE("no secret value ever appears in an error")
{
    ConfigDir dir;
    const ScopedEnv credentials("CREDENTIALS_DIRECTORY", nullptr);
    const std::string canary = "Canary-S3cr3t-7f2a";
    const ScopedEnv env("C4C_TEST_CANARY", canary.c_str());
    dir.write("canary-file", canary + "\n");
    const std::vector<std::string> broken{
        // Inline secrets next to every kind of problem, in the same tables.
        R"([[tenants]]
name = "Bad Name"
[tenants.c4c]
url = "ftp://x"
user = ""
password = "Canary-S3cr3t-7f2a"
password_file = "canary-file"
timeout = "Canary-S3cr3t-7f2a"
[tenants.sources.business_objects]
datasource = "Canary-S3cr3t-7f2a"
[tenants.endpoints.integration_monitoring]
url = "https://user:Canary-S3cr3t-7f2a@alm/logs"
auth = "none"
password = "Canary-S3cr3t-7f2a"
client_secret = "Canary-S3cr3t-7f2a"
[tenants.endpoints.business_process_monitoring]
url = "http://alm/logs?token=Canary-S3cr3t-7f2a#Canary-S3cr3t-7f2a"
auth = "basic"
password = 17
client_secret_file = "canary-file"
)",
        // Secrets from the environment and from files, in a tenant that fails elsewhere.
        R"([[tenants]]
name = "t1"
[tenants.c4c]
url = "http://h"
user = "u"
password = "${C4C_TEST_CANARY}"
max_connections = 0
[tenants.sources.webservice_messages]
[tenants.endpoints.business_process_monitoring]
url = "http://alm/logs"
auth = "oauth2"
client_secret_file = "canary-file"
user = "${C4C_TEST_CANARY}"
)",
        // TOML syntax errors on the secret's own line.
        "[[tenants]]\nname = \"t1\"\n[tenants.c4c]\npassword = \"Canary-S3cr3t-7f2a\n",
        "[[tenants]]\nname = \"t1\"\n[tenants.c4c]\npassword = Canary-S3cr3t-7f2a\n",
        "[[tenants]]\nname = \"t1\"\n[tenants.c4c]\npassword = \"Canary-S3cr3t-7f2a\" \"again\"\n",
        "[[tenants]]\nname = \"t1\"\n[tenants.c4c]\npassword = 'Canary-S3cr3t-7f2a\\q\n",
        "[[tenants]]\nname = \"t1\"\n[tenants.c4c]\npassword = \"Canary-S3cr3t-7f2a\\q\"\n",
        "[[tenants]]\nname = \"t1\"\n[tenants.c4c]\npassword = \"Canary-S3cr3t-7f2a\"\npassword = \"x\"\n",
    };
    for (const auto& text : broken) {
        CAPTURE(text);
        const auto result = dir.load(text);
        CHECK_FALSE(result.errors.empty());
        for (const auto& error : result.errors) {
            CAPTURE(error.format());
            CHECK(error.format().find("Canary") == std::string::npos);
            CHECK(error.format().find("S3cr3t") == std::string::npos);
        }
    }
}

TEST_CASE("ca_file must be readable PEM")
{
    ConfigDir dir;
    auto text = minimal_with("");
    text.insert(text.find("[tenants.sources"), "ca_file = \"tls/ca.pem\"\n");
    SUBCASE("valid: stored as an absolute path")
    {
        dir.write("tls/ca.pem", "# a comment before the block\n" + self_signed_pem());
        CHECK(check_ok(dir.load(text)).tenants[0].c4c.ca_file == (dir.path / "tls/ca.pem").string());
    }
    SUBCASE("missing")
    {
        check_error(dir.load(text),
                    "tenants[0].c4c.ca_file: cannot read " + (dir.path / "tls/ca.pem").string() +
                        ": No such file or directory",
                    7, 11);
    }
    SUBCASE("not PEM")
    {
        dir.write("tls/ca.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
        check_error(dir.load(text),
                    "tenants[0].c4c.ca_file: " + (dir.path / "tls/ca.pem").string() + " holds no PEM certificate", 7,
                    11);
    }
    SUBCASE("an endpoint's ca_file, absolute")
    {
        const auto pem = dir.write("alm-ca.pem", self_signed_pem());
        auto endpoint_text = minimal_with("ca_file = \"" + pem.string() + "\"\n");
        const auto& config = check_ok(dir.load(endpoint_text));
        CHECK(config.tenants[0].endpoints.at(k_use_case_business_process).ca_file == pem.string());
        dir.write("alm-ca.pem", "hello\n");
        check_error(dir.load(endpoint_text), "business_process_monitoring.ca_file: ", 10, 11);
    }
}

TEST_CASE("without credentials: the structure is checked, secrets and CA files are not read")
{
    ConfigDir dir;
    const ScopedEnv credentials("CREDENTIALS_DIRECTORY", nullptr);
    const ScopedEnv env("C4C_TEST_PASSWORD", nullptr);
    auto text = minimal_with("ca_file = \"missing-ca.pem\"\n");
    text.replace(text.find("password = \"pw\""), 15, "password_file = \"not-here\"");
    const auto path = dir.write("collector.toml", text);
    CHECK_FALSE(load_config(path).config);
    const auto result = load_config(path, Registry{}, LoadOptions{false});
    const auto& config = check_ok(result);
    CHECK(config.tenants[0].c4c.password.empty());
    CHECK(config.tenants[0].endpoints.at(k_use_case_business_process).ca_file.empty());

    // What is not about credentials is still an error.
    dir.write("collector.toml", text + "bogus = 1\n");
    CHECK_FALSE(load_config(path, Registry{}, LoadOptions{false}).config);
    text.replace(text.find("password_file = \"not-here\""), 26, "password = \"${C4C_TEST_PASSWORD}\"");
    dir.write("collector.toml", text);
    CHECK(load_config(path, Registry{}, LoadOptions{false}).config);
}

TEST_CASE("the reference configuration loads")
{
    ConfigDir credentials;
    const ScopedEnv env("CREDENTIALS_DIRECTORY", credentials.path.c_str());
    credentials.write("c4c-acme-prod", "c4c-password\n");
    credentials.write("alm-acme-prod", "alm-client-secret\n");
    const auto result = load_config(fs::path(C4C_SOURCE_DIR) / "conf/c4c-alm-collector.toml");
    const auto& config = check_ok(result);
    REQUIRE(config.tenants.size() == 1);
    const auto& tenant = config.tenants[0];
    CHECK(tenant.name == "acme-prod");
    CHECK(tenant.c4c.password.reveal() == "c4c-password");
    CHECK(tenant.sources.size() == 3);
    REQUIRE(tenant.endpoints.size() == 3);
    for (const auto& [use_case, endpoint] : tenant.endpoints) {
        CAPTURE(use_case);
        CHECK(endpoint.auth == AuthKind::oauth2);
        CHECK(endpoint.client_secret.reveal() == "alm-client-secret");
    }
}

TEST_CASE("configurations compare by value, each source's own settings included, so a reload can tell what changed")
{
    ConfigDir dir;
    const std::string other_tenant = R"([[tenants]]
name = "t2"
[tenants.c4c]
url = "http://127.0.0.1:8081"
user = "CRUN"
password = "pw"
[tenants.sources.webservice_messages]
[tenants.endpoints.integration_monitoring]
url = "http://127.0.0.1:9090/im"
)";
    const auto first = check_ok(dir.load(std::string(k_minimal) + other_tenant));
    CHECK(first == check_ok(dir.load(std::string(k_minimal) + other_tenant)));

    auto text = std::string(k_minimal) + other_tenant;
    text.insert(text.find("[tenants.endpoints.business_process_monitoring]"), "collections = [\"LeadCollection\"]\n");
    const auto changed = check_ok(dir.load(text));
    CHECK_FALSE(first == changed);
    CHECK_FALSE(first.tenants[0] == changed.tenants[0]);
    CHECK_FALSE(first.tenants[0].sources == changed.tenants[0].sources);
    CHECK(first.tenants[0].endpoints == changed.tenants[0].endpoints);
    CHECK(first.tenants[1] == changed.tenants[1]);
}

TEST_SUITE_END();
