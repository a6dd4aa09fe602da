// `quarantine list | retry (--all | ID...) | drop ID...`: the C4C records that could not be normalized.
// list reads a read-only connection. retry and drop change the store, which only a running daemon may write
// while it runs: with one, they queue a job for it (infra/jobs.hpp; it normalizes with the code it runs) and
// wait for its answer; with none, they hold the state directory's lock and do the work themselves
// (daemon/quarantine_jobs.hpp). The same shape as cli_rejected.cpp, kept apart so each reads on its own.

#include "daemon/cli_commands.hpp"
#include "daemon/cli_jobs.hpp"
#include "daemon/cli_table.hpp"
#include "daemon/operator_jobs.hpp"
#include "daemon/quarantine_jobs.hpp"
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

std::string dump(const nlohmann::ordered_json& json)
{
    return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

int list(const Config& config, const Arguments& args)
{
    const auto store = StateStore::open_read_only(config.state_dir);
    const auto records = store ? store->quarantined_records() : std::vector<QuarantinedRow>{};
    const auto now = unix_millis(std::chrono::system_clock::now());
    if (args.json) {
        auto rows = nlohmann::ordered_json::array();
        for (const auto& record : records) {
            rows.push_back({{"id", record.id},
                            {"tenant", record.tenant},
                            {"source", record.source},
                            {"feed", record.feed},
                            {"key", record.object_key},
                            {"reason", record.reason},
                            {"detail", record.detail},
                            {"first_seen", format_iso8601_ms(record.first_seen_ms)},
                            {"age_seconds", age_seconds(record.first_seen_ms, now)},
                            {"raw", record.raw}});
        }
        print(dump(nlohmann::ordered_json{{"quarantined", rows}}));
        return 0;
    }
    if (records.empty()) {
        print("no quarantined records\n");
        return 0;
    }
    Table table({"ID", "TENANT", "SOURCE", "KEY", "REASON", "AGE", "DETAIL"});
    for (const auto& record : records) {
        table.add({{std::to_string(record.id)},
                   {record.tenant},
                   {record.source},
                   {record.object_key.empty() ? std::string("-") : one_line(record.object_key, 60)},
                   {record.reason, k_red},
                   {format_age(age_seconds(record.first_seen_ms, now))},
                   {one_line(record.detail, 160)}});
    }
    print(table.render(colour_wanted()));
    return 0;
}

std::string describe_result(const QuarantineResult& record, bool by_daemon)
{
    std::string which = "quarantined record " + std::to_string(record.id) + ": ";
    switch (record.outcome) {
    case QuarantineOutcome::queued:
        return which + "normalized, event " + record.event_id + " queued (" +
               (by_daemon ? "the running daemon delivers it now" : "it is delivered when the daemon runs") + ")";
    case QuarantineOutcome::already_stored:
        return which + "normalized, but event " + record.event_id +
               " was stored before (not queued again); taken out of the quarantine";
    case QuarantineOutcome::still_quarantined:
        return which + "still quarantined (" + record.reason + "): " + one_line(record.detail, 200);
    case QuarantineOutcome::skipped:
        return which + "not tried, kept: " + one_line(record.detail, 200);
    }
    return which;
}

int report(const QuarantineChange& change, bool retry, bool by_daemon, bool json)
{
    const std::string verb = retry ? "retried" : "dropped";
    if (change.failed) {
        return fail("the state store failed" + std::string(by_daemon ? " (see the daemon's log)" : " (see above)") +
                    "; nothing was " + verb);
    }
    if (!change.missing.empty()) {
        return fail("no quarantined record with id " + joined(change.missing) + " (see quarantine list); nothing was " +
                    verb);
    }
    const char* by = by_daemon ? "daemon" : "command";
    if (!retry) {
        print(json ? nlohmann::json{{"dropped", change.dropped}, {"by", by}}.dump() + "\n"
                   : "dropped " + std::to_string(change.dropped) + " quarantined record(s)\n");
        return 0;
    }
    if (json) {
        print(dump(nlohmann::ordered_json{{"retried", retried_records_json(change.records)}, {"by", by}}));
        return 0;
    }
    if (change.records.empty()) {
        print("no quarantined records to retry\n");
        return 0;
    }
    std::string text;
    for (const auto& record : change.records) {
        text += describe_result(record, by_daemon) + "\n";
    }
    const auto counts = count_outcomes(change.records);
    text += "retried " + std::to_string(change.records.size()) +
            " quarantined record(s): " + std::to_string(counts[0]) + " queued, " + std::to_string(counts[1]) +
            " stored before, " + std::to_string(counts[2]) + " still quarantined, " + std::to_string(counts[3]) +
            " not tried\n";
    print(text);
    return 0;
}

int change(const Config& config, const Arguments& args, bool retry)
{
    const QuarantineSelection which{args.all, ids_of(args)};
    std::error_code ec;
    if (!std::filesystem::exists(config.state_dir / "state.db", ec)) {
        return report(QuarantineChange{false, which.ids, {}, 0, {}}, retry, false, args.json);
    }
    const std::string role = retry ? "quarantine retry" : "quarantine drop";
    return run_queue_change(
        config, QueueChange{role, retry ? std::string(k_job_quarantine_retry) : std::string(k_job_quarantine_drop),
                            selection_arguments(which),
                            [&] {
                                StateStore store(config.state_dir);
                                return report(retry ? retry_quarantine(store, config, Registry{}, which)
                                                    : store.drop_quarantined(which),
                                              retry, false, args.json);
                            },
                            [&](const std::string& result) {
                                return report(parse_quarantine_result(result), retry, true, args.json);
                            }});
}

}  // namespace

std::string check_quarantine(const Arguments& args)
{
    return check_id_command(args, "quarantine", "retry", "a quarantined record");
}

int run_quarantine(const Config& config, const Arguments& args)
{
    const auto& action = args.words.front();
    if (action == "list") {
        return list(config, args);
    }
    return change(config, args, action == "retry");
}

}  // namespace c4c::daemon::cli
