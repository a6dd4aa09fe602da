// `rejected list | requeue (--all | ID...) | drop ID...`: the events Cloud ALM refused one by one.
// list reads a read-only connection. requeue and drop change queues, which only a running daemon may
// write while it runs: with one, they queue a job for it (infra/jobs.hpp) and wait for its answer; with
// none, they hold the state directory's lock and do the work themselves.

#include "daemon/cli_commands.hpp"
#include "daemon/cli_table.hpp"
#include "daemon/operator_jobs.hpp"
#include "daemon/status.hpp"
#include "infra/jobs.hpp"
#include "infra/sqlite.hpp"
#include "infra/state_lock.hpp"
#include "infra/state_store.hpp"
#include "infra/time.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <thread>

namespace c4c::daemon::cli {

using namespace c4c::infra;
using namespace std::chrono_literals;

namespace {

// How long a command waits for a running daemon to take its job (it looks about once a second), and for
// another process holding the state directory for a moment.
constexpr auto k_job_wait = 30s;

void print(const std::string& text)
{
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

std::optional<std::int64_t> parse_id(std::string_view text)
{
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || id <= 0) {
        return std::nullopt;
    }
    return id;
}

std::vector<std::int64_t> ids_of(const Arguments& args)
{
    std::vector<std::int64_t> ids;
    for (std::size_t i = 1; i < args.words.size(); ++i) {
        ids.push_back(*parse_id(args.words[i]));
    }
    return ids;
}

std::string joined(const std::vector<std::int64_t>& ids)
{
    std::string text;
    for (const auto id : ids) {
        text += (text.empty() ? "" : ", ") + std::to_string(id);
    }
    return text;
}

int list(const Config& config, const Arguments& args)
{
    const auto store = StateStore::open_read_only(config.state_dir);
    const auto events = store ? store->rejected_events() : std::vector<RejectedEvent>{};
    if (args.json) {
        auto rows = nlohmann::ordered_json::array();
        for (const auto& event : events) {
            auto record = nlohmann::ordered_json::parse(event.payload, nullptr, false);
            rows.push_back({{"id", event.id},
                            {"tenant", event.tenant},
                            {"endpoint", event.use_case},
                            {"event_id", event.event_id},
                            {"rejected_at", format_iso8601_ms(event.rejected_at_ms)},
                            {"answer", event.answer},
                            {"record", record.is_discarded() ? nlohmann::ordered_json(event.payload) : record}});
        }
        print(nlohmann::ordered_json{{"rejected", rows}}.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
              "\n");
        return 0;
    }
    if (events.empty()) {
        print("no set-aside events\n");
        return 0;
    }
    const auto now = unix_millis(std::chrono::system_clock::now());
    Table table({"ID", "TENANT", "ENDPOINT", "REJECTED", "EVENT ID", "ANSWER"});
    for (const auto& event : events) {
        table.add({{std::to_string(event.id)},
                   {event.tenant},
                   {event.use_case},
                   {format_age(age_seconds(event.rejected_at_ms, now)) + " ago"},
                   {one_line(event.event_id, 80)},
                   {one_line(event.answer, 120), k_red}});
    }
    print(table.render(colour_wanted()));
    return 0;
}

int report(const RejectedChange& change, bool requeue, bool by_daemon, bool json)
{
    const std::string verb = requeue ? "requeued" : "dropped";
    if (change.failed) {
        return fail("the state store failed" + std::string(by_daemon ? " (see the daemon's log)" : " (see above)") +
                    "; nothing was " + verb);
    }
    if (!change.missing.empty()) {
        return fail("no set-aside event with id " + joined(change.missing) + " (see rejected list); nothing was " +
                    verb);
    }
    if (json) {
        print(nlohmann::json{{verb, change.events}, {"by", by_daemon ? "daemon" : "command"}}.dump() + "\n");
    } else if (change.events == 0) {
        print("no set-aside events to " + std::string(requeue ? "requeue" : "drop") + "\n");
    } else if (!requeue) {
        print("dropped " + std::to_string(change.events) + " set-aside event(s)\n");
    } else {
        print("requeued " + std::to_string(change.events) + " event(s): " +
              (by_daemon ? "the running daemon delivers them now" : "they are delivered when the daemon runs") + "\n");
    }
    return 0;
}

// Hands the change to the running daemon and waits for its answer. nullopt when the daemon went away
// before it took the job (withdrawn: the caller does the work itself).
std::optional<int> through_daemon(const Config& config, const RejectedSelection& which, bool requeue, bool json)
{
    SqliteConnection db(config.state_dir / "state.db", SQLITE_OPEN_READWRITE);
    sqlite3_busy_timeout(db.handle(), 5000);
    const auto id = submit_job(db, requeue ? k_job_rejected_requeue : k_job_rejected_drop, selection_arguments(which));
    if (!id) {
        return fail("cannot queue the job for the running daemon in " + db.file().string() + " (see above)");
    }
    const auto started = std::chrono::steady_clock::now();
    auto next_probe = started + 1s;
    for (;;) {
        std::this_thread::sleep_for(100ms);
        const auto job = find_job(db, *id);
        if (!job) {
            return fail("job " + std::to_string(*id) +
                        " is gone from the state store; see `status` and the daemon's log");
        }
        if (job->state == JobState::done || job->state == JobState::failed) {
            return report(parse_change(job->result), requeue, true, json);
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_probe) {
            next_probe = now + 1s;
            const auto holder = StateLock::holder(config.state_dir);
            if ((!holder || holder->role != "daemon") && withdraw_job(db, *id)) {
                return std::nullopt;
            }
        }
        if (now - started > k_job_wait && withdraw_job(db, *id)) {
            return fail("the running daemon did not take the job within " + std::to_string(k_job_wait.count()) +
                        " s (see its log); nothing was changed");
        }
        if (now - started > 2 * k_job_wait) {
            return fail("job " + std::to_string(*id) + " was taken but has no result after " +
                        std::to_string(2 * k_job_wait.count()) + " s; see `status` and the daemon's log");
        }
    }
}

int change(const Config& config, const Arguments& args, bool requeue)
{
    const RejectedSelection which{args.all, ids_of(args)};
    std::error_code ec;
    if (!std::filesystem::exists(config.state_dir / "state.db", ec)) {
        return report(RejectedChange{false, which.ids, 0, {}}, requeue, false, args.json);
    }
    const std::string role = requeue ? "rejected requeue" : "rejected drop";
    const auto deadline = std::chrono::steady_clock::now() + k_job_wait;
    for (;;) {
        if (auto lock = StateLock::try_acquire(config.state_dir, role)) {
            StateStore store(config.state_dir);
            return report(requeue ? store.requeue_rejected(which) : store.drop_rejected(which), requeue, false,
                          args.json);
        }
        const auto holder = StateLock::holder(config.state_dir);
        if (holder && holder->role == "daemon") {
            if (auto code = through_daemon(config, which, requeue, args.json)) {
                return *code;
            }
            continue;
        }
        // `--once` or another command holds the directory for a while.
        if (std::chrono::steady_clock::now() > deadline) {
            return fail("state_dir " + config.state_dir.string() + " is in use by " +
                        (holder ? describe(*holder) : std::string("another process")) + "; try again once it is done");
        }
        std::this_thread::sleep_for(100ms);
    }
}

}  // namespace

std::string check_rejected(const Arguments& args)
{
    if (args.words.empty()) {
        return "rejected needs list, requeue or drop";
    }
    const auto& action = args.words.front();
    if (action != "list" && action != "requeue" && action != "drop") {
        return "rejected " + action + ": expected list, requeue or drop";
    }
    const std::size_t ids = args.words.size() - 1;
    for (std::size_t i = 1; i < args.words.size(); ++i) {
        if (!parse_id(args.words[i])) {
            return "'" + args.words[i] + "' is not the id of a set-aside event (see rejected list)";
        }
    }
    if (action == "list" && (ids > 0 || args.all)) {
        return "rejected list takes no ids and no --all";
    }
    if (action == "requeue" && args.all == (ids > 0)) {
        return args.all ? "rejected requeue: --all or ids, not both" : "rejected requeue needs --all or ids";
    }
    if (action == "drop" && (args.all || ids == 0)) {
        return args.all ? "rejected drop takes ids, not --all" : "rejected drop needs the ids to drop";
    }
    return {};
}

int run_rejected(const Config& config, const Arguments& args)
{
    const auto& action = args.words.front();
    if (action == "list") {
        return list(config, args);
    }
    return change(config, args, action == "requeue");
}

}  // namespace c4c::daemon::cli
