#pragma once

// Periodic care of the state store (CONTRACT.md section 5), on the event loop:
//  - seen event ids are forgotten once no feed can read their record state again: each feed by its own
//    checkpoint (seen_horizon), never by wall-clock age alone, so a stop of any length, a source held back by
//    a full outbox or a walk stuck mid-interval re-reads its window without enqueuing anything twice;
//  - rejected events and quarantined records older than `retention` are deleted;
//  - free pages beyond a slack go back to the file system in bounded steps (incremental vacuum), so a large
//    backlog, once delivered, does not keep the file at its size.

#include "daemon/config.hpp"
#include "infra/state_store.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace c4c::daemon {

/// Kept beyond each feed's re-read window: a tenant clock stepped back, or an overlap widened by a reload,
/// still finds its ids within it.
inline constexpr std::chrono::hours k_seen_margin{24};

/// The record time (ns) below which the feed of `row` (key "tenant/source/feed") cannot read a record again:
/// min(its checkpoint's instant, now) - overlap - k_seen_margin, or now - lookback - k_seen_margin while it
/// has no instant (its next poll starts at now - lookback). Overlap and lookback are its source's in
/// `config` (enabled or not), the defaults for a source no longer configured.
std::int64_t seen_horizon(const infra::FeedCheckpoint& row, const Config& config, std::int64_t now_ns);

class Housekeeping {
public:
    static constexpr std::chrono::minutes k_prune_period{15};
    static constexpr std::chrono::hours k_purge_period{1};
    static constexpr std::size_t k_vacuum_pages = 256;                 ///< per step (4 MiB of 16 KiB pages)
    static constexpr std::size_t k_free_slack = std::size_t{4} << 20;  ///< free bytes kept for reuse
    static constexpr std::chrono::milliseconds k_vacuum_budget{50};    ///< per tick

    /// One round (the daemon runs one every 30 s, the first at start): forgets seen ids (every
    /// k_prune_period), purges what is past `config.retention` (every k_purge_period), and gives free pages
    /// back while the tick's budget lasts. `now` is the host's clock. Never throws; failures are logged by
    /// the store.
    void tick(infra::StateStore& store, const Config& config,
              std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

private:
    std::optional<std::chrono::steady_clock::time_point> m_pruned;
    std::optional<std::chrono::steady_clock::time_point> m_purged;
};

}  // namespace c4c::daemon
