#pragma once

// The self-monitoring endpoints on `http.listen`: /metrics (Prometheus text), /healthz (the event loop
// answers), /readyz (configuration loaded and state store open; 503 with the reasons otherwise).

#include "daemon/http/server.hpp"

#include <functional>
#include <string>
#include <vector>

namespace c4c::daemon::health {

struct State {
    bool started = false;
    bool store_open = false;
    std::vector<std::string> not_ready;  ///< empty when ready
};

/// Answers one request. `metrics` produces the exposition text.
http::ServerResponse serve(const http::ServerRequest& request, const State& state,
                           const std::function<std::string()>& metrics);

} // namespace c4c::daemon::health
