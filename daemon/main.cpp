// c4c-alm-collector: polls SAP Cloud for Customer tenants and feeds SAP Cloud ALM.
// Command line: CONTRACT.md section 1.

#include "daemon/cli.hpp"
#include "daemon/config.hpp"
#include "daemon/daemon.hpp"
#include "infra/logging.hpp"
#include "infra/version.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace {

constexpr int k_exit_usage = 2;

constexpr const char* k_usage =
    "usage: c4c-alm-collector --config FILE [--check | --once [--dry-run]]\n"
    "       c4c-alm-collector --version\n"
    "\n"
    "  --config FILE  the TOML configuration\n"
    "  --check        validate the configuration and its credential and CA files, then exit\n"
    "  --once         poll every enabled source once, deliver, exit (1 if anything is left undelivered)\n"
    "  --dry-run      with --once: print the events as JSON Lines, send nothing, change no state\n"
    "  --version      print the version\n";

int usage_error(std::string_view reason)
{
    std::fprintf(stderr, "c4c-alm-collector: %.*s (try --help)\n", static_cast<int>(reason.size()), reason.data());
    return k_exit_usage;
}

struct Arguments {
    std::optional<std::string> config;
    bool check = false;
    bool once = false;
    bool dry_run = false;
    bool version = false;
    bool help = false;
};

std::optional<std::string> parse(int argc, char** argv, Arguments& args)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (auto config = c4c::daemon::option_value(argc, argv, i, "--config", "-c")) {
            if (config->missing) {
                return "--config needs a file name";
            }
            args.config = std::move(config->value);
        } else if (arg == "--check") {
            args.check = true;
        } else if (arg == "--once") {
            args.once = true;
        } else if (arg == "--dry-run") {
            args.dry_run = true;
        } else if (arg == "--version") {
            args.version = true;
        } else if (arg == "--help" || arg == "-h") {
            args.help = true;
        } else {
            return "unknown argument '" + std::string(arg) + "'";
        }
    }
    if (args.help || args.version) {
        return std::nullopt;
    }
    if (!args.config || args.config->empty()) {
        return "--config FILE is required";
    }
    if (args.dry_run && !args.once) {
        return "--dry-run works only with --once";
    }
    if (args.check && args.once) {
        return "--check and --once exclude each other";
    }
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv)
{
    if (auto code = c4c::daemon::run_operator_command(argc, argv)) {
        return *code;
    }
    Arguments args;
    if (auto error = parse(argc, argv, args)) {
        return usage_error(*error);
    }
    if (args.help) {
        std::fputs(k_usage, stdout);
        std::fputs(c4c::daemon::k_operator_usage, stdout);
        return 0;
    }
    if (args.version) {
        std::printf("%s %s\n", c4c::k_program, c4c::k_version);
        return 0;
    }

    auto loaded = c4c::daemon::load_config(*args.config);
    if (!loaded.config) {
        for (const auto& error : loaded.errors) {
            std::fprintf(stderr, "%s\n", error.format().c_str());
        }
        return k_exit_usage;
    }
    if (args.check) {
        std::puts("config ok");
        return 0;
    }

    std::signal(SIGPIPE, SIG_IGN);
    c4c::infra::setup_logging(loaded.config->log_level, loaded.config->log_format);
    try {
        c4c::daemon::Daemon daemon(std::move(*loaded.config), c4c::daemon::RunOptions{args.once, args.dry_run});
        return daemon.run();
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
}
