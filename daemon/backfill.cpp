#include "daemon/backfill.hpp"

#include "collectors/soap.hpp"
#include "collectors/tenant_clock.hpp"
#include "daemon/quarantine.hpp"
#include "exporters/otlp_json.hpp"
#include "infra/backoff.hpp"
#include "infra/job_events.hpp"
#include "infra/logging.hpp"
#include "infra/time.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

namespace c4c::daemon {

using namespace c4c::infra;

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::system_clock;

std::optional<Clock::time_point> parse_instant(const nlohmann::json& json, const char* key)
{
    const auto found = json.find(key);
    if (found == json.end() || !found->is_string()) {
        return std::nullopt;
    }
    const auto ns = collectors::soap::parse_iso8601_ns(found->get<std::string>());
    if (!ns) {
        return std::nullopt;
    }
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(*ns)));
}

std::string text_of(const nlohmann::json& json, const char* key)
{
    const auto found = json.find(key);
    return found != json.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::uint64_t count_of(const nlohmann::json& json, const char* key)
{
    const auto found = json.find(key);
    return found != json.end() && found->is_number_unsigned() ? found->get<std::uint64_t>() : 0;
}

std::string result_json(StateStore& store, std::int64_t job, const BackfillProgress& progress, std::string_view note)
{
    const auto figures = store.job_event_figures(job);
    nlohmann::json result{{"read", progress.read}, {"queued", figures ? figures->queued : 0}};
    if (!note.empty()) {
        result["note"] = note;
    }
    return result.dump();
}

// Takes the job's id out of the running set when the task ends, however it ends.
struct RunningGuard {
    std::shared_ptr<std::set<std::int64_t>> running;
    std::int64_t job;
    ~RunningGuard() { running->erase(job); }
};

asio::awaitable<void> run_backfill(StateStore& store, TenantRuntime& tenant, SourceRuntime& source, Job job,
                                   BackfillArguments arguments, std::filesystem::path state_dir,
                                   std::shared_ptr<std::set<std::int64_t>> running)
{
    const RunningGuard guard{std::move(running), job.id};
    const std::string where =
        fmt::format("backfill job {} (tenant {} source {})", job.id, arguments.tenant, arguments.source);
    BackfillFeedStore feed_store(source.endpoint, job.id, arguments.tenant, arguments.source, source.metrics,
                                 BackfillProgress::parse(job.progress));
    BackfillProgress& progress = feed_store.progress();
    auto collector = source.kind.make(source.config);
    Backoff backoff(5s, std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::max<infra::Duration>(source.config.interval, 30s)));
    LogLimiter failure_log(5min);
    if (job.state == JobState::pending) {
        spdlog::info("{}: reading {} to {} from C4C again", where, format_iso8601_ms(arguments.from),
                     format_iso8601_ms(arguments.to));
    } else {
        spdlog::info("{}: resuming the window {} to {} where it stopped", where, format_iso8601_ms(arguments.from),
                     format_iso8601_ms(arguments.to));
    }
    for (;;) {
        collectors::PollContext context{
            tenant.config.name, tenant.config.c4c, source.config, tenant.c4c, feed_store, source,
            state_dir,          Clock::now(),      &tenant.clock, false};
        if (!progress.to) {
            // Records stamped after the tenant's now do not exist yet: the window ends there at the latest,
            // fixed at the job's start so that a resume reads the same window.
            const Clock::time_point tenant_now =
                std::chrono::floor<std::chrono::milliseconds>(collectors::tenant_now(context));
            progress.to = std::min(arguments.to, tenant_now);
            if (!store.update_job(job.id, JobState::running, progress.json(), "")) {
                co_return;  // the job is gone, or the store failed (logged); the next look tries again
            }
        }
        if (*progress.to <= arguments.from) {
            store.update_job(
                job.id, JobState::done, progress.json(),
                result_json(store, job.id, progress, "the window starts after the tenant's clock: nothing to read"));
            co_return;
        }
        context.window = collectors::PollWindow{arguments.from, *progress.to};
        collectors::PollOutcome outcome;
        std::string escaped;
        try {
            outcome = co_await collector->poll(context);
        } catch (const std::exception& e) {
            escaped = e.what();
        }
        if (co_await cancelled()) {
            co_return;  // shutdown or reload: the job stays running and resumes from its cursors
        }
        if (!escaped.empty()) {
            outcome.ok = false;
            outcome.reason = collectors::FailureReason::Kind::internal;
            outcome.message = fmt::format("tenant {} source {}: the window's poll failed with an unexpected error: "
                                          "{}; this is a bug (please report it with this line)",
                                          arguments.tenant, arguments.source, escaped);
        }
        if (outcome.ok) {
            progress.error.clear();
            const auto result = result_json(store, job.id, progress, "");
            if (store.update_job(job.id, JobState::done, progress.json(), result)) {
                spdlog::info("{}: done: {} record(s) read; {}", where, progress.read, result);
            }
            co_return;
        }
        progress.error = outcome.message;
        store.update_job(job.id, JobState::running, progress.json(), "");
        const bool full = outcome.reason == collectors::FailureReason::Kind::outbox_full;
        const std::chrono::steady_clock::duration delay =
            full ? std::chrono::steady_clock::duration(5s) : std::chrono::steady_clock::duration(backoff.next());
        if (auto suppressed = failure_log.admit()) {
            spdlog::warn("{}: {}; tried again in {} s{}", where, outcome.message,
                         std::chrono::duration_cast<std::chrono::seconds>(delay).count(), suppressed_note(*suppressed));
        }
        if (!co_await sleep_for(delay)) {
            co_return;
        }
    }
}

}  // namespace

