#pragma once

// The tenants a daemon runs, and how a reload changes them. A reload builds everything the new
// configuration needs that can fail (clients with their CA files, endpoints registered in the state
// store, collectors, exporters) before it touches the running set; only when that is whole does it
// stop the tenants that changed or went away and start the new ones. A tenant whose configuration is
// unchanged (TenantConfig::operator==) is not touched at all: its loops, timers, connections and OAuth2
// tokens go on. Everything here runs on the event loop.

#include "daemon/config.hpp"
#include "daemon/runtime.hpp"
#include "infra/metrics.hpp"
#include "infra/state_store.hpp"
#include "infra/units.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace c4c::daemon {

/// How a reload changes the running tenants, by name, each list in configuration order.
struct ReloadPlan {
    std::vector<std::string> kept;     ///< the same configuration: left running untouched
    std::vector<std::string> started;  ///< new or changed: built, then started
    std::vector<std::string> stopped;  ///< changed or removed: stopped
};

/// Compares the running tenants' configurations with the next ones.
ReloadPlan plan_reload(std::span<const TenantConfig> running, std::span<const TenantConfig> next);

/// What tenants are built with. `metrics` and `store` outlive the set.
struct TenantContext {
    boost::asio::any_io_executor executor;  ///< the event loop
    infra::StateStore* store = nullptr;     ///< nullptr only in a dry run without a store
    infra::Metrics* metrics = nullptr;
    Registry registry;
    bool dry_run = false;  ///< no exporters, nothing written
};

/// What a reload did.
struct ReloadResult {
    bool ok = false;
    std::string error;  ///< when not ok: why the new tenants could not be built (the running ones stay)
    ReloadPlan plan;
};

using Tenants = std::list<std::unique_ptr<TenantRuntime>>;

class TenantSet {
public:
    explicit TenantSet(TenantContext context);
    TenantSet(const TenantSet&) = delete;
    TenantSet& operator=(const TenantSet&) = delete;

    /// Builds and adds the tenants of `configs` without starting them (start-up, `--once`). Throws
    /// std::runtime_error naming the tenant when one cannot be built.
    void build(std::span<const TenantConfig> configs);
    /// Starts the polls and deliveries of every tenant (once, after build()).
    void start(const std::filesystem::path& state_dir);
    /// Stops every tenant: emits terminal cancellation, closes its HTTP clients so that requests under
    /// way end at once, and waits at most `timeout` for its tasks; tenants whose tasks outlast it are
    /// abandoned (kept alive, never awaited again).
    boost::asio::awaitable<void> stop(infra::Duration timeout);
    /// A reload to `next`: builds the new and changed tenants first; when one cannot be built, returns
    /// the error and everything runs on as before. Otherwise stops the changed and removed tenants (as
    /// stop() does, within `timeout`) and starts the new and changed ones; unchanged tenants are not
    /// touched. The set is then in the order of `next`.
    boost::asio::awaitable<ReloadResult> reload(std::span<const TenantConfig> next,
                                                const std::filesystem::path& state_dir, infra::Duration timeout);

    /// The tenants in configuration order.
    Tenants& running() { return m_running; }

private:
    /// Throws std::runtime_error naming the tenant.
    std::unique_ptr<TenantRuntime> build_one(const TenantConfig& config);
    std::unique_ptr<TenantRuntime> build_tenant(const TenantConfig& config);
    void start_one(TenantRuntime& tenant, const std::filesystem::path& state_dir, infra::Duration spread);
    infra::Duration spread() const;
    boost::asio::awaitable<void> stop(Tenants tenants, infra::Duration timeout);

    TenantContext m_context;
    Tenants m_running;
    Tenants m_abandoned;  ///< stopped, but tasks that ignored cancellation still use them
};

}  // namespace c4c::daemon
