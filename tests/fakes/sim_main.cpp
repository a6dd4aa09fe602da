// c4c-sim: a fake SAP C4C tenant and Cloud ALM sink on one port, for the README demo and the
// integration tests. See tests/fakes/README.md for the command line, the endpoints and the control API.

#include "tests/fakes/simulator.hpp"

#include "infra/http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace net = boost::asio;
using namespace c4c::sim;

namespace {

constexpr const char* k_usage =
    "usage: c4c-sim [--listen 127.0.0.1:0] [--port-file PATH] [--user USER --password SECRET]\n"
    "               [--seed 1] [--objects 50] [--messages 40] [--rta-rows 100] [--change-every 0s]\n"
    "               [--same-instant 0] [--rta-timezone UTC] [--soap-path PATH] [--clock-offset 0s]\n"
    "               [--sink-user U --sink-password P] [--oauth-client ID:SECRET] [--token-ttl 3600]\n"
    "               [--quiet]\n"
    "Serves a fake SAP C4C tenant and a fake SAP Cloud ALM sink on one port (see tests/fakes/README.md).\n";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Cli {
    std::string listen = "127.0.0.1:0";
    std::string port_file;
    bool quiet = false;
    std::int64_t change_every_ms = 0;
    SimOptions sim;
};

std::uint64_t parse_number(const std::string& flag, const std::string& value, std::uint64_t max)
{
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || v > max) {
        throw UsageError(flag + ": expected a number up to " + std::to_string(max) + ", got \"" + value + "\"");
    }
    return v;
}

Cli parse_cli(int argc, char** argv)
{
    Cli cli;
    std::optional<std::string> sink_user;
    std::optional<std::string> sink_password;
    std::vector<std::string> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string flag = args[i];
        std::optional<std::string> inline_value;
        if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
            inline_value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        }
        auto value = [&]() -> std::string {
            if (inline_value) {
                return *inline_value;
            }
            if (i + 1 >= args.size()) {
                throw UsageError(flag + " needs a value");
            }
            return args[++i];
        };
        if (flag == "--help" || flag == "-h") {
            std::cout << k_usage;
            std::exit(0);
        } else if (flag == "--quiet") {
            cli.quiet = true;
        } else if (flag == "--listen") {
            cli.listen = value();
        } else if (flag == "--port-file") {
            cli.port_file = value();
        } else if (flag == "--user") {
            cli.sim.c4c_user = value();
        } else if (flag == "--password") {
            cli.sim.c4c_password = value();
        } else if (flag == "--seed") {
            cli.sim.world.seed = parse_number(flag, value(), UINT64_MAX);
            cli.sim.sink.seed = cli.sim.world.seed;
        } else if (flag == "--objects") {
            cli.sim.world.objects = parse_number(flag, value(), 5'000'000);
        } else if (flag == "--messages") {
            cli.sim.world.messages = parse_number(flag, value(), 5'000'000);
        } else if (flag == "--rta-rows") {
            cli.sim.world.rta_rows = parse_number(flag, value(), 5'000'000);
        } else if (flag == "--same-instant") {
            cli.sim.world.same_instant = parse_number(flag, value(), 5'000'000);
        } else if (flag == "--change-every") {
            auto text = value();
            auto ms = parse_duration_ms(text);
            if (!ms) {
                throw UsageError("--change-every: expected a duration like 500ms, 2s, 1m or 0, got \"" + text + "\"");
            }
            cli.change_every_ms = *ms;
        } else if (flag == "--clock-offset") {
            auto text = value();
            const bool behind = !text.empty() && text.front() == '-';
            auto ms = parse_duration_ms(behind ? std::string_view(text).substr(1) : std::string_view(text));
            if (!ms || *ms > 366LL * 86400 * 1000) {
                throw UsageError("--clock-offset: expected a duration like 15m or -15m (the tenant behind), got \"" +
                                 text + "\"");
            }
            cli.sim.world.clock_offset_ms = behind ? -*ms : *ms;
        } else if (flag == "--rta-timezone") {
            cli.sim.rta_zone = value();
            if (!iana_zone(cli.sim.rta_zone)) {
                throw UsageError("--rta-timezone: unknown SAP time zone \"" + cli.sim.rta_zone +
                                 "\" (a code of SAP's standard table: UTC, CET, EST, NZST, UTC+3, ...)");
            }
        } else if (flag == "--soap-path") {
            cli.sim.soap_path = value();
            if (cli.sim.soap_path.empty() || cli.sim.soap_path.front() != '/') {
                throw UsageError("--soap-path must start with /");
            }
        } else if (flag == "--sink-user") {
            sink_user = value();
        } else if (flag == "--sink-password") {
            sink_password = value();
        } else if (flag == "--oauth-client") {
            auto text = value();
            auto colon = text.find(':');
            if (colon == std::string::npos || colon == 0) {
                throw UsageError("--oauth-client: expected ID:SECRET");
            }
            cli.sim.sink.oauth_client = std::pair{text.substr(0, colon), text.substr(colon + 1)};
        } else if (flag == "--token-ttl") {
            cli.sim.sink.token_ttl_s = static_cast<std::int64_t>(parse_number(flag, value(), 10'000'000));
        } else {
            throw UsageError("unknown argument \"" + args[i] + "\"");
        }
    }
    if (sink_user.has_value() != sink_password.has_value()) {
        throw UsageError("--sink-user and --sink-password go together");
    }
    if (sink_user) {
        cli.sim.sink.basic = std::pair{*sink_user, *sink_password};
    }
    return cli;
}

