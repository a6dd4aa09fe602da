#include "daemon/tenant_set.hpp"

#include "daemon/health_snapshot.hpp"
#include "daemon/scheduler.hpp"
#include "exporters/exporter.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>

namespace c4c::daemon {

using namespace c4c::infra;

namespace asio = boost::asio;

ReloadPlan plan_reload(std::span<const TenantConfig> running, std::span<const TenantConfig> next)
{
    ReloadPlan plan;
    for (const auto& tenant : next) {
        const auto same = std::find_if(running.begin(), running.end(),
                                       [&](const TenantConfig& old) { return old.name == tenant.name; });
        (same != running.end() && *same == tenant ? plan.kept : plan.started).push_back(tenant.name);
    }
    for (const auto& tenant : running) {
        if (std::find(plan.kept.begin(), plan.kept.end(), tenant.name) == plan.kept.end()) {
            plan.stopped.push_back(tenant.name);
        }
    }
    return plan;
}

TenantSet::TenantSet(TenantContext context) : m_context(std::move(context)) {}

std::unique_ptr<TenantRuntime> TenantSet::build_one(const TenantConfig& config)
{
    try {
        return build_tenant(config);
    } catch (const std::exception& e) {
        const std::string what = e.what();
        throw std::runtime_error(
            what.find("tenant " + config.name) == std::string::npos ? "tenant " + config.name + ": " + what : what);
    }
}

std::unique_ptr<TenantRuntime> TenantSet::build_tenant(const TenantConfig& config)
{
    auto tenant = std::make_unique<TenantRuntime>(m_context.executor, config, m_context.store, *m_context.metrics,
                                                  m_context.registry, m_context.dry_run);
    if (!m_context.dry_run) {
        auto* runtime = tenant.get();
        for (auto& [use_case, endpoint] : tenant->endpoints) {
            const bool outbox = endpoint->has_outbox();
            endpoint->exporter = endpoint->kind.make(exporters::ExporterContext{
                .executor = m_context.executor,
                .endpoint = endpoint->config,
                .resource = endpoint->resource,
                .client = endpoint->client,
                .observer = *endpoint,
                .outbox = outbox ? endpoint.get() : nullptr,
                .snapshot =
                    outbox ? exporters::ExporterContext::Snapshot() : [runtime] { return health_snapshot(*runtime); },
            });
        }
    }
    return tenant;
}

void TenantSet::build(std::span<const TenantConfig> configs)
{
    Tenants built;
    for (const auto& config : configs) {
        built.push_back(build_one(config));
    }
    m_running.splice(m_running.end(), built);
}

Duration TenantSet::spread() const
{
    std::size_t sources = 0;
    for (const auto& tenant : m_running) {
        sources += tenant->sources.size();
    }
    return first_poll_spread(sources);
}

void TenantSet::start_one(TenantRuntime& tenant, const std::filesystem::path& state_dir, Duration spread)
{
    const auto executor = m_context.executor;
    for (auto& source : tenant.sources) {
        tenant.tasks.spawn(executor, "poll " + tenant.config.name + "/" + source->config.name,
                           run_source(tenant, *source, state_dir, spread));
    }
    // The exporters of outboxes first, then those that push snapshots (Health Monitoring).
    for (const bool outbox : {true, false}) {
        for (auto& [use_case, endpoint] : tenant.endpoints) {
            if (endpoint->exporter && endpoint->has_outbox() == outbox) {
                endpoint->start();
                tenant.tasks.spawn(executor,
                                   outbox ? "deliver " + tenant.config.name + "/" + use_case
                                          : "health " + tenant.config.name,
                                   endpoint->exporter->run());
            }
        }
    }
}

void TenantSet::start(const std::filesystem::path& state_dir)
{
    const auto window = spread();
    for (auto& tenant : m_running) {
        start_one(*tenant, state_dir, window);
    }
}

asio::awaitable<void> TenantSet::stop(Tenants tenants, Duration timeout)
{
    for (auto& tenant : tenants) {
        tenant->tasks.cancel_all();
        tenant->close();
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t abandoned_tasks = 0;
    for (auto tenant = tenants.begin(); tenant != tenants.end();) {
        const auto left = std::max<Duration>(
            Duration(0), std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now()));
        if (co_await (*tenant)->tasks.wait(left)) {
            tenant = tenants.erase(tenant);
        } else {
            abandoned_tasks += (*tenant)->tasks.live();
            ++tenant;
        }
    }
    if (abandoned_tasks > 0) {
        spdlog::warn("{} task(s) did not stop within shutdown_timeout {} ms; abandoning them", abandoned_tasks,
                     timeout.count());
        m_abandoned.splice(m_abandoned.end(), tenants);
    }
}

asio::awaitable<void> TenantSet::stop(Duration timeout)
{
    co_await stop(std::move(m_running), timeout);
    m_running.clear();
}

asio::awaitable<ReloadResult> TenantSet::reload(std::span<const TenantConfig> next,
                                                const std::filesystem::path& state_dir, Duration timeout)
{
    std::vector<TenantConfig> running_configs;
    for (const auto& tenant : m_running) {
        running_configs.push_back(tenant->config);
    }
    ReloadResult result{.ok = false, .error = {}, .plan = plan_reload(running_configs, next)};

    // Everything that can fail, before anything running is touched.
    std::map<std::string, std::unique_ptr<TenantRuntime>> built;
    try {
        for (const auto& config : next) {
            if (std::find(result.plan.started.begin(), result.plan.started.end(), config.name) !=
                result.plan.started.end()) {
                built.emplace(config.name, build_one(config));
            }
        }
    } catch (const std::exception& e) {
        result.error = e.what();
        co_return result;
    }

    Tenants leaving;
    std::map<std::string, std::unique_ptr<TenantRuntime>> kept;
    for (auto& tenant : m_running) {
        const auto& name = tenant->config.name;
        if (std::find(result.plan.kept.begin(), result.plan.kept.end(), name) != result.plan.kept.end()) {
            kept.emplace(name, std::move(tenant));
        } else {
            leaving.push_back(std::move(tenant));
        }
    }
    m_running.clear();
    for (const auto& config : next) {
        auto from = kept.find(config.name);
        m_running.push_back(std::move(from != kept.end() ? from->second : built.at(config.name)));
    }
    // The running set is whole again before the wait below, so that a scrape or a readiness check
    // during it sees the tenants that run (the new ones are not started yet, and report nothing).
    co_await stop(std::move(leaving), timeout);
    const auto window = spread();
    for (auto& tenant : m_running) {
        if (built.contains(tenant->config.name)) {
            start_one(*tenant, state_dir, window);
        }
    }
    result.ok = true;
    co_return result;
}

}  // namespace c4c::daemon
