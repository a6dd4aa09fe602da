#include "daemon/cli.hpp"

#include "daemon/cli_commands.hpp"
#include "infra/logging.hpp"

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

namespace c4c::daemon {

const char* const k_operator_usage =
    "\n"
    "operator commands (whether or not the daemon runs):\n"
    "  c4c-alm-collector status --config FILE [--json]\n"
    "  c4c-alm-collector rejected list --config FILE [--json]\n"
    "  c4c-alm-collector rejected requeue --config FILE (--all | ID...)\n"
    "  c4c-alm-collector rejected drop --config FILE ID...\n"
    "  c4c-alm-collector quarantine list --config FILE [--json]\n"
    "  c4c-alm-collector quarantine retry --config FILE (--all | ID...)\n"
    "  c4c-alm-collector quarantine drop --config FILE ID...\n"
    "  c4c-alm-collector backfill --config FILE --tenant T --source S --from TIME --to TIME [--detach] [--json]\n"
    "\n"
    "  status         per source its checkpoint, last poll and quarantined records; per endpoint its\n"
    "                 queue, oldest event, set-aside events and delivery state\n"
    "  rejected       events Cloud ALM refused one by one: list them with the answer, requeue them (a\n"
    "                 running daemon delivers them at once) or drop them\n"
    "  quarantine     C4C records that could not be normalized: list them with the reason, retry them\n"
    "                 (normalized again by the current code; a running daemon delivers them at once) or\n"
    "                 drop them\n"
    "  backfill       read the window [--from, --to) of a source from C4C again and deliver every record\n"
    "                 state in it, those delivered before included (same event.id), without moving the\n"
    "                 source's checkpoint; TIME is ISO 8601 (2026-12-01T13:00:00Z). The running daemon does\n"
    "                 the work (a job that survives restarts); on a terminal the command shows its progress\n"
    "                 until everything is delivered, --detach returns at once. Without a running daemon the\n"
    "                 job waits for it.\n"
    "  --json         machine-readable output\n";

namespace {

constexpr int k_exit_usage = 2;

int usage_error(std::string_view reason)
{
    std::fprintf(stderr, "c4c-alm-collector: %.*s (try --help)\n", static_cast<int>(reason.size()), reason.data());
    return k_exit_usage;
}

bool is_operator_command(std::string_view word)
{
    return word == "status" || word == "rejected" || word == "quarantine" || word == "backfill";
}

// The options that take a value (besides --config), and where it goes.
std::string* value_target(std::string_view name, cli::Arguments& args)
{
    if (name == "--tenant") {
        return &args.tenant;
    }
    if (name == "--source") {
        return &args.source;
    }
    if (name == "--from") {
        return &args.from;
    }
    if (name == "--to") {
        return &args.to;
    }
    return nullptr;
}

// The first word that is not an option or the value of --config: the command, if it is one of ours.
std::optional<std::string_view> command_word(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        cli::Arguments scratch;
        if (arg == "--config" || arg == "-c" || value_target(arg, scratch) != nullptr) {
            ++i;
        } else if (!arg.starts_with("-")) {
            return arg;
        }
    }
    return std::nullopt;
}

std::string parse(int argc, char** argv, cli::Arguments& args, bool& help)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const std::string_view name = arg.substr(0, arg.find('='));
        if (auto config = option_value(argc, argv, i, "--config", "-c")) {
            if (config->missing) {
                return "--config needs a file name";
            }
            args.config = std::move(config->value);
        } else if (auto* target = value_target(name, args)) {
            auto value = option_value(argc, argv, i, name);
            if (value->missing) {
                return std::string(name) + " needs a value";
            }
            *target = std::move(value->value);
        } else if (arg == "--detach") {
            args.detach = true;
        } else if (arg == "--json") {
            args.json = true;
        } else if (arg == "--all") {
            args.all = true;
        } else if (arg == "--help" || arg == "-h") {
            help = true;
        } else if (arg.starts_with("-")) {
            return "unknown option '" + std::string(arg) + "' for " +
                   (args.command.empty() ? "this command" : args.command);
        } else if (args.command.empty()) {
            args.command = std::string(arg);
        } else {
            args.words.emplace_back(arg);
        }
    }
    if (help) {
        return {};
    }
    if (args.config.empty()) {
        return args.command + ": --config FILE is required";
    }
    if (args.command == "backfill") {
        return cli::check_backfill(args);
    }
    if (!args.tenant.empty() || !args.source.empty() || !args.from.empty() || !args.to.empty() || args.detach) {
        return args.command + " takes no --tenant, --source, --from, --to or --detach";
    }
    if (args.command == "quarantine") {
        return cli::check_quarantine(args);
    }
    return args.command == "status" ? cli::check_status(args) : cli::check_rejected(args);
}

}  // namespace

std::optional<int> run_operator_command(int argc, char** argv)
{
    const auto word = command_word(argc, argv);
    if (!word || !is_operator_command(*word)) {
        return std::nullopt;
    }
    cli::Arguments args;
    bool help = false;
    if (const auto error = parse(argc, argv, args, help); !error.empty()) {
        return usage_error(error);
    }
    if (help) {
        std::fputs(k_operator_usage, stdout);
        return 0;
    }
    // Secrets are not needed, and not there outside systemd's credentials directory.
    auto loaded = load_config(args.config, Registry{}, LoadOptions{false});
    if (!loaded.config) {
        for (const auto& error : loaded.errors) {
            std::fprintf(stderr, "%s\n", error.format().c_str());
        }
        return k_exit_usage;
    }
    // The store's few log lines (a failed statement) go to stderr, never into the output.
    infra::setup_logging("warn", "text");
    try {
        if (args.command == "quarantine") {
            return cli::run_quarantine(*loaded.config, args);
        }
        if (args.command == "backfill") {
            return cli::run_backfill(*loaded.config, args);
        }
        return args.command == "status" ? cli::run_status(*loaded.config, args)
                                        : cli::run_rejected(*loaded.config, args);
    } catch (const std::exception& e) {
        return cli::fail(e.what());
    }
}

std::optional<OptionValue> option_value(int argc, char** argv, int& i, std::string_view name,
                                        std::string_view short_name)
{
    const std::string_view arg = argv[i];
    if (arg.size() > name.size() && arg.starts_with(name) && arg[name.size()] == '=') {
        return OptionValue{std::string(arg.substr(name.size() + 1))};
    }
    if (arg != name && (short_name.empty() || arg != short_name)) {
        return std::nullopt;
    }
    if (i + 1 >= argc) {
        return OptionValue{{}, true};
    }
    return OptionValue{argv[++i]};
}

namespace cli {

int fail(std::string_view message)
{
    std::fprintf(stderr, "c4c-alm-collector: %.*s\n", static_cast<int>(message.size()), message.data());
    return 1;
}

int usage(std::string_view message)
{
    std::fprintf(stderr, "c4c-alm-collector: %.*s\n", static_cast<int>(message.size()), message.data());
    return k_exit_usage;
}

}  // namespace cli

}  // namespace c4c::daemon
