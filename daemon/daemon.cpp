#include "daemon/daemon.hpp"

#include "collectors/collector.hpp"
#include "infra/backoff.hpp"
#include "daemon/operator_jobs.hpp"
#include "daemon/self_monitoring.hpp"
#include "daemon/status_page.hpp"
#include "daemon/status_recorder.hpp"
#include "infra/http/client.hpp"
#include "infra/http/server.hpp"
#include "infra/logging.hpp"
#include "infra/metrics.hpp"
#include "infra/state_lock.hpp"
#include "infra/state_store.hpp"
#include "infra/systemd_notify.hpp"
#include "infra/tasks.hpp"
#include "infra/version.hpp"
#include "exporters/cloud_alm.hpp"
#include "exporters/exporter.hpp"
#include "exporters/health_monitoring.hpp"
#include "exporters/otlp_json.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <list>
#include <map>
#include <set>

namespace c4c::daemon {

using namespace c4c::infra;

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::awaitable<bool> sleep_for(std::chrono::steady_clock::duration duration)
{
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !ec;
}

asio::awaitable<bool> cancelled()
{
    auto state = co_await asio::this_coro::cancellation_state;
    co_return state.cancelled() != asio::cancellation_type::none;
}

http::ClientOptions client_options(Duration timeout, int max_connections, const std::string& ca_file)
{
    http::ClientOptions options;
    options.timeout = timeout;
    options.max_connections = max_connections;
    options.ca_file = ca_file;
    return options;
}

// ---------------------------------------------------------------------------------------------------
// One Cloud ALM endpoint of one tenant: its client, its slice of the outbox, its exporter.

struct EndpointRuntime final : exporters::Outbox, exporters::DeliveryObserver {
    EndpointRuntime(asio::any_io_executor executor, StateStore* store_, Metrics& registry, const TenantConfig& tenant,
                    const EndpointConfig& config_)
        : config(config_),
          resource{tenant.name, tenant.c4c.url, config_.use_case},
          client(executor, client_options(config_.timeout, 2, config_.ca_file)),
          store(store_),
          id(store_ ? store_->endpoint_id(tenant.name, config_.use_case) : -1),
          metrics(registry.endpoint(tenant.name, config_.use_case))
    {
        if (store && id < 0) {
            throw std::runtime_error("cannot register endpoint " + config.use_case + " of tenant " + tenant.name +
                                     " in the state store");
        }
    }

    // exporters::Outbox
    std::vector<exporters::OutboxRow> peek(std::size_t max_events, std::size_t max_bytes, std::int64_t after) override
    {
        return store->peek(id, max_events, max_bytes, after);
    }
    bool remove(std::span<const exporters::OutboxRow> rows) override { return store->remove(id, rows); }
    bool reject(const exporters::OutboxRow& row, std::string_view answer) override
    {
        return store->reject(id, row, answer);
    }
    std::size_t size() override { return store->figures(id).events; }

    // exporters::DeliveryObserver
    void sent(std::size_t count, std::chrono::duration<double> elapsed) override
    {
        metrics.sent->Increment(static_cast<double>(count));
        metrics.send_duration->Observe(elapsed.count());
        delivery.sent();
    }
    void failed(std::string_view reason) override
    {
        metrics.failures(reason).Increment();
        delivery.failed(reason);
    }
    void rejected(std::size_t count) override
    {
        metrics.rejected->Increment(static_cast<double>(count));
        delivery.rejected();
    }
    void paused(bool value, std::string_view why) override
    {
        is_paused = value;
        metrics.paused->Set(value ? 1 : 0);
        delivery.paused(value, why);
    }

    bool accepting() const
    {
        const auto figures = store->figures(id);
        return figures.events < config.max_outbox_events && figures.bytes < config.max_outbox_bytes;
    }

    void refresh_metrics()
    {
        const auto figures = store->figures(id);
        metrics.outbox_events->Set(static_cast<double>(figures.events));
        metrics.outbox_bytes->Set(static_cast<double>(figures.bytes));
        const auto oldest = figures.events ? store->oldest(id) : std::nullopt;
        metrics.oldest_age->Set(
            oldest ? std::max(0.0, std::chrono::duration<double>(std::chrono::system_clock::now() - *oldest).count())
                   : 0.0);
    }

