#include "exporters/endpoint_config.hpp"

#include "exporters/exporter.hpp"
#include "infra/config_reader.hpp"

#include <array>
#include <limits>
#include <string_view>

namespace c4c::exporters {

namespace {

constexpr std::array<std::string_view, 3> k_basic_keys{"user", "password", "password_file"};
constexpr std::array<std::string_view, 4> k_oauth2_keys{"token_url", "client_id", "client_secret",
                                                        "client_secret_file"};

void read_auth(infra::ConfigReader& reader, infra::ConfigSection& section, EndpointConfig& endpoint)
{
    using namespace infra::checks;
    std::string auth = "none";
    if (section.has("auth") &&
        !reader.read(section, "auth", auth, one_of({"none", "basic", "oauth2"}, "must be basic, oauth2 or none"))) {
        // Whatever was meant, the credential keys are not unknown: do not pile errors on top.
        section.seen.insert(k_basic_keys.begin(), k_basic_keys.end());
        section.seen.insert(k_oauth2_keys.begin(), k_oauth2_keys.end());
        return;
    }
    if (auth == "basic") {
        endpoint.auth = AuthKind::basic;
        reader.require(section, {"user"});
        reader.read(section, "user", endpoint.user, not_empty);
        reader.read_secret(section, "password", endpoint.password);
    } else if (auth == "oauth2") {
        endpoint.auth = AuthKind::oauth2;
        reader.require(section, {"token_url", "client_id"});
        reader.read(section, "token_url", endpoint.token_url, http_url(QueryRule::allowed));
        reader.read(section, "client_id", endpoint.client_id, not_empty);
        reader.read_secret(section, "client_secret", endpoint.client_secret);
    }
    const auto why = "does not apply to auth = \"" + auth + "\"";
    reader.reject(section, k_basic_keys, why);
    reader.reject(section, k_oauth2_keys, why);
}

}  // namespace

EndpointConfig read_endpoint_config(infra::ConfigReader& reader, infra::ConfigSection& section,
                                    const std::string& use_case, const ExporterKind& kind,
                                    std::span<const ExporterKind* const> kinds)
{
    using namespace infra::checks;
    EndpointConfig endpoint;
    endpoint.use_case = use_case;
    reader.require(section, {"url"});
    reader.read(section, "url", endpoint.url, http_url(QueryRule::allowed));
    read_auth(reader, section, endpoint);
    reader.read_ca_file(section, endpoint.ca_file);
    reader.read(section, "timeout", endpoint.timeout, positive);
    reader.read<std::int64_t>(section, "max_batch_events", endpoint.max_batch_events, in_range(1, 100000));
    reader.read<infra::Size>(section, "max_batch_bytes", endpoint.max_batch_bytes, at_least(1024));
    reader.read(section, "gzip", endpoint.gzip);
    reader.read<std::int64_t>(section, "max_outbox_events", endpoint.max_outbox_events,
                              in_range(1, std::numeric_limits<std::int64_t>::max()));
    reader.read<infra::Size>(section, "max_outbox_bytes", endpoint.max_outbox_bytes, at_least(1));
    if (kind.read_settings != nullptr) {
        kind.read_settings(reader, section, endpoint);
    }
    for (const auto* other : kinds) {
        if (other != &kind) {
            reader.reject(section, other->own_keys, "applies to " + std::string(other->name) + " only");
        }
    }
    reader.finish(section);
    return endpoint;
}

}  // namespace c4c::exporters
