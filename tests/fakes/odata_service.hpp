#pragma once

// The fake C4C OData v2 API for business objects:
// GET /sap/c4c/odata/v1/{service}/{Collection}?$format=json&$filter=...&$orderby=...&$top=...
// with C4C's server-side paging (1000 rows, absolute __next carrying $skiptoken).

#include "tests/fakes/c4c_data.hpp"
#include "tests/fakes/http_util.hpp"

#include <string>

namespace c4c::sim {

class ODataService {
public:
    ODataService(World& world, const std::string& fallback_host) : m_world(world), m_fallback_host(fallback_host) {}

    /// Answers a request under /sap/c4c/odata/v1/ (authentication already checked).
    ServerResponse handle(const ServerRequest& request);

private:
    World& m_world;
    const std::string& m_fallback_host;  ///< host:port for __next when a request has no Host
};

}  // namespace c4c::sim