std::string backfill_arguments(const BackfillArguments& arguments)
{
    return nlohmann::json{{"tenant", arguments.tenant},
                          {"source", arguments.source},
                          {"from", format_iso8601_ms(arguments.from)},
                          {"to", format_iso8601_ms(arguments.to)}}
        .dump();
}

std::optional<BackfillArguments> parse_backfill_arguments(std::string_view json_text)
{
    const auto json = nlohmann::json::parse(json_text, nullptr, false);
    if (!json.is_object()) {
        return std::nullopt;
    }
    BackfillArguments arguments;
    arguments.tenant = text_of(json, "tenant");
    arguments.source = text_of(json, "source");
    const auto from = parse_instant(json, "from");
    const auto to = parse_instant(json, "to");
    if (arguments.tenant.empty() || arguments.source.empty() || !from || !to || *from >= *to) {
        return std::nullopt;
    }
    arguments.from = *from;
    arguments.to = *to;
    return arguments;
}

std::string BackfillProgress::json() const
{
    nlohmann::json json{{"cursors", cursors}, {"read", read}};
    if (to) {
        json["to"] = format_iso8601_ms(*to);
    }
    if (!error.empty()) {
        json["error"] = error;
    }
    return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

BackfillProgress BackfillProgress::parse(std::string_view json_text)
{
    BackfillProgress progress;
    const auto json = nlohmann::json::parse(json_text, nullptr, false);
    if (!json.is_object()) {
        return progress;
    }
    if (const auto cursors = json.find("cursors"); cursors != json.end() && cursors->is_object()) {
        for (const auto& [feed, cursor] : cursors->items()) {
            if (cursor.is_string()) {
                progress.cursors.emplace(feed, cursor.get<std::string>());
            }
        }
    }
    progress.to = parse_instant(json, "to");
    progress.read = count_of(json, "read");
    progress.error = text_of(json, "error");
    return progress;
}

// ---------------------------------------------------------------------------------------------------
// BackfillFeedStore

BackfillFeedStore::BackfillFeedStore(EndpointRuntime& endpoint, std::int64_t job, std::string tenant,
                                     std::string source, SourceMetrics& metrics, BackfillProgress progress)
    : m_endpoint(endpoint),
      m_job(job),
      m_tenant(std::move(tenant)),
      m_source(std::move(source)),
      m_metrics(metrics),
      m_progress(std::move(progress))
{}

std::string BackfillFeedStore::checkpoint(std::string_view feed)
{
    const auto found = m_progress.cursors.find(feed);
    return found == m_progress.cursors.end() ? std::string() : found->second;
}

collectors::CommitStatus BackfillFeedStore::commit(std::string_view feed, const collectors::FeedPage& page,
                                                   std::size_t& stored)
{
    stored = 0;
    if (!m_endpoint.accepting()) {
        return collectors::CommitStatus::outbox_full;
    }
    const std::span<const Event> events = page.events;
    std::vector<std::string> payloads;
    payloads.reserve(events.size());
    for (const auto& event : events) {
        payloads.push_back(exporters::encode_log_record(event));
    }
    std::vector<PendingEvent> pending;
    pending.reserve(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        pending.push_back(PendingEvent{events[i].id, events[i].time_unix_nano, payloads[i]});
    }
    const auto quarantined = quarantine_entries(m_tenant, m_source, feed, page.quarantined);
    // The progress as it stands once this page is stored; it becomes the job's only if the page does.
    BackfillProgress next = m_progress;
    next.cursors[std::string(feed)] = std::string(page.checkpoint);
    next.read += events.size() + page.quarantined.size();
    next.error.clear();
    const std::string key = m_tenant + "/" + m_source + "/" + std::string(feed);
    PageCommitted result;
    std::string progress_text = next.json();
    const BackfillPage backfill{m_job, progress_text};
    if (m_endpoint.store->commit_page(key, m_endpoint.id,
                                      PageCommit{pending, quarantined, page.checkpoint, std::nullopt, &backfill},
                                      result) != CommitResult::committed) {
        return collectors::CommitStatus::failed;
    }
    stored = result.stored;
    m_progress = std::move(next);
    for (const std::size_t index : result.newly_quarantined) {
        report_quarantined(m_tenant, m_source, feed, page.quarantined[index], &m_metrics);
    }
    if (stored > 0 && m_endpoint.exporter) {
        m_endpoint.exporter->notify();
    }
    return collectors::CommitStatus::committed;
}

bool BackfillFeedStore::accepting()
{
    return m_endpoint.accepting();
}

// ---------------------------------------------------------------------------------------------------
// BackfillRunner

void BackfillRunner::tick(StateStore& store, const asio::any_io_executor& executor,
                          std::list<std::unique_ptr<TenantRuntime>>& tenants, const std::filesystem::path& state_dir)
{
    bool any = false;
    for (auto& job : store.open_jobs()) {
        if (job.kind != k_job_backfill) {
            continue;
        }
        any = true;
        if (m_running->contains(job.id)) {
            continue;
        }
        const auto arguments = parse_backfill_arguments(job.arguments);
        if (!arguments) {
            spdlog::warn("backfill job {}: unreadable arguments {}; marked failed", job.id, job.arguments);
            store.update_job(job.id, JobState::failed, job.progress,
                             nlohmann::json{{"error", "unreadable arguments " + job.arguments}}.dump());
            continue;
        }
        TenantRuntime* tenant = nullptr;
        SourceRuntime* source = nullptr;
        bool stopping = false;
        for (auto& candidate : tenants) {
            stopping = stopping || candidate->closed;
            if (candidate->config.name != arguments->tenant) {
                continue;
            }
            tenant = candidate.get();
            for (auto& runtime : candidate->sources) {
                if (runtime->config.name == arguments->source) {
                    source = runtime.get();
                }
            }
        }
        if (stopping) {
            continue;  // a reload or shutdown is stopping the tenants: the job waits for the new ones
        }
        if (source == nullptr) {
            const std::string why =
                tenant == nullptr ? fmt::format("the daemon's configuration has no tenant {}", arguments->tenant)
                                  : fmt::format("tenant {} has no enabled source {} in the daemon's configuration",
                                                arguments->tenant, arguments->source);
            spdlog::warn("backfill job {}: {}; marked failed", job.id, why);
            store.update_job(job.id, JobState::failed, job.progress, nlohmann::json{{"error", why}}.dump());
            continue;
        }
        m_running->insert(job.id);
        tenant->tasks.spawn(executor, fmt::format("backfill {} {}/{}", job.id, arguments->tenant, arguments->source),
                            run_backfill(store, *tenant, *source, job, *arguments, state_dir, m_running));
    }
    // job_events rows outlive their jobs only until the next look after the jobs were pruned.
    const auto now = std::chrono::steady_clock::now();
    if (!any && now >= m_next_prune) {
        m_next_prune = now + 10min;
        store.prune_job_events();
    }
}

}  // namespace c4c::daemon
