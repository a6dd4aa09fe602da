#pragma once

// The self-monitoring endpoints on `http.listen`: /metrics (Prometheus text), /healthz (the event loop
// answers), /readyz (configuration loaded and state store open; 503 with the reasons otherwise). `/` and
// `/status` are daemon/status_page.hpp's.

#include "infra/http/server.hpp"

#include <functional>
#include <string>
#include <vector>

namespace c4c::daemon::self_monitoring {

struct State {
    bool started = false;
    bool store_open = false;
    std::vector<std::string> not_ready;  ///< empty when ready
};

/// Answers one request. `metrics` produces the exposition text.
infra::http::ServerResponse serve(const infra::http::ServerRequest& request, const State& state,
                                  const std::function<std::string()>& metrics);

}  // namespace c4c::daemon::self_monitoring
