#pragma once

// The simulator's control API for tests (JSON in and out, no auth), under /_sim/:
// stats, received records, metrics bodies, the tenant's current records and their history,
// fault rules, changes on demand, and a sink reset. See tests/fakes/README.md.

#include "tests/fakes/http_util.hpp"

namespace c4c::sim {

class Simulator;

/// Answers a request whose path starts with /_sim/.
ServerResponse handle_control(Simulator& sim, const ServerRequest& request);

}  // namespace c4c::sim
