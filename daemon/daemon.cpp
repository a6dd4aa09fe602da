#include "daemon/daemon.hpp"

#include "collectors/collector.hpp"
#include "daemon/backfill.hpp"
#include "daemon/health_snapshot.hpp"
#include "daemon/housekeeping.hpp"
#include "daemon/operator_jobs.hpp"
#include "daemon/quarantine_jobs.hpp"
#include "daemon/runtime.hpp"
#include "daemon/scheduler.hpp"
#include "daemon/self_monitoring.hpp"
#include "daemon/status_page.hpp"
#include "daemon/tenant_set.hpp"
#include "infra/http/server.hpp"
#include "infra/logging.hpp"
#include "infra/metrics.hpp"
#include "infra/state_dir.hpp"
#include "infra/state_lock.hpp"
#include "infra/state_store.hpp"
#include "infra/systemd_notify.hpp"
#include "infra/tasks.hpp"
#include "infra/version.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <functional>

namespace c4c::daemon {

using namespace c4c::infra;

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Daemon::Impl {
    Impl(Config config_, RunOptions options_, Registry registry_)
        : config(std::move(config_)), options(options_), registry(registry_)
    {}

    Config config;
    RunOptions options;
    Registry registry;
    std::optional<StateLock> state_lock;  // held while this process owns state_dir
    asio::io_context io{1};
    std::unique_ptr<StateStore> store;
    Metrics metrics;
    std::unique_ptr<http::Server> server;
    std::optional<TenantSet> tenant_set;
    TaskGroup service_tasks{"service"};
    Housekeeping housekeeping;
    BackfillRunner backfills;  // backfill jobs run as tenant tasks: a reload stops them, the next look resumes them
    bool ready = false;
    bool stopping = false;
    int exit_code = 0;

    asio::any_io_executor executor() { return io.get_executor(); }

    // ---- set-up ------------------------------------------------------------------------------------

    Tenants& tenants() { return tenant_set->running(); }

    void build_tenants()
    {
        tenant_set.emplace(TenantContext{
            .executor = executor(),
            .store = store.get(),
            .metrics = &metrics,
            .registry = registry,
            .dry_run = options.dry_run,
        });
        tenant_set->build(config.tenants);
        metrics.on_scrape([this] {
            for (auto& tenant : tenants()) {
                for (auto& [use_case, endpoint] : tenant->endpoints) {
                    if (endpoint->has_outbox()) {
                        endpoint->refresh_metrics();
                    }
                }
            }
        });
    }

    // ---- service tasks -----------------------------------------------------------------------------

    http::ServerResponse serve(const http::ServerRequest& request)
    {
        if (auto answer = serve_status(request, config, store.get())) {
            return std::move(*answer);
        }
        return self_monitoring::serve(request, self_monitoring::State{ready, store != nullptr, not_ready_reasons()},
                                      [this] { return metrics.serialize(); });
    }

    std::vector<std::string> not_ready_reasons()
    {
        std::vector<std::string> reasons;
        if (!store) {
            reasons.emplace_back("state store not open");
        }
        if (!ready) {
            reasons.emplace_back(stopping ? "shutting down" : "starting");
        }
        for (auto& tenant : tenants()) {
            for (auto& [use_case, endpoint] : tenant->endpoints) {
                if (endpoint->store && endpoint->has_outbox() && !endpoint->accepting()) {
                    reasons.push_back("outbox full: " + tenant->config.name + "/" + use_case);
                }
            }
        }
        return reasons;
    }

    asio::awaitable<void> signal_loop()
    {
        asio::signal_set signals(co_await asio::this_coro::executor, SIGTERM, SIGINT, SIGHUP);
        for (;;) {
            auto [ec, number] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
            if (ec) {
                co_return;
            }
            if (number == SIGHUP) {
                co_await reload();
            } else {
                spdlog::info("received {}, shutting down", number == SIGTERM ? "SIGTERM" : "SIGINT");
                co_await shutdown();
                co_return;
            }
        }
    }

    // `action` now, then every `interval` until cancelled. Owns its timer and takes its arguments by value.
    // An earlier watchdog form (`if (!co_await sleep_for(period / 2))` over microseconds) crashed at the
    // first resume under WATCHDOG_USEC; test_lifecycle's watchdog test guards against a return.
    asio::awaitable<void> every(std::chrono::steady_clock::duration interval, std::function<void()> action)
    {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        for (;;) {
            action();
            timer.expires_after(interval);
            auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            if (ec) {
                co_return;
            }
        }
    }

    // glibc keeps heap memory freed by a burst (a page of a thousand records, a delivered batch) for reuse,
    // and SQLite its page cache; an idle daemon would hold ~5 MiB of the one and up to 16 MiB of the other
    // for good. Keep-alive connections that no send will reuse go too: a source polled every minute finds
    // them too old anyway, and over https each holds ~100 KiB (ten tenants keep some fifty). Every 10 s;
    // it costs well under a millisecond (bench/README.md, "Idle").
    void trim_memory()
    {
        if (tenant_set) {
            for (auto& tenant : tenants()) {
                tenant->drop_idle_connections();
            }
        }
        if (store) {
            store->release_memory();
        }
        malloc_trim(0);
    }

    // ---- lifecycle ---------------------------------------------------------------------------------

    asio::awaitable<void> reload()
    {
        systemd::reloading();
        spdlog::info("SIGHUP: reloading {}", config.file.string());
        auto loaded = load_config(config.file, registry);
        if (!loaded.config) {
            for (const auto& error : loaded.errors) {
                spdlog::error("reload rejected: {}", error.format());
            }
            spdlog::error("keeping the running configuration");
            metrics.reloaded(false);
            systemd::ready();
            co_return;
        }
        Config next = std::move(*loaded.config);
        if (next.state_dir != config.state_dir || next.http_listen != config.http_listen) {
            spdlog::warn("state_dir and http.listen changes take effect at the next restart");
            next.state_dir = config.state_dir;
            next.http_listen = config.http_listen;
        }
        // The old shutdown_timeout bounds the stop of the old tenants.
        const auto result = co_await tenant_set->reload(next.tenants, config.state_dir, config.shutdown_timeout);
        if (!result.ok) {
            spdlog::error("reload failed: {}; keeping the running configuration, every tenant goes on as before",
                          result.error);
            metrics.reloaded(false);
            systemd::ready();
            co_return;
        }
        config = std::move(next);
        setup_logging(config.log_level, config.log_format);
        metrics.reloaded(true);
        spdlog::info("configuration reloaded: {} tenant(s); restarted {} (new or changed), stopped {}, unchanged {}",
                     config.tenants.size(), names(result.plan.started), names(result.plan.stopped),
                     names(result.plan.kept));
        systemd::ready();
    }

    static std::string names(const std::vector<std::string>& list)
    {
        if (list.empty()) {
            return "none";
        }
        std::string text;
        for (const auto& name : list) {
            text += (text.empty() ? "" : ", ") + name;
        }
        return text;
    }

    asio::awaitable<void> shutdown()
    {
        stopping = true;
        ready = false;
        systemd::stopping();
        co_await tenant_set->stop(config.shutdown_timeout);
        service_tasks.cancel_all();
        if (server) {
            server->stop();
        }
        io.stop();
    }

    // A member coroutine, not a capturing lambda: a lambda's captures live in the closure, which is gone
    // once the awaitable is created, while the coroutine still reads them (UBSan caught it).
    asio::awaitable<void> poll_once_into(TenantRuntime& tenant, SourceRuntime& source, bool& all_polled)
    {
        auto outcome = co_await poll_source(tenant, source, config.state_dir);
        all_polled = all_polled && outcome.ok;
    }

    asio::awaitable<void> run_once()
    {
        std::vector<collectors::PollOutcome> outcomes;
        TaskGroup polls{"once"};
        bool all_polled = true;
        for (auto& tenant : tenants()) {
            for (auto& source : tenant->sources) {
                polls.spawn(executor(), "poll " + tenant->config.name + "/" + source->config.name,
                            poll_once_into(*tenant, *source, all_polled));
            }
        }
        co_await polls.wait(std::chrono::hours(24 * 365));
        bool delivered = true;
        if (!options.dry_run) {
            for (auto& tenant : tenants()) {
                for (auto& [use_case, endpoint] : tenant->endpoints) {
                    if (endpoint->exporter && endpoint->has_outbox()) {
                        delivered =
                            co_await endpoint->exporter->drain(std::max<Duration>(config.shutdown_timeout, 1s)) &&
                            delivered;
                    }
                }
                // Snapshots last, so that they show the outboxes as delivered; a push is no delivery.
                for (auto& [use_case, endpoint] : tenant->endpoints) {
                    if (endpoint->exporter && !endpoint->has_outbox()) {
                        co_await endpoint->exporter->drain(std::max<Duration>(config.shutdown_timeout, 1s));
                    }
                }
            }
        }
        if (!all_polled) {
            spdlog::error("--once: at least one source could not be polled completely");
        }
        if (!delivered) {
            spdlog::error("--once: events are left undelivered in the outbox; they go with the next run");
        }
        exit_code = (all_polled && delivered) ? 0 : 1;
        for (auto& tenant : tenants()) {
            tenant->close();
        }
        io.stop();
    }

    // Wakes the delivery loop of an endpoint whose queue an operator job changed.
    void wake_endpoint(std::int64_t id)
    {
        for (auto& tenant : tenants()) {
            for (auto& [use_case, endpoint] : tenant->endpoints) {
                if (endpoint->id == id && endpoint->exporter) {
                    endpoint->exporter->notify();
                }
            }
        }
    }

    int run()
    {
        if (!options.dry_run) {
            state_lock.emplace(StateLock::acquire(config.state_dir, options.once ? "once" : "daemon", 10s));
            if (const auto warning = state_dir_access_warning(config.state_dir); !warning.empty()) {
                spdlog::warn("{}", warning);
            }
        }
        if (options.dry_run) {
            store = StateStore::open_read_only(config.state_dir);
        } else {
            store = std::make_unique<StateStore>(config.state_dir);
        }
        build_tenants();

        if (options.once) {
            service_tasks.spawn(executor(), "once", run_once());
            io.run();
            return exit_code;
        }

        http::ServerOptions server_options;
        server_options.listen = config.http_listen;
        server = std::make_unique<http::Server>(
            executor(), server_options,
            [this](http::ServerRequest request) -> asio::awaitable<http::ServerResponse> { co_return serve(request); });
        server->start();
        spdlog::info("c4c-alm-collector {} serving /, /status, /metrics, /healthz, /readyz on {}", k_version,
                     config.http_listen);

        service_tasks.spawn(executor(), "signals", signal_loop());
        service_tasks.spawn(executor(), "housekeeping",
                            every(std::chrono::seconds(30), [this] { housekeeping.tick(*store, config); }));
        service_tasks.spawn(executor(), "trim", every(std::chrono::seconds(10), [this] { trim_memory(); }));
        service_tasks.spawn(executor(), "operator jobs", every(1s, [this] {
                                const auto wake = [this](std::int64_t endpoint) { wake_endpoint(endpoint); };
                                run_quarantine_jobs(*store, config, registry, wake);
                                run_operator_jobs(*store, wake);
                                backfills.tick(*store, executor(), tenants(), config.state_dir);
                            }));
        if (auto period = systemd::watchdog_period()) {
            // Ping at half the period systemd waits for, as sd_watchdog_enabled(3) advises.
            service_tasks.spawn(executor(), "watchdog",
                                every(std::chrono::duration_cast<std::chrono::steady_clock::duration>(*period) / 2,
                                      [] { systemd::watchdog(); }));
        }
        tenant_set->start(config.state_dir);
        ready = true;
        systemd::ready();
        systemd::status("polling " + std::to_string(config.tenants.size()) + " tenant(s)");
        io.run();
        return 0;
    }
};

Daemon::Daemon(Config config, RunOptions options, Registry registry)
    : m_impl(std::make_unique<Impl>(std::move(config), options, registry))
{}

Daemon::~Daemon() = default;

int Daemon::run()
{
    return m_impl->run();
}

}  // namespace c4c::daemon
