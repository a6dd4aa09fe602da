// `status`: the view of daemon/status.hpp as a table on a terminal or as JSON, from a read-only
// connection to the state store (running daemon or not).

#include "daemon/cli_commands.hpp"
#include "daemon/cli_table.hpp"
#include "daemon/status.hpp"
#include "infra/state_lock.hpp"
#include "infra/state_store.hpp"
#include "infra/time.hpp"
#include "infra/version.hpp"

#include <chrono>
#include <cstdio>

namespace c4c::daemon::cli {

using namespace c4c::infra;

namespace {

const char* state_colour(const std::string& state)
{
    if (state == "ok") {
        return k_green;
    }
    if (state == "down" || state == "paused") {
        return k_red;
    }
    if (state == "blocked" || state == "retrying") {
        return k_yellow;
    }
    return k_dim;
}

std::string ago(std::optional<std::int64_t> ms, std::int64_t now_ms)
{
    return ms ? format_age(age_seconds(*ms, now_ms)) + " ago" : std::string("never");
}

std::string render(const Status& status, bool colour)
{
    const auto now = status.generated_at_ms;
    std::string out = std::string(k_program) + " " + k_version + ": state_dir " + status.state_dir + ", ";
    if (status.daemon.running) {
        out += paint("daemon running", k_green, colour) + " (pid " + std::to_string(status.daemon.pid) +
               (status.daemon.role == "daemon" ? "" : ", " + status.daemon.role) + ")";
    } else {
        out += paint("daemon not running", k_yellow, colour);
    }
    out += ", as of " + format_iso8601_ms(now) + "\n";
    if (!status.note.empty()) {
        out += "note: " + status.note + "\n";
    }

    Table sources(
        {"TENANT", "SOURCE", "STATE", "LAST POLL", "OUTCOME", "LAST SUCCESS", "CHECKPOINT", "LAG", "QUARANTINED"});
    Table endpoints({"TENANT", "ENDPOINT", "STATE", "QUEUED", "SIZE", "OLDEST", "SET ASIDE"});
    std::string problems;
    for (const auto& tenant : status.tenants) {
        for (const auto& source : tenant.sources) {
            const auto& poll = source.last_poll;
            sources.add({{tenant.name},
                         {source.name},
                         {source.state, state_colour(source.state)},
                         {poll ? ago(poll->polled_at_ms, now) : "never"},
                         {poll ? poll->outcome : "-"},
                         {ago(poll ? poll->last_success_ms : std::nullopt, now)},
                         {source.checkpoint_ms ? format_iso8601_ms(*source.checkpoint_ms) : "-"},
                         {source.checkpoint_ms ? format_age(age_seconds(*source.checkpoint_ms, now)) : "-"},
                         {std::to_string(source.quarantined)}});
            if (poll && !poll->ok) {
                problems += tenant.name + "/" + source.name + ": " + source.state + " (" +
                            std::to_string(poll->consecutive_failures) + " failed poll" +
                            (poll->consecutive_failures == 1 ? "" : "s") + "): " + one_line(poll->message, 400) + "\n";
            }
        }
        for (const auto& endpoint : tenant.endpoints) {
            const bool queue = endpoint.has_outbox;
            endpoints.add({{tenant.name},
                           {endpoint.name},
                           {endpoint.state, state_colour(endpoint.state)},
                           {queue ? std::to_string(endpoint.figures.events) : "-"},
                           {queue ? format_bytes(endpoint.figures.bytes) : "-"},
                           {endpoint.oldest_ms ? format_age(age_seconds(*endpoint.oldest_ms, now)) : "-"},
                           {queue ? std::to_string(endpoint.figures.rejected) : "-"}});
            if (endpoint.state != "ok") {
                problems += tenant.name + "/" + endpoint.name + ": " + endpoint.state + " since " +
                            ago(endpoint.since_ms, now) + ": " + one_line(endpoint.reason, 400) + "\n";
            }
        }
    }
    out += "\n" + sources.render(colour) + "\n" + endpoints.render(colour);
    if (!problems.empty()) {
        out += "\n" + problems;
    }
    return out;
}

}  // namespace

std::string check_status(const Arguments& args)
{
    if (!args.words.empty()) {
        return "status takes no argument '" + args.words.front() + "'";
    }
    if (args.all) {
        return "--all does not go with status";
    }
    return {};
}

int run_status(const Config& config, const Arguments& args)
{
    DaemonStatus daemon;
    if (const auto holder = StateLock::holder(config.state_dir);
        holder && (holder->role == "daemon" || holder->role == "once")) {
        daemon = DaemonStatus{true, holder->pid, holder->role};
    }
    const auto store = StateStore::open_read_only(config.state_dir);
    const Status status = collect_status(config, store.get(), daemon, std::chrono::system_clock::now());
    const std::string text = args.json ? status_json(status) : render(status, colour_wanted());
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace c4c::daemon::cli