std::string utc_now()
{
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    return iso_from_ms(ms);
}

void write_port_file(const std::string& path, unsigned short port)
{
    // Written beside and renamed, so that a reader never sees a half-written file.
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << port << '\n';
        if (!out) {
            throw std::runtime_error("cannot write " + tmp);
        }
    }
    std::filesystem::rename(tmp, path);
}

net::awaitable<void> change_loop(net::steady_timer& timer, std::chrono::milliseconds period, Simulator& sim)
{
    while (true) {
        timer.expires_after(period);
        auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        if (ec) {
            co_return;
        }
        sim.world().tick();
    }
}

}  // namespace

int main(int argc, char** argv)
{
    Cli cli;
    try {
        cli = parse_cli(argc, argv);
    } catch (const UsageError& e) {
        std::cerr << "c4c-sim: " << e.what() << '\n' << k_usage;
        return 2;
    }
    // stdout carries only the "listening on" line, which test harnesses read once and then leave:
    // the server's own log lines go to stderr, and a closed pipe must not kill the simulator.
    std::signal(SIGPIPE, SIG_IGN);
    spdlog::set_default_logger(spdlog::stderr_color_st("c4c-sim"));
    if (cli.quiet) {
        spdlog::set_level(spdlog::level::err);
    }
    // RTA timestamps are shown in the display zone with localtime_r, so the process zone is set once here.
    auto zone = iana_zone(cli.sim.rta_zone).value_or("UTC");
    ::setenv("TZ", zone.c_str(), 1);
    ::tzset();

    try {
        net::io_context ioc;
        bool quiet = cli.quiet;
        Simulator sim(cli.sim);

        c4c::infra::http::ServerOptions options;
        options.listen = cli.listen;
        options.max_connections = 1024;
        options.max_header_bytes = 64u << 10;
        options.max_body_bytes = 64u << 20;
        options.read_timeout = std::chrono::seconds(60);
        options.idle_timeout = std::chrono::seconds(60);
        options.write_timeout = std::chrono::seconds(60);

        auto handler = [&sim, quiet](ServerRequest request) -> net::awaitable<ServerResponse> {
            auto start = std::chrono::steady_clock::now();
            std::string method;
            std::string target;
            if (!quiet) {
                method = request.method;
                target = request.target;
            }
            ServerResponse response = sim.handle(request);
            if (!quiet) {
                auto ms =
                    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
                std::string note = response.hang                ? " (hang)"
                                   : response.truncate_after    ? " (truncated)"
                                   : response.trickle_bytes > 0 ? " (trickled)"
                                                                : "";
                std::fprintf(stderr, "%s c4c-sim: %s %s -> %u, %zu bytes, %lld ms%s\n", utc_now().c_str(),
                             method.c_str(), target.c_str(), response.status, response.body.size(),
                             static_cast<long long>(ms.count()), note.c_str());
            }
            co_return response;
        };
        c4c::infra::http::Server server(ioc.get_executor(), options, handler);
        auto endpoint = server.local_endpoint();
        std::string host = endpoint.address().is_unspecified() ? (endpoint.address().is_v6() ? "[::1]" : "127.0.0.1")
                           : endpoint.address().is_v6()        ? "[" + endpoint.address().to_string() + "]"
                                                               : endpoint.address().to_string();
        host += ":" + std::to_string(endpoint.port());
        sim.set_fallback_host(host);
        server.start();

        net::steady_timer change_timer(ioc);
        if (cli.change_every_ms > 0) {
            net::co_spawn(ioc, change_loop(change_timer, std::chrono::milliseconds(cli.change_every_ms), sim),
                          [](std::exception_ptr e) {
                              if (e) {
                                  try {
                                      std::rethrow_exception(e);
                                  } catch (const std::exception& ex) {
                                      std::fprintf(stderr, "c4c-sim: change loop failed: %s\n", ex.what());
                                  }
                              }
                          });
        }

        net::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int signal) {
            if (ec) {
                return;
            }
            if (!quiet) {
                std::fprintf(stderr, "%s c4c-sim: signal %d, stopping\n", utc_now().c_str(), signal);
            }
            change_timer.cancel();
            server.stop();
            ioc.stop();
        });

        if (!cli.port_file.empty()) {
            write_port_file(cli.port_file, endpoint.port());
        }
        std::cout << "c4c-sim listening on http://" << host << std::endl;
        ioc.run();
    } catch (const std::exception& e) {
        std::cerr << "c4c-sim: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
