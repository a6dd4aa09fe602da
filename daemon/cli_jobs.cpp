#include "daemon/cli_jobs.hpp"

#include "infra/jobs.hpp"
#include "infra/sqlite.hpp"
#include "infra/state_lock.hpp"

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

// Hands the change to the running daemon and waits for its answer. nullopt when the daemon went away
// before it took the job (withdrawn: the caller does the work itself).
std::optional<int> through_daemon(const Config& config, const QueueChange& change)
{
    SqliteConnection db(config.state_dir / "state.db", SQLITE_OPEN_READWRITE);
    sqlite3_busy_timeout(db.handle(), 5000);
    const auto id = submit_job(db, change.job_kind, change.arguments);
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
            return change.answer(job->result);
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

}  // namespace

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

void print(const std::string& text)
{
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

std::string check_id_command(const Arguments& args, std::string_view noun, std::string_view change,
                             std::string_view ids_are)
{
    const std::string command(noun);
    const std::string actions = "list, " + std::string(change) + " or drop";
    if (args.words.empty()) {
        return command + " needs " + actions;
    }
    const auto& action = args.words.front();
    if (action != "list" && action != change && action != "drop") {
        return command + " " + action + ": expected " + actions;
    }
    const std::size_t ids = args.words.size() - 1;
    for (std::size_t i = 1; i < args.words.size(); ++i) {
        if (!parse_id(args.words[i])) {
            return "'" + args.words[i] + "' is not the id of " + std::string(ids_are) + " (see " + command + " list)";
        }
    }
    if (action == "list" && (ids > 0 || args.all)) {
        return command + " list takes no ids and no --all";
    }
    if (action == change && args.all == (ids > 0)) {
        return command + " " + action + (args.all ? ": --all or ids, not both" : " needs --all or ids");
    }
    if (action == "drop" && (args.all || ids == 0)) {
        return command + (args.all ? " drop takes ids, not --all" : " drop needs the ids to drop");
    }
    return {};
}

int run_queue_change(const Config& config, const QueueChange& change)
{
    const auto deadline = std::chrono::steady_clock::now() + k_job_wait;
    for (;;) {
        if (auto lock = StateLock::try_acquire(config.state_dir, change.role)) {
            return change.locally();
        }
        const auto holder = StateLock::holder(config.state_dir);
        if (holder && holder->role == "daemon") {
            if (auto code = through_daemon(config, change)) {
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

}  // namespace c4c::daemon::cli
