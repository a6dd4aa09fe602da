#pragma once

// The operator's view of an installation (CONTRACT.md section 1 `status`, section 6 `GET /status`): per
// tenant and source the checkpoint, the last poll and the quarantined records; per endpoint the queue,
// its oldest event, the set-aside events and the delivery state. Built from the configuration and the
// state store alone (the daemon records each poll and each change of delivery state there), so the
// command, running daemon or not, and a running daemon's /status show the same.

#include "daemon/config.hpp"
#include "infra/state_store.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace c4c::daemon {

struct FeedCheckpoint {
    std::string feed;                        ///< the collector's key ("OpportunityCollection", "messages")
    std::string value;                       ///< as stored
    std::optional<std::int64_t> instant_ms;  ///< what it stands for, when readable
    std::int64_t updated_at_ms = 0;
};

struct SourceStatus {
    std::string name;
    std::string endpoint;  ///< the use case it feeds
    bool enabled = true;
    /// "ok" (last poll succeeded), "down" (it failed), "blocked" (its endpoint's outbox is full),
    /// "waiting" (not polled yet), "disabled"
    std::string state;
    std::vector<FeedCheckpoint> feeds;
    std::optional<std::int64_t> checkpoint_ms;  ///< the oldest feed's instant: how far the source has read
    std::optional<infra::PollRecord> last_poll;
    std::uint64_t quarantined = 0;
};

struct EndpointStatus {
    std::string name;
    bool has_outbox = true;  ///< false for health_monitoring, whose metrics are pushed as they are made
    /// "ok", "retrying" (the last send failed: reason is its label) or "paused" (refused credentials:
    /// reason is the answer)
    std::string state = "ok";
    std::string reason;
    std::optional<std::int64_t> since_ms;
    infra::OutboxFigures figures;           ///< queued events and payload bytes, set-aside events
    std::optional<std::int64_t> oldest_ms;  ///< when the oldest queued event was enqueued
};

struct TenantStatus {
    std::string name;
    std::vector<SourceStatus> sources;
    std::vector<EndpointStatus> endpoints;
};

struct DaemonStatus {
    bool running = false;
    long pid = 0;
    std::string role;  ///< "daemon" or "once"
};

struct Status {
    std::int64_t generated_at_ms = 0;
    std::string state_dir;
    DaemonStatus daemon;
    std::string note;  ///< what limits this view (no state store yet, an older schema); "" when nothing
    std::vector<TenantStatus> tenants;
};

/// The view of `config`'s tenants as `store` holds them (null: no state store yet). Reads only. `registry`
/// tells each source's use case and how its checkpoints read.
Status collect_status(const Config& config, infra::StateStore* store, DaemonStatus daemon,
                      std::chrono::system_clock::time_point now, const Registry& registry = {});

/// The JSON document of `status --json` and `GET /status` (ages in seconds as of generated_at).
std::string status_json(const Status& status);

/// A rough age for a person: "45s", "12m", "3h20m", "2d4h"; "-" for a negative or absent one.
std::string format_age(std::optional<double> seconds);

/// "512 B", "1.2 KiB", "3.4 MiB", "1.0 GiB".
std::string format_bytes(std::size_t bytes);

/// Seconds from `instant_ms` to `now_ms`, never negative.
double age_seconds(std::int64_t instant_ms, std::int64_t now_ms);

}  // namespace c4c::daemon
