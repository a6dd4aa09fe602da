#include "daemon/operator_jobs.hpp"

#include "daemon/quarantine_jobs.hpp"
#include "infra/job_events.hpp"
#include "infra/jobs.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

namespace c4c::daemon {

using namespace c4c::infra;

namespace {

// Finished jobs are kept this long for their commands (which read them within seconds) and for a look at
// the table afterwards.
constexpr auto k_keep_finished_jobs = std::chrono::hours(24 * 7);

void finish_unrunnable(StateStore& store, const Job& job, const std::string& why)
{
    spdlog::warn("operator job {} ({}): {}; marked failed", job.id, job.kind, why);
    store.update_job(job.id, JobState::failed, "", nlohmann::json{{"error", why}}.dump());
}

void run_rejected_job(StateStore& store, const Job& job, const std::function<void(std::int64_t)>& wake)
{
    const auto which = parse_selection(job.arguments);
    if (!which || (job.kind == k_job_rejected_drop && which->all)) {
        finish_unrunnable(store, job, "unreadable arguments " + job.arguments);
        return;
    }
    const bool requeue = job.kind == k_job_rejected_requeue;
    const auto finish = [&](const RejectedChange& change) {
        return store.update_job(job.id, JobState::done, "", change_result(change));
    };
    const RejectedChange change =
        requeue ? store.requeue_rejected(*which, finish) : store.drop_rejected(*which, finish);
    if (change.failed) {
        // The store logged why; the job stays open and is tried again at the next look.
        return;
    }
    if (!change.ok()) {
        store.update_job(job.id, JobState::failed, "", change_result(change));
        return;
    }
    spdlog::info("operator job {}: {} {} set-aside event(s)", job.id, requeue ? "requeued" : "dropped", change.events);
    for (const auto endpoint : change.endpoints) {
        wake(endpoint);
    }
}

}  // namespace

void run_operator_jobs(StateStore& store, const std::function<void(std::int64_t endpoint)>& wake)
{
    const auto jobs = store.open_jobs();
    for (const auto& job : jobs) {
        if (job.kind == k_job_rejected_requeue || job.kind == k_job_rejected_drop) {
            run_rejected_job(store, job, wake);
        } else if (job.kind == k_job_backfill || is_quarantine_job(job.kind)) {
            continue;  // run by daemon/backfill.hpp (a long job) and run_quarantine_jobs (daemon/quarantine_jobs.hpp)
        } else if (job.state == JobState::pending) {
            finish_unrunnable(store, job,
                              "this daemon (" + std::string(k_job_rejected_requeue) + ", " +
                                  std::string(k_job_rejected_drop) + ") does not know the kind");
        }
    }
    if (!jobs.empty()) {
        store.prune_jobs(std::chrono::system_clock::now() - k_keep_finished_jobs);
    }
}

std::string selection_arguments(const RejectedSelection& which)
{
    if (which.all) {
        return nlohmann::json{{"all", true}}.dump();
    }
    return nlohmann::json{{"ids", which.ids}}.dump();
}

std::optional<RejectedSelection> parse_selection(std::string_view arguments)
{
    const auto json = nlohmann::json::parse(arguments, nullptr, false);
    if (!json.is_object()) {
        return std::nullopt;
    }
    RejectedSelection which;
    if (const auto all = json.find("all"); all != json.end() && all->is_boolean() && all->get<bool>()) {
        which.all = true;
        return which;
    }
    const auto ids = json.find("ids");
    if (ids == json.end() || !ids->is_array() || ids->empty()) {
        return std::nullopt;
    }
    for (const auto& id : *ids) {
        if (!id.is_number_integer()) {
            return std::nullopt;
        }
        which.ids.push_back(id.get<std::int64_t>());
    }
    return which;
}

std::string change_result(const RejectedChange& change)
{
    if (change.failed) {
        return nlohmann::json{{"error", "the state store failed (see the daemon's log)"}}.dump();
    }
    if (!change.missing.empty()) {
        return nlohmann::json{{"missing", change.missing}}.dump();
    }
    return nlohmann::json{{"events", change.events}}.dump();
}

RejectedChange parse_change(std::string_view result)
{
    RejectedChange change;
    const auto json = nlohmann::json::parse(result, nullptr, false);
    // NOLINTNEXTLINE(bugprone-branch-clone): clang-tidy 14 takes the branches with init-statements for clones
    if (!json.is_object() || json.contains("error")) {
        change.failed = true;
    } else if (const auto missing = json.find("missing"); missing != json.end() && missing->is_array()) {
        for (const auto& id : *missing) {
            change.missing.push_back(id.is_number_integer() ? id.get<std::int64_t>() : 0);
        }
    } else if (const auto events = json.find("events"); events != json.end() && events->is_number_unsigned()) {
        change.events = events->get<std::size_t>();
    } else {
        change.failed = true;
    }
    return change;
}

}  // namespace c4c::daemon
