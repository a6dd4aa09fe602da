// `backfill --tenant T --source S --from TIME --to TIME [--detach]`: read a window of one source from C4C
// again and deliver every record state in it. The command queues a backfill job in the state store
// (daemon/backfill.hpp runs it in the daemon) and, on a terminal, shows its progress until every event
// it queued left the outbox; with --detach or when stdout is no terminal it prints the job and returns.
//
// Without a running daemon the job is queued all the same and starts when the daemon does: the command
// does not read C4C itself. It has no C4C password (under systemd that lives in the service's
// credentials directory, readable by the service alone), the daemon is the only writer of its queues
// while it runs, and reading a window without delivering it would only fill the outbox. The command says
// so and returns (exit 0: the job is stored and survives anything short of deleting the state store).

#include "collectors/soap.hpp"
#include "daemon/backfill.hpp"
#include "daemon/cli_commands.hpp"
#include "infra/job_events.hpp"
#include "infra/jobs.hpp"
#include "infra/sqlite.hpp"
#include "infra/state_lock.hpp"
#include "infra/state_store.hpp"
#include "infra/time.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace c4c::daemon::cli {

using namespace c4c::infra;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::system_clock;

// The host's clock may be behind the tenant's; a window starting this far ahead of it is still accepted
// (the daemon ends every window at the tenant's now).
constexpr auto k_clock_tolerance = std::chrono::minutes(15);

void print(const std::string& text)
{
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

std::optional<Clock::time_point> parse_time(std::string_view text)
{
    // A date and time with seconds at least: "2026-12-01T13:00:00Z" (a zone offset or fraction may follow).
    if (text.size() < 19 || text[10] != 'T') {
        return std::nullopt;
    }
    const auto ns = collectors::soap::parse_iso8601_ns(text);
    if (!ns) {
        return std::nullopt;
    }
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(*ns)));
}

