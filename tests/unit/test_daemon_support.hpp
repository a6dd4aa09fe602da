#pragma once

// What the daemon's unit tests share: a state store in a directory of its own, removed afterwards, and the
// configuration of one tenant that the store's side needs.

#include "daemon/config.hpp"
#include "temp_dir.hpp"

#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace c4c::daemon::test {

using unit_tests::TempDir;

/// Tenant "acme" storing in `state_dir`, with each of `sources` (a source's kind, and the use case of its
/// endpoint) at its defaults: no URL, no credentials, nothing that talks to C4C or Cloud ALM.
inline Config acme_config(const std::filesystem::path& state_dir,
                          std::initializer_list<std::pair<std::string_view, std::string_view>> sources)
{
    Config config;
    config.state_dir = state_dir;
    TenantConfig tenant;
    tenant.name = "acme";
    for (const auto& [name, use_case] : sources) {
        collectors::SourceConfig source;
        source.name = std::string(name);
        tenant.sources.emplace(source.name, source);
        exporters::EndpointConfig endpoint;
        endpoint.use_case = std::string(use_case);
        tenant.endpoints.emplace(endpoint.use_case, endpoint);
    }
    config.tenants.push_back(tenant);
    return config;
}

}  // namespace c4c::daemon::test