    EndpointConfig config;
    exporters::ResourceInfo resource;
    http::Client client;
    StateStore* store;
    std::int64_t id;
    EndpointMetrics metrics;
    DeliveryRecorder delivery{store, id};  // for `status`
    bool is_paused = false;
    std::unique_ptr<exporters::Exporter> exporter;
};

// ---------------------------------------------------------------------------------------------------
// One source of one tenant: its collector, its view of the store, its figures.

struct SourceRuntime final : collectors::FeedStore, collectors::RequestObserver {
    SourceRuntime(const TenantConfig& tenant_, const SourceConfig& config_, EndpointRuntime& endpoint_,
                  Metrics& registry, const collectors::CollectorKind& kind)
        : tenant(tenant_),
          config(config_),
          endpoint(endpoint_),
          metrics(registry.source(tenant_.name, config_.name)),
          collector(kind.make(config_)),
          feed_prefix(tenant_.name + "/" + config_.name + "/")
    {
    }

    // collectors::FeedStore
    std::string checkpoint(std::string_view feed) override
    {
        const std::string key = feed_prefix + std::string(feed);
        if (dry_run) {
            auto it = dry_checkpoints.find(key);
            if (it != dry_checkpoints.end()) {
                return it->second;
            }
            return endpoint.store ? endpoint.store->checkpoint(key) : std::string();
        }
        return endpoint.store->checkpoint(key);
    }

    collectors::CommitStatus commit(std::string_view feed, std::span<const infra::Event> events,
                                    std::string_view checkpoint_value, std::size_t& stored) override
    {
        stored = 0;
        const std::string key = feed_prefix + std::string(feed);
        if (dry_run) {
            for (const auto& event : events) {
                if (dry_seen.insert(event.id).second) {
                    const auto line = exporters::to_dry_run_line(endpoint.resource, exporters::encode_log_record(event));
                    std::fwrite(line.data(), 1, line.size(), stdout);
                    std::fputc('\n', stdout);
                    ++stored;
                }
            }
            std::fflush(stdout);
            dry_checkpoints[key] = std::string(checkpoint_value);
            return collectors::CommitStatus::committed;
        }
        if (!endpoint.accepting()) {
            return collectors::CommitStatus::outbox_full;
        }
        std::vector<std::string> payloads;
        payloads.reserve(events.size());
        std::vector<PendingEvent> pending;
        pending.reserve(events.size());
        for (const auto& event : events) {
            payloads.push_back(exporters::encode_log_record(event));
        }
        for (std::size_t i = 0; i < events.size(); ++i) {
            pending.push_back(PendingEvent{events[i].id, events[i].time_unix_nano, payloads[i]});
        }
        if (endpoint.store->commit_page(key, endpoint.id, pending, checkpoint_value, stored) != CommitResult::committed) {
            return collectors::CommitStatus::failed;
        }
        if (stored > 0 && endpoint.exporter) {
            endpoint.exporter->notify();
        }
        return collectors::CommitStatus::committed;
    }

    bool accepting() override { return dry_run || endpoint.accepting(); }

    // collectors::RequestObserver
    void request_done(std::chrono::duration<double> elapsed, std::string_view error_reason) override
    {
        metrics.request_duration->Observe(elapsed.count());
        last_request_seconds = elapsed.count();
        if (!error_reason.empty()) {
            metrics.errors(error_reason).Increment();
        }
    }

