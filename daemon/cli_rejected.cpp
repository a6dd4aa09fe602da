// `rejected list | requeue (--all | ID...) | drop ID...`: the events Cloud ALM refused one by one.
// list reads a read-only connection. requeue and drop change queues, which only a running daemon may
// write while it runs: with one, they queue a job for it (infra/jobs.hpp) and wait for its answer; with
// none, they hold the state directory's lock and do the work themselves.

#include "daemon/cli_commands.hpp"
#include "daemon/cli_jobs.hpp"
#include "daemon/cli_table.hpp"
#include "daemon/operator_jobs.hpp"
#include "daemon/status.hpp"
#include "infra/jobs.hpp"
#include "infra/state_store.hpp"
#include "infra/time.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

namespace c4c::daemon::cli {

using namespace c4c::infra;
using namespace std::chrono_literals;

namespace {

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

int change(const Config& config, const Arguments& args, bool requeue)
{
    const RejectedSelection which{args.all, ids_of(args)};
    std::error_code ec;
    if (!std::filesystem::exists(config.state_dir / "state.db", ec)) {
        return report(RejectedChange{false, which.ids, 0, {}}, requeue, false, args.json);
    }
    const std::string role = requeue ? "rejected requeue" : "rejected drop";
    return run_queue_change(
        config,
        QueueChange{role, requeue ? std::string(k_job_rejected_requeue) : std::string(k_job_rejected_drop),
                    selection_arguments(which),
                    [&] {
                        StateStore store(config.state_dir);
                        return report(requeue ? store.requeue_rejected(which) : store.drop_rejected(which), requeue,
                                      false, args.json);
                    },
                    [&](const std::string& result) { return report(parse_change(result), requeue, true, args.json); }});
}

}  // namespace

std::string check_rejected(const Arguments& args)
{
    return check_id_command(args, "rejected", "requeue", "a set-aside event");
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
