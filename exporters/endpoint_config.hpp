#pragma once

// [tenants.endpoints.<use_case>]: one Cloud ALM endpoint of one tenant (CONTRACT.md section 2). The keys
// every endpoint has are read here; a kind's own keys by its kind (ExporterKind, exporter.hpp).

#include "infra/secrets.hpp"
#include "infra/units.hpp"

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

namespace c4c::infra {
class ConfigReader;
struct ConfigSection;
}  // namespace c4c::infra

namespace c4c::exporters {

struct ExporterKind;

enum class AuthKind { none, basic, oauth2 };

/// One Cloud ALM endpoint (one per use case).
struct EndpointConfig {
    std::string use_case;  ///< the endpoint's key: the use case it serves
    std::string url;
    AuthKind auth = AuthKind::none;
    std::string user;             ///< basic
    infra::Secret password;       ///< basic
    std::string token_url;        ///< oauth2
    std::string client_id;        ///< oauth2
    infra::Secret client_secret;  ///< oauth2
    std::string ca_file;
    infra::Duration timeout{std::chrono::seconds(30)};
    int max_batch_events = 1000;
    std::size_t max_batch_bytes = 4u << 20;
    bool gzip = true;
    std::size_t max_outbox_events = 1'000'000;            ///< sources stop advancing beyond this
    std::size_t max_outbox_bytes = std::size_t{1} << 30;  ///< sources stop advancing beyond this
    infra::Duration interval{std::chrono::seconds(60)};   ///< health_monitoring: push period

    friend bool operator==(const EndpointConfig&, const EndpointConfig&) = default;
};

/// Reads the endpoint table of `use_case`, served by `kind`: the keys every endpoint has, then the kind's
/// own. A key that only another of `kinds` takes is reported as applying to that kind only; any other
/// key left over as unknown.
EndpointConfig read_endpoint_config(infra::ConfigReader& reader, infra::ConfigSection& section,
                                    const std::string& use_case, const ExporterKind& kind,
                                    std::span<const ExporterKind* const> kinds);

}  // namespace c4c::exporters
