#include "daemon/scheduler.hpp"

#include "daemon/status_recorder.hpp"
#include "infra/backoff.hpp"
#include "infra/logging.hpp"
#include "infra/metrics.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

namespace c4c::daemon {

using namespace c4c::infra;

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Reasons a poll can fail without a failed HTTP request (those are counted by request_done).
bool counted_by_poll(const collectors::FailureReason& reason)
{
    using Kind = collectors::FailureReason::Kind;
    switch (reason.kind) {
    case Kind::parse:
    case Kind::timezone:
    case Kind::pseudonymization:
    case Kind::store:
    case Kind::outbox_full:
    case Kind::soap_fault:
    case Kind::paging:
    case Kind::internal:
        return true;
    case Kind::none:
    case Kind::network:
    case Kind::http_status:
    case Kind::cancelled:
        break;
    }
    return false;
}

void record(SourceRuntime& source, const collectors::PollOutcome& outcome)
{
    if (!source.dry_run && source.endpoint.store != nullptr) {
        record_poll(*source.endpoint.store, source.tenant.name, source.config.name, outcome,
                    std::chrono::system_clock::now());
    }
    source.polled = true;
    source.records_total += outcome.records;
    source.failed_messages_total += outcome.failed_messages;
    source.metrics.records->Increment(static_cast<double>(outcome.records));
    if (source.metrics.failed_messages) {
        source.metrics.failed_messages->Increment(static_cast<double>(outcome.failed_messages));
    }
    source.metrics.blocked->Set(outcome.reason == collectors::FailureReason::Kind::outbox_full ? 1 : 0);
    const std::string where = source.tenant.name + "/" + source.config.name;
    if (outcome.ok) {
        source.up = true;
        source.metrics.up->Set(1);
        source.metrics.last_success->Set(unix_seconds(std::chrono::system_clock::now()));
        if (source.consecutive_failures > 0) {
            spdlog::info("tenant {} source {}: recovered after {} failed poll(s)", source.tenant.name,
                         source.config.name, source.consecutive_failures);
        }
        source.consecutive_failures = 0;
        source.failure_log.reset();
        spdlog::debug("{}: polled {} records, {} new", where, outcome.records, outcome.stored);
        return;
    }
    ++source.consecutive_failures;
    if (counted_by_poll(outcome.reason)) {
        source.metrics.errors(outcome.reason.label()).Increment();
    }
    if (outcome.reason != collectors::FailureReason::Kind::outbox_full) {
        source.up = false;
        source.metrics.up->Set(0);
    }
    if (outcome.reason == collectors::FailureReason::Kind::internal) {
        // A bug, not a condition of the tenant: every occurrence is worth a line (the backoff bounds them).
        spdlog::error("{}", outcome.message);
    } else if (auto suppressed = source.failure_log.admit()) {
        const auto suffix = suppressed_note(*suppressed);
        if (outcome.auth_failed) {
            spdlog::error("{}; source is down until the next interval{}", outcome.message, suffix);
        } else if (outcome.reason == collectors::FailureReason::Kind::outbox_full) {
            spdlog::warn("{}{}", outcome.message, suffix);
        } else {
            spdlog::error("{}{}", outcome.message, suffix);
        }
    }
}

}  // namespace

asio::awaitable<collectors::PollOutcome> poll_source(TenantRuntime& tenant, SourceRuntime& source,
                                                     const std::filesystem::path& state_dir)
{
    collectors::PollContext context{tenant.config.name, tenant.config.c4c,
                                    source.config,      tenant.c4c,
                                    *source.store,      source,
                                    state_dir,          std::chrono::system_clock::now(),
                                    &tenant.clock,      source.dry_run};
    collectors::PollOutcome outcome;
    std::optional<std::string> escaped;
    try {
        outcome = co_await source.collector->poll(context);
    } catch (const std::exception& e) {
        escaped = e.what();
    } catch (...) {
        escaped = "an exception that is not a std::exception";
    }
    if (escaped) {
        // A collector must not throw (collector.hpp); one that does anyway fails this poll only, so the
        // source's loop counts it, backs off and goes on instead of ending for good.
        outcome = collectors::PollOutcome{};
        outcome.ok = false;
        if (co_await cancelled()) {
            outcome.reason = collectors::FailureReason::Kind::cancelled;
            co_return outcome;
        }
        outcome.reason = collectors::FailureReason::Kind::internal;
        outcome.message = fmt::format("tenant {} source {}: the poll failed with an unexpected error: {}; this is a "
                                      "bug (please report it with this line); the poll is retried after a backoff",
                                      tenant.config.name, source.config.name, *escaped);
    }
    record(source, outcome);
    co_return outcome;
}

Duration first_poll_spread(std::size_t sources)
{
    return std::min<Duration>(5s, std::chrono::milliseconds(20) * static_cast<std::int64_t>(sources));
}

asio::awaitable<void> run_source(TenantRuntime& tenant, SourceRuntime& source, std::filesystem::path state_dir,
                                 Duration spread)
{
    using clock = std::chrono::steady_clock;
    const auto interval = source.config.interval;
    // Each poll has a planned start; how late it actually starts (a busy loop, or a previous poll that
    // overran its interval) is the schedule lag.
    auto planned = clock::now() + jitter(std::min<Duration>(interval, spread), 1.0);
    Backoff error_backoff(std::chrono::seconds(5), interval);
    for (;;) {
        if (!co_await sleep_for(planned - clock::now())) {
            co_return;
        }
        const auto started = clock::now();
        source.metrics.schedule_lag->Observe(std::max(0.0, std::chrono::duration<double>(started - planned).count()));
        auto outcome = co_await poll_source(tenant, source, state_dir);
        if (co_await cancelled()) {
            co_return;
        }
        if (outcome.ok) {
            error_backoff.reset();
            planned = started + interval;
        } else if (outcome.auth_failed) {
            planned = clock::now() + interval;
        } else if (outcome.reason == collectors::FailureReason::Kind::outbox_full) {
            planned = clock::now() + std::min<clock::duration>(interval, 5s);
        } else {
            planned = clock::now() + std::min<clock::duration>(interval, error_backoff.next());
        }
    }
}

}  // namespace c4c::daemon