std::string bar(std::uint64_t done, std::uint64_t total, std::size_t width)
{
    const std::size_t filled =
        total == 0 ? 0 : static_cast<std::size_t>(std::min<std::uint64_t>(done, total) * width / total);
    return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

bool daemon_runs(const Config& config)
{
    const auto holder = StateLock::holder(config.state_dir);
    return holder && holder->role == "daemon";
}

// Creates the store when no daemon ever ran, so the job has a table to wait in.
std::string ensure_store(const Config& config)
{
    std::error_code ec;
    if (std::filesystem::exists(config.state_dir / "state.db", ec)) {
        return {};
    }
    try {
        const auto lock = StateLock::acquire(config.state_dir, "backfill", std::chrono::milliseconds(30'000));
        const StateStore store(config.state_dir);
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

// Follows job `id` until its events left the outbox. 0 when done, 1 when it failed or the daemon went away.
int follow(const Config& config, SqliteConnection& db, std::int64_t id)
{
    std::size_t last_width = 0;
    const auto show = [&](const std::string& line, bool final) {
        std::string text = "\r" + line;
        if (line.size() < last_width) {
            text += std::string(last_width - line.size(), ' ');
        }
        last_width = line.size();
        print(text + (final ? "\n" : ""));
    };
    auto next_probe = std::chrono::steady_clock::now() + 2s;
    for (;;) {
        const auto job = find_job(db, id);
        if (!job) {
            show("", true);
            return fail("job " + std::to_string(id) + " is gone from the state store; see the daemon's log");
        }
        const auto progress = BackfillProgress::parse(job->progress);
        const auto figures = job_event_figures(db, id).value_or(JobEventFigures{});
        std::string line = bar(figures.delivered, figures.queued, 30) + " read " + std::to_string(progress.read) +
                           "  queued " + std::to_string(figures.queued) + "  delivered " +
                           std::to_string(figures.delivered);
        if (job->state == JobState::failed) {
            show(line, true);
            const auto result = nlohmann::json::parse(job->result, nullptr, false);
            const std::string why = result.is_object() && result.contains("error") && result["error"].is_string()
                                        ? result["error"].get<std::string>()
                                        : job->result;
            return fail("backfill job " + std::to_string(id) + " failed: " + why);
        }
        const bool read_done = job->state == JobState::done;
        if (read_done && figures.delivered >= figures.queued) {
            show(line + "  done", true);
            return 0;
        }
        line += read_done                         ? "  (reading done, delivering)"
                : job->state == JobState::pending ? "  (waiting for the daemon)"
                                                  : "  (reading)";
        if (!progress.error.empty()) {
            line += "  retrying: " + progress.error.substr(0, 100);
        }
        show(line, false);
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_probe) {
            next_probe = now + 2s;
            if (!daemon_runs(config)) {
                show(line, true);
                return fail("the daemon stopped; backfill job " + std::to_string(id) +
                            " stays in the state store and resumes where it was when the daemon starts again");
            }
        }
        std::this_thread::sleep_for(250ms);
    }
}

}  // namespace

std::string check_backfill(const Arguments& args)
{
    if (!args.words.empty()) {
        return "backfill takes no words besides its options ('" + args.words.front() + "')";
    }
    if (args.all) {
        return "backfill takes no --all";
    }
    for (const auto& [value, name] : {std::pair{&args.tenant, "--tenant"}, std::pair{&args.source, "--source"},
                                      std::pair{&args.from, "--from"}, std::pair{&args.to, "--to"}}) {
        if (value->empty()) {
            return std::string("backfill needs ") + name;
        }
    }
    const auto from = parse_time(args.from);
    const auto to = parse_time(args.to);
    if (!from) {
        return "--from '" + args.from + "' is not an ISO 8601 instant such as 2026-12-01T13:00:00Z";
    }
    if (!to) {
        return "--to '" + args.to + "' is not an ISO 8601 instant such as 2026-12-01T13:00:00Z";
    }
    if (*from >= *to) {
        return "--from " + format_iso8601_ms(*from) + " is not before --to " + format_iso8601_ms(*to);
    }
    if (*from > Clock::now() + k_clock_tolerance) {
        return "--from " + format_iso8601_ms(*from) + " is in the future; C4C has nothing there yet";
    }
    return {};
}

int run_backfill(const Config& config, const Arguments& args)
{
    const auto tenant = std::find_if(config.tenants.begin(), config.tenants.end(),
                                     [&](const TenantConfig& candidate) { return candidate.name == args.tenant; });
    if (tenant == config.tenants.end()) {
        return usage(config.file.string() + " has no tenant '" + args.tenant + "'");
    }
    const auto source = tenant->sources.find(args.source);
    if (source == tenant->sources.end() || !source->second.enabled) {
        std::string names;
        for (const auto& [name, settings] : tenant->sources) {
            if (settings.enabled) {
                names += (names.empty() ? "" : ", ") + name;
            }
        }
        return usage("tenant " + args.tenant + " has no enabled source '" + args.source + "' (it has: " + names + ")");
    }
    BackfillArguments arguments{args.tenant, args.source, *parse_time(args.from), *parse_time(args.to)};
    // Beyond the host's now there is nothing to read; the daemon ends it at the tenant's now (its clock may
    // be ahead of the host's).
    const Clock::time_point latest =
        std::chrono::floor<std::chrono::milliseconds>(Clock::now()) + std::chrono::milliseconds(k_clock_tolerance);
    arguments.to = std::min(arguments.to, latest);
    if (const auto error = ensure_store(config); !error.empty()) {
        return fail("cannot create the state store to queue the job in: " + error);
    }
    SqliteConnection db(config.state_dir / "state.db", SQLITE_OPEN_READWRITE);
    sqlite3_busy_timeout(db.handle(), 5000);
    const auto id = submit_job(db, k_job_backfill, backfill_arguments(arguments));
    if (!id) {
        return fail("cannot queue the backfill job in " + db.file().string() + " (see above)");
    }
    const bool running = daemon_runs(config);
    const std::string window = format_iso8601_ms(arguments.from) + " to " + format_iso8601_ms(arguments.to);
    if (args.json) {
        print(nlohmann::json{{"job", *id},
                             {"tenant", args.tenant},
                             {"source", args.source},
                             {"from", format_iso8601_ms(arguments.from)},
                             {"to", format_iso8601_ms(arguments.to)},
                             {"daemon_running", running}}
                  .dump() +
              "\n");
    } else {
        print("backfill job " + std::to_string(*id) + ": tenant " + args.tenant + " source " + args.source + ", " +
              window + "\n");
    }
    if (!running) {
        std::fprintf(stderr,
                     "c4c-alm-collector: no daemon is running on %s: job %lld waits in the state store and starts "
                     "when the daemon starts (e.g. systemctl start c4c-alm-collector)\n",
                     config.state_dir.c_str(), static_cast<long long>(*id));
        return 0;
    }
    if (args.detach || args.json || isatty(STDOUT_FILENO) == 0) {
        return 0;
    }
    return follow(config, db, *id);
}

}  // namespace c4c::daemon::cli
