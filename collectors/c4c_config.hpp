#pragma once

// [tenants.c4c]: where a tenant's C4C system is and how to reach it (CONTRACT.md section 2).

#include "infra/secrets.hpp"
#include "infra/units.hpp"

#include <chrono>
#include <string>

namespace c4c::infra {
class ConfigReader;
struct ConfigSection;
}  // namespace c4c::infra

namespace c4c::collectors {

struct C4cConfig {
    std::string url;  ///< scheme://host[:port], no trailing slash
    std::string user;
    infra::Secret password;
    std::string ca_file;  ///< optional extra PEM trust anchor (absolute path once loaded)
    infra::Duration timeout{std::chrono::seconds(30)};
    int max_connections = 4;

    friend bool operator==(const C4cConfig&, const C4cConfig&) = default;
};

/// Reads [tenants.c4c], reporting each problem (and each unknown key) through `reader`.
C4cConfig read_c4c_config(infra::ConfigReader& reader, infra::ConfigSection& section);

}  // namespace c4c::collectors
