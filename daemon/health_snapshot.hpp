#pragma once

// The daemon's view of one tenant, as pushed to its health_monitoring endpoint (CONTRACT.md section 4):
// per source its availability, last request duration and records read (and, for a feed that counts
// failed items upstream, their count, CollectorKind::failed_items); per outbox its depth.

#include "daemon/runtime.hpp"
#include "exporters/otlp_json.hpp"

#include <vector>

namespace c4c::daemon {

/// The points of one push, taken now. Runs on the event loop.
std::vector<exporters::MetricPoint> health_snapshot(const TenantRuntime& tenant);

}  // namespace c4c::daemon
