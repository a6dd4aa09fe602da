#pragma once

// The daemon's side of `backfill` (daemon/cli_backfill.cpp is the command's): a job in the state store
// (kind infra::k_job_backfill, infra/job_events.hpp) asks to read a window of one source from C4C again
// and deliver every record state in it, those delivered before included. The daemon looks for such jobs
// with the other operator jobs, once a second, and runs each as a task beside the source's own poll
// loop: a fresh collector of the source's kind polled with PollContext::window, through a
// BackfillFeedStore. That store keeps the window's cursors in the job row (committed with each page's
// events), so the source's checkpoint never moves, and a job survives a restart or `kill -9` of the
// daemon: it stays `running` and resumes from its cursors. A failed window poll (C4C down, outbox full)
// is retried with backoff, its message kept in the job's progress; a reload cancels the task and the
// next look starts it again on the new configuration. Everything here runs on the event loop.

#include "collectors/collector.hpp"
#include "daemon/runtime.hpp"
#include "infra/state_store.hpp"
#include "infra/tasks.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace c4c::daemon {

/// A backfill job's arguments.
struct BackfillArguments {
    std::string tenant;
    std::string source;
    std::chrono::system_clock::time_point from;  ///< inclusive
    std::chrono::system_clock::time_point to;    ///< exclusive
};

/// {"tenant":..,"source":..,"from":"ISO 8601 ms","to":..}.
std::string backfill_arguments(const BackfillArguments& arguments);
/// The arguments of a job; nullopt when they are not a backfill's.
std::optional<BackfillArguments> parse_backfill_arguments(std::string_view json);

/// A backfill job's progress, as kept in its row.
struct BackfillProgress {
    std::map<std::string, std::string, std::less<>> cursors;  ///< the window's cursor of each feed
    std::optional<std::chrono::system_clock::time_point> to;  ///< the window's end as run (at most the tenant's now)
    std::uint64_t read = 0;  ///< records read from C4C (a resumed page again); queued: StateStore::job_event_figures
    std::string error;       ///< the last failed attempt's message, "" after a success

    std::string json() const;
    /// Unreadable or empty text gives an empty progress (the window from its start).
    static BackfillProgress parse(std::string_view json);
};

/// A backfill job's FeedStore: pages go into the source's endpoint's outbox through StateStore::commit_page
/// with a BackfillPage (every state the job has not stored yet, `seen` or not), the cursors into the job's
/// progress in the same transaction; the feed's own checkpoint is never touched.
class BackfillFeedStore final : public collectors::FeedStore {
public:
    BackfillFeedStore(EndpointRuntime& endpoint, std::int64_t job, std::string tenant, std::string source,
                      infra::SourceMetrics& metrics, BackfillProgress progress);

    /// The window's cursor of `feed`, "" at the window's start.
    std::string checkpoint(std::string_view feed) override;
    collectors::CommitStatus commit(std::string_view feed, const collectors::FeedPage& page,
                                    std::size_t& stored) override;
    bool accepting() override;

    BackfillProgress& progress() { return m_progress; }

private:
    EndpointRuntime& m_endpoint;
    std::int64_t m_job;
    std::string m_tenant;
    std::string m_source;
    infra::SourceMetrics& m_metrics;
    BackfillProgress m_progress;
};

/// Starts and tracks the backfill jobs of one daemon.
class BackfillRunner {
public:
    /// Looks at the open jobs of `store`: a backfill job without a task in this process gets one among the
    /// tasks of the tenant of `tenants` it names (on `executor`; stopping the tenant stops it), on its source; a job naming a tenant or source
    /// the configuration lacks (or has disabled), or with unreadable arguments, is marked failed. Also
    /// prunes the job_events of jobs gone. Never throws.
    void tick(infra::StateStore& store, const boost::asio::any_io_executor& executor,
              std::list<std::unique_ptr<TenantRuntime>>& tenants, const std::filesystem::path& state_dir);

private:
    std::shared_ptr<std::set<std::int64_t>> m_running = std::make_shared<std::set<std::int64_t>>();
    std::chrono::steady_clock::time_point m_next_prune{};
};

}  // namespace c4c::daemon
