#pragma once

// The status on the monitoring port (CONTRACT.md section 6): `GET /status` answers the `status --json`
// document, `GET /` a page for a person with a browser: one self-contained HTML document (inline style
// and script, no external assets, works offline) with a row per source (state as text and colour, last
// success, checkpoint lag) and a row per endpoint (state, queue depth, oldest event), which reloads its
// figures every 5 s and says so when the daemon stops answering.

#include "daemon/config.hpp"
#include "daemon/status.hpp"
#include "infra/http/server.hpp"
#include "infra/state_store.hpp"

#include <optional>
#include <string>

namespace c4c::daemon {

/// The page for `status`.
std::string status_page(const Status& status);

/// Answers GET or HEAD of `/status` and `/` with the running daemon's status as `store` holds it;
/// nullopt for any other request (left to the other endpoints).
std::optional<infra::http::ServerResponse> serve_status(const infra::http::ServerRequest& request, const Config& config,
                                                        infra::StateStore* store);

}  // namespace c4c::daemon
