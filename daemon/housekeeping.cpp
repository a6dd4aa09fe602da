#include "daemon/housekeeping.hpp"

#include "infra/time.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>
#include <vector>

namespace c4c::daemon {

namespace {

// The configuration of the source a feed key ("tenant/source/feed") belongs to, or nullptr.
const collectors::SourceConfig* source_of(std::string_view feed, const Config& config)
{
    const auto first = feed.find('/');
    const auto second = first == std::string_view::npos ? first : feed.find('/', first + 1);
    if (second == std::string_view::npos) {
        return nullptr;
    }
    const auto tenant = feed.substr(0, first);
    const auto source = feed.substr(first + 1, second - first - 1);
    for (const auto& candidate : config.tenants) {
        if (candidate.name == tenant) {
            const auto it = candidate.sources.find(std::string(source));
            return it == candidate.sources.end() ? nullptr : &it->second;
        }
    }
    return nullptr;
}

std::int64_t nanos(infra::Duration duration)
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
}

}  // namespace

std::int64_t seen_horizon(const infra::FeedCheckpoint& row, const Config& config, std::int64_t now_ns)
{
    static const collectors::SourceConfig k_defaults;
    const collectors::SourceConfig* source = source_of(row.feed, config);
    const collectors::SourceConfig& settings = source ? *source : k_defaults;
    const std::int64_t margin = std::chrono::duration_cast<std::chrono::nanoseconds>(k_seen_margin).count();
    if (row.checkpoint_ns) {
        // A checkpoint ahead of now (the tenant's clock is ahead) is read as now, as the collectors do.
        return std::min(*row.checkpoint_ns, now_ns) - nanos(settings.overlap) - margin;
    }
    return now_ns - nanos(settings.lookback) - margin;
}

void Housekeeping::tick(infra::StateStore& store, const Config& config, std::chrono::system_clock::time_point now)
{
    const auto steady = std::chrono::steady_clock::now();
    if (!m_pruned || steady - *m_pruned >= k_prune_period) {
        m_pruned = steady;
        const std::int64_t now_ns = infra::unix_nanos(now);
        std::vector<infra::SeenHorizon> horizons;
        std::optional<std::int64_t> earliest;
        for (const auto& row : store.feed_checkpoints()) {
            const std::int64_t horizon = seen_horizon(row, config, now_ns);
            horizons.push_back(infra::SeenHorizon{row.id, horizon});
            earliest = std::min(earliest.value_or(horizon), horizon);
        }
        // Ids stored before their feed was recorded (feed 0) go once every feed's window has passed them.
        if (earliest) {
            if (const auto removed = store.prune_seen(horizons, *earliest); removed > 0) {
                spdlog::debug("forgot {} event ids that no feed can read again", removed);
            }
        }
    }
    if (!m_purged || steady - *m_purged >= k_purge_period) {
        m_purged = steady;
        const auto purged = store.purge_set_aside(now - config.retention);
        if (purged.rejected > 0 || purged.quarantined > 0) {
            const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(config.retention).count();
            spdlog::info("deleted {} rejected event(s) and {} quarantined record(s) kept longer than the retention "
                         "({})",
                         purged.rejected, purged.quarantined,
                         seconds % 86400 == 0 ? fmt::format("{}d", seconds / 86400) : fmt::format("{}s", seconds));
        }
    }
    std::size_t pages = 0;
    while (std::chrono::steady_clock::now() - steady < k_vacuum_budget) {
        const std::size_t step = store.vacuum_step(k_vacuum_pages, k_free_slack);
        if (step == 0) {
            break;
        }
        pages += step;
    }
    if (pages > 0) {
        spdlog::debug("gave {} free page(s) of the state store back to the file system", pages);
    }
}

}  // namespace c4c::daemon
