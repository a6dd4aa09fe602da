#include "daemon/self_monitoring.hpp"

#include <nlohmann/json.hpp>

namespace c4c::daemon::self_monitoring {

using namespace c4c::infra;

http::ServerResponse serve(const http::ServerRequest& request, const State& state,
                           const std::function<std::string()>& metrics)
{
    http::ServerResponse response;
    const auto path = request.path();
    if (request.method != "GET" && request.method != "HEAD") {
        response.status = 405;
        response.headers.emplace_back("Allow", "GET, HEAD");
        response.body = "method not allowed\n";
        return response;
    }
    if (path == "/metrics") {
        response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        response.body = metrics();
    } else if (path == "/healthz") {
        response.body = "ok\n";
    } else if (path == "/readyz") {
        nlohmann::json body;
        response.content_type = "application/json";
        if (state.not_ready.empty() && state.started && state.store_open) {
            body["status"] = "ready";
        } else {
            response.status = 503;
            body["status"] = "not ready";
            body["reasons"] = state.not_ready;
        }
        response.body = body.dump() + "\n";
    } else {
        response.status = 404;
        response.body = "not found\n";
    }
    return response;
}

}  // namespace c4c::daemon::self_monitoring