    const TenantConfig& tenant;
    const SourceConfig& config;
    EndpointRuntime& endpoint;
    SourceMetrics metrics;
    std::unique_ptr<collectors::Collector> collector;
    std::string feed_prefix;
    bool dry_run = false;
    std::map<std::string, std::string> dry_checkpoints;
    std::set<std::string> dry_seen;
    // Figures for Health Monitoring.
    bool up = false;
    bool polled = false;
    double last_request_seconds = 0;
    std::uint64_t records_total = 0;
    std::uint64_t failed_messages_total = 0;
    std::size_t consecutive_failures = 0;
    LogLimiter failure_log{std::chrono::minutes(5)};
};

// Reasons a poll can fail without a failed HTTP request (those are counted by request_done).
bool counted_by_poll(const collectors::FailureReason& reason)
{
    using Kind = collectors::FailureReason::Kind;
    switch (reason.kind) {
    case Kind::parse:
    case Kind::timezone:
    case Kind::pseudonymization:
    case Kind::store:
    case Kind::outbox_full:
    case Kind::soap_fault: return true;
    case Kind::none:
    case Kind::network:
    case Kind::http_status:
    case Kind::cancelled:
    case Kind::paging:
    case Kind::internal: break;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------------
// One tenant: its C4C client and its sources and endpoints.

struct TenantRuntime {
    TenantRuntime(asio::any_io_executor executor, const TenantConfig& config_, StateStore* store, Metrics& metrics)
        : config(config_),
          c4c(executor, client_options(config_.c4c.timeout, config_.c4c.max_connections, config_.c4c.ca_file))
    {
        for (const auto& [use_case, endpoint_config] : config.endpoints) {
            endpoints.emplace(use_case, std::make_unique<EndpointRuntime>(executor, store, metrics, config, endpoint_config));
        }
        for (const auto& [name, source_config] : config.sources) {
            if (!source_config.enabled) {
                continue;
            }
            const auto* kind = collectors::find_collector_kind(name);
            auto endpoint = endpoints.find(use_case_of_source(name));
            if (!kind || endpoint == endpoints.end()) {
                throw std::runtime_error("tenant " + config.name + ": no collector or endpoint for source " + name);
            }
            sources.push_back(std::make_unique<SourceRuntime>(config, source_config, *endpoint->second, metrics, *kind));
        }
    }

    void close()
    {
        c4c.close();
        for (auto& [name, endpoint] : endpoints) {
            endpoint->client.close();
        }
    }

    TenantConfig config;
    http::Client c4c;
    std::map<std::string, std::unique_ptr<EndpointRuntime>> endpoints;
    std::vector<std::unique_ptr<SourceRuntime>> sources;
    std::unique_ptr<exporters::HealthExporter> health;
};

} // namespace

// -------------------------------------------------------------------------------------------------------

struct Daemon::Impl {
    Impl(Config config_, RunOptions options_) : config(std::move(config_)), options(options_) {}

    Config config;
    RunOptions options;
    std::optional<StateLock> state_lock;  // held while this process owns state_dir
    asio::io_context io{1};
    std::unique_ptr<StateStore> store;
    Metrics metrics;
    std::unique_ptr<http::Server> server;
    std::list<std::unique_ptr<TenantRuntime>> tenants;
    std::list<std::unique_ptr<TenantRuntime>> abandoned;  // tasks that ignored cancellation still use these
    TaskGroup tenant_tasks{"tenant"};
    TaskGroup service_tasks{"service"};
    bool ready = false;
    bool stopping = false;
    int exit_code = 0;

    asio::any_io_executor executor() { return io.get_executor(); }

    // ---- set-up ------------------------------------------------------------------------------------

    void build_tenants()
    {
        for (const auto& tenant_config : config.tenants) {
            auto tenant = std::make_unique<TenantRuntime>(executor(), tenant_config, store.get(), metrics);
            for (auto& source : tenant->sources) {
                source->dry_run = options.dry_run;
            }
            if (!options.dry_run) {
                for (auto& [use_case, endpoint] : tenant->endpoints) {
                    if (use_case == k_use_case_health) {
                        continue;  // no outbox: the health exporter below pushes snapshots
                    }
                    endpoint->exporter = std::make_unique<exporters::CloudAlmExporter>(
                        executor(), endpoint->config, endpoint->resource, endpoint->client, *endpoint, *endpoint);
                }
                if (auto it = tenant->endpoints.find(k_use_case_health); it != tenant->endpoints.end()) {
                    auto* runtime = tenant.get();
                    auto& endpoint = *it->second;
                    tenant->health = std::make_unique<exporters::HealthExporter>(
                        endpoint.config, endpoint.resource, endpoint.client, endpoint,
                        [runtime] { return health_snapshot(*runtime); });
                }
            }
            tenants.push_back(std::move(tenant));
        }
        metrics.on_scrape([this] {
            for (auto& tenant : tenants) {
                for (auto& [use_case, endpoint] : tenant->endpoints) {
                    if (use_case != k_use_case_health) {
                        endpoint->refresh_metrics();
                    }
                }
            }
        });
    }

    static exporters::MetricPoint health_point(const char* name, const char* description, const char* unit,
                                               exporters::MetricPoint::Kind kind, infra::Attribute attribute,
                                               double value)
    {
        exporters::MetricPoint point;
        point.name = name;
        point.description = description;
        point.unit = unit;
        point.kind = kind;
        point.attributes.push_back(std::move(attribute));
        point.value = value;
        return point;
    }

    static std::vector<exporters::MetricPoint> health_snapshot(TenantRuntime& tenant)
    {
        using Kind = exporters::MetricPoint::Kind;
        std::vector<exporters::MetricPoint> points;
        for (auto& source : tenant.sources) {
            const infra::Attribute attribute{"sap.c4c.source", source->config.name};
            points.push_back(health_point("c4c.source.availability", "1 when the last poll of the source succeeded",
                                          "1", Kind::gauge, attribute, source->up ? 1.0 : 0.0));
            points.push_back(health_point("c4c.source.request.duration", "Duration of the last C4C request", "s",
                                          Kind::gauge, attribute, source->last_request_seconds));
            points.push_back(health_point("c4c.source.records", "Records read from C4C", "{record}", Kind::sum,
                                          attribute, static_cast<double>(source->records_total)));
            if (source->config.name == k_source_webservice_messages) {
                points.push_back(health_point("c4c.webservice_messages.failed",
                                              "Web-service messages seen in status Failed", "{message}", Kind::sum,
                                              attribute, static_cast<double>(source->failed_messages_total)));
            }
        }
        for (auto& [use_case, endpoint] : tenant.endpoints) {
            if (use_case == k_use_case_health || !endpoint->store) {
                continue;
            }
            points.push_back(health_point("c4c.outbox.events", "Events waiting for delivery to Cloud ALM", "{event}",
                                          Kind::gauge, infra::Attribute{"sap.calm.use_case", use_case},
                                          static_cast<double>(endpoint->store->figures(endpoint->id).events)));
        }
        return points;
    }

    void start_tenant_tasks()
    {
        for (auto& tenant : tenants) {
            for (auto& source : tenant->sources) {
                tenant_tasks.spawn(executor(), "poll " + tenant->config.name + "/" + source->config.name,
                                   source_loop(*tenant, *source, first_poll_spread()));
            }
            for (auto& [use_case, endpoint] : tenant->endpoints) {
                if (endpoint->exporter) {
                    tenant_tasks.spawn(executor(), "deliver " + tenant->config.name + "/" + use_case,
                                       endpoint->exporter->run());
                }
            }
            if (tenant->health) {
                tenant_tasks.spawn(executor(), "health " + tenant->config.name, tenant->health->run());
            }
        }
    }

    // ---- polling -----------------------------------------------------------------------------------

    asio::awaitable<collectors::PollOutcome> poll_once(TenantRuntime& tenant, SourceRuntime& source)
    {
        collectors::PollContext context{tenant.config.name, tenant.config.c4c, source.config, tenant.c4c, source,
                                        source,             config.state_dir,  std::chrono::system_clock::now()};
        auto outcome = co_await source.collector->poll(context);
        record(source, outcome);
        co_return outcome;
    }

    void record(SourceRuntime& source, const collectors::PollOutcome& outcome)
    {
        if (!options.dry_run) {
            record_poll(*store, source.tenant.name, source.config.name, outcome, std::chrono::system_clock::now());
        }
        source.polled = true;
        source.records_total += outcome.records;
        source.failed_messages_total += outcome.failed_messages;
        source.metrics.records->Increment(static_cast<double>(outcome.records));
        if (source.metrics.failed_messages) {
            source.metrics.failed_messages->Increment(static_cast<double>(outcome.failed_messages));
        }
        source.metrics.blocked->Set(outcome.reason == collectors::FailureReason::Kind::outbox_full ? 1 : 0);
        const std::string where = source.tenant.name + "/" + source.config.name;
        if (outcome.ok) {
            source.up = true;
            source.metrics.up->Set(1);
            source.metrics.last_success->Set(unix_seconds(std::chrono::system_clock::now()));
            if (source.consecutive_failures > 0) {
                spdlog::info("tenant {} source {}: recovered after {} failed poll(s)", source.tenant.name,
                             source.config.name, source.consecutive_failures);
            }
            source.consecutive_failures = 0;
            source.failure_log.reset();
            spdlog::debug("{}: polled {} records, {} new", where, outcome.records, outcome.stored);
            return;
        }
        ++source.consecutive_failures;
        if (counted_by_poll(outcome.reason)) {
            source.metrics.errors(outcome.reason.label()).Increment();
        }
        if (outcome.reason != collectors::FailureReason::Kind::outbox_full) {
            source.up = false;
            source.metrics.up->Set(0);
        }
        if (auto suppressed = source.failure_log.admit()) {
            const auto suffix = suppressed_note(*suppressed);
            if (outcome.auth_failed) {
                spdlog::error("{}; source is down until the next interval{}", outcome.message, suffix);
            } else if (outcome.reason == collectors::FailureReason::Kind::outbox_full) {
                spdlog::warn("{}{}", outcome.message, suffix);
            } else {
                spdlog::error("{}{}", outcome.message, suffix);
            }
        }
    }

    // First polls are spread over 20 ms per configured source, at most 5 s, so that many tenants do not
    // all poll at once, while a small installation starts at once.
    Duration first_poll_spread() const
    {
        std::size_t count = 0;
        for (const auto& tenant : tenants) {
            count += tenant->sources.size();
        }
        return std::min<Duration>(5s, std::chrono::milliseconds(20) * static_cast<std::int64_t>(count));
    }

    asio::awaitable<void> source_loop(TenantRuntime& tenant, SourceRuntime& source, Duration spread)
    {
        using clock = std::chrono::steady_clock;
        const auto interval = source.config.interval;
        // Each poll has a planned start; how late it actually starts (a busy loop, or a previous poll that
        // overran its interval) is the schedule lag.
        auto planned = clock::now() + jitter(std::min<Duration>(interval, spread), 1.0);
        Backoff error_backoff(std::chrono::seconds(5), interval);
        for (;;) {
            if (!co_await sleep_for(planned - clock::now())) {
                co_return;
            }
            const auto started = clock::now();
            source.metrics.schedule_lag->Observe(
                std::max(0.0, std::chrono::duration<double>(started - planned).count()));
            auto outcome = co_await poll_once(tenant, source);
            if (co_await cancelled()) {
                co_return;
            }
            if (outcome.ok) {
                error_backoff.reset();
                planned = started + interval;
            } else if (outcome.auth_failed) {
                planned = clock::now() + interval;
            } else if (outcome.reason == collectors::FailureReason::Kind::outbox_full) {
                planned = clock::now() + std::min<clock::duration>(interval, 5s);
            } else {
                planned = clock::now() + std::min<clock::duration>(interval, error_backoff.next());
            }
        }
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
        for (auto& tenant : tenants) {
            for (auto& [use_case, endpoint] : tenant->endpoints) {
                if (endpoint->store && use_case != k_use_case_health && !endpoint->accepting()) {
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
    // for good. Handing both back every 30 s costs well under a millisecond and keeps an idle daemon with
    // 10 tenants under 20 MiB (bench/README.md, "Idle").
    void trim_memory()
    {
        if (store) {
            store->release_memory();
        }
        malloc_trim(0);
    }

    void prune_seen_ids()
    {
        Duration widest{0};
        for (const auto& tenant : config.tenants) {
            for (const auto& [name, source] : tenant.sources) {
                widest = std::max(widest, source.overlap);
            }
        }
        // No overlap window reaches further back than this, so such ids can never be re-read.
        const auto horizon = std::chrono::system_clock::now() - widest - std::chrono::hours(72);
        if (const auto removed = store->prune_seen(horizon); removed > 0) {
            spdlog::debug("forgot {} delivered event ids older than the overlap windows", removed);
        }
    }

    // ---- lifecycle ---------------------------------------------------------------------------------

    asio::awaitable<void> stop_tenants()
    {
        tenant_tasks.cancel_all();
        for (auto& tenant : tenants) {
            tenant->close();
        }
        if (!co_await tenant_tasks.wait(config.shutdown_timeout)) {
            spdlog::warn("{} task(s) did not stop within shutdown_timeout {} ms; abandoning them",
                         tenant_tasks.live(), config.shutdown_timeout.count());
            abandoned.splice(abandoned.end(), tenants);
        }
        tenants.clear();
    }

    asio::awaitable<void> reload()
    {
        systemd::reloading();
        spdlog::info("SIGHUP: reloading {}", config.file.string());
        auto loaded = load_config(config.file);
        if (!loaded.config) {
            for (const auto& error : loaded.errors) {
                spdlog::error("reload rejected: {}", error.format());
            }
            spdlog::error("keeping the running configuration");
            systemd::ready();
            co_return;
        }
        Config next = std::move(*loaded.config);
        if (next.state_dir != config.state_dir || next.http_listen != config.http_listen) {
            spdlog::warn("state_dir and http.listen changes take effect at the next restart");
            next.state_dir = config.state_dir;
            next.http_listen = config.http_listen;
        }
        co_await stop_tenants();
        config = std::move(next);
        setup_logging(config.log_level, config.log_format);
        try {
            build_tenants();
            start_tenant_tasks();
            spdlog::info("configuration reloaded: {} tenant(s)", config.tenants.size());
        } catch (const std::exception& e) {
            spdlog::error("reload failed: {}", e.what());
        }
        systemd::ready();
    }

    asio::awaitable<void> shutdown()
    {
        stopping = true;
        ready = false;
        systemd::stopping();
        co_await stop_tenants();
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
        auto outcome = co_await poll_once(tenant, source);
        all_polled = all_polled && outcome.ok;
    }

    asio::awaitable<void> run_once()
    {
        std::vector<collectors::PollOutcome> outcomes;
        TaskGroup polls{"once"};
        bool all_polled = true;
        for (auto& tenant : tenants) {
            for (auto& source : tenant->sources) {
                polls.spawn(executor(), "poll " + tenant->config.name + "/" + source->config.name,
                            poll_once_into(*tenant, *source, all_polled));
            }
        }
        co_await polls.wait(std::chrono::hours(24 * 365));
        bool delivered = true;
        if (!options.dry_run) {
            for (auto& tenant : tenants) {
                for (auto& [use_case, endpoint] : tenant->endpoints) {
                    if (endpoint->exporter) {
                        delivered = co_await endpoint->exporter->drain(std::max<Duration>(config.shutdown_timeout, 1s)) &&
                                    delivered;
                    }
                }
                if (tenant->health) {
                    co_await tenant->health->push_once();
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
        for (auto& tenant : tenants) {
            tenant->close();
        }
        io.stop();
    }

    // Wakes the delivery loop of an endpoint whose queue an operator job changed.
    void wake_endpoint(std::int64_t id)
    {
        for (auto& tenant : tenants) {
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
        service_tasks.spawn(executor(), "prune", every(std::chrono::minutes(15), [this] { prune_seen_ids(); }));
        service_tasks.spawn(executor(), "trim", every(std::chrono::seconds(30), [this] { trim_memory(); }));
        service_tasks.spawn(executor(), "operator jobs", every(1s, [this] {
                                run_operator_jobs(*store, [this](std::int64_t endpoint) { wake_endpoint(endpoint); });
                            }));
        if (auto period = systemd::watchdog_period()) {
            // Ping at half the period systemd waits for, as sd_watchdog_enabled(3) advises.
            service_tasks.spawn(executor(), "watchdog",
                                every(std::chrono::duration_cast<std::chrono::steady_clock::duration>(*period) / 2,
                                      [] { systemd::watchdog(); }));
        }
        start_tenant_tasks();
        ready = true;
        systemd::ready();
        systemd::status("polling " + std::to_string(config.tenants.size()) + " tenant(s)");
        io.run();
        return 0;
    }

};

Daemon::Daemon(Config config, RunOptions options) : m_impl(std::make_unique<Impl>(std::move(config), options)) {}

Daemon::~Daemon() = default;

int Daemon::run()
{
    return m_impl->run();
}

} // namespace c4c::daemon
