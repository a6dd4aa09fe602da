#pragma once

// The running objects of one tenant, built from its configuration: its C4C client, its endpoints and
// its sources. They are the adapters between the collectors' and exporters' interfaces and the state
// store: an EndpointRuntime is its endpoint's exporters::Outbox and DeliveryObserver, an OutboxFeedStore
// a source's collectors::FeedStore. Everything here runs on the event loop.

#include "collectors/collector.hpp"
#include "collectors/tenant_clock.hpp"
#include "daemon/config.hpp"
#include "daemon/status_recorder.hpp"
#include "exporters/exporter.hpp"
#include "infra/http/client.hpp"
#include "infra/logging.hpp"
#include "infra/metrics.hpp"
#include "infra/state_store.hpp"
#include "infra/tasks.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::daemon {

/// One Cloud ALM endpoint of one tenant: its client, its slice of the outbox, its exporter.
struct EndpointRuntime final : exporters::Outbox, exporters::DeliveryObserver {
    /// Registers the endpoint in `store` (when there is one); throws std::runtime_error when it cannot.
    EndpointRuntime(const boost::asio::any_io_executor& executor, infra::StateStore* store, infra::Metrics& registry,
                    const TenantConfig& tenant, const exporters::EndpointConfig& config,
                    const exporters::ExporterKind& kind);

    // exporters::Outbox
    std::vector<exporters::OutboxRow> peek(std::size_t max_events, std::size_t max_bytes, std::int64_t after) override;
    bool remove(std::span<const exporters::OutboxRow> rows) override;
    bool reject(const exporters::OutboxRow& row, std::string_view answer) override;
    std::size_t size() override;
    std::optional<exporters::CompressedRows> peek_compressed(std::size_t max_events, std::size_t max_json_bytes,
                                                             std::int64_t after) override;
    bool remove_compressed(const exporters::CompressedRows& rows) override;
    std::int64_t aligned_end(std::int64_t first_seq, std::int64_t last_seq) override;

    // exporters::DeliveryObserver
    void sent(std::size_t count, std::chrono::duration<double> elapsed) override;
    void failed(const exporters::SendFailure& reason) override;
    void rejected(std::size_t count) override;
    void paused(bool value, std::string_view why) override;
    void endpoint_up(bool value) override;

    /// True when the endpoint is fed through an outbox (not a snapshot exporter such as Health Monitoring).
    bool has_outbox() const { return kind.feed == exporters::EndpointFeed::outbox; }
    /// False while the outbox is at max_outbox_events or max_outbox_bytes.
    bool accepting() const;
    /// Sets the outbox gauges (depth, bytes, oldest age) from the store, before a scrape.
    void refresh_metrics();
    /// Its exporter starts: up and unpaused in the metrics and the recorded delivery state. Building an
    /// endpoint changes neither, so that a reload may build one and discard it.
    void start();

    exporters::EndpointConfig config;
    const exporters::ExporterKind& kind;
    exporters::ResourceInfo resource;
    infra::http::Client client;
    infra::StateStore* store;
    std::int64_t id;
    infra::EndpointMetrics metrics;
    DeliveryRecorder delivery{store, id};  ///< the endpoint's delivery state, for `status`
    bool is_paused = false;
    std::unique_ptr<exporters::Exporter> exporter;  ///< none in dry-run
};

/// A source's FeedStore: its pages and checkpoints go to the state store, the events into its endpoint's
/// outbox (encoded as OTLP log records), and a commit wakes the endpoint's exporter.
class OutboxFeedStore final : public collectors::FeedStore {
public:
    /// The feeds of `source` of `tenant`; their checkpoints are keyed "tenant/source/feed" in the store.
    /// Records quarantined for the first time are counted in `metrics` and logged (daemon/quarantine.hpp).
    OutboxFeedStore(EndpointRuntime& endpoint, std::string tenant, std::string source, infra::SourceMetrics& metrics);

    std::string checkpoint(std::string_view feed) override;
    collectors::CommitStatus commit(std::string_view feed, const collectors::FeedPage& page,
                                    std::size_t& stored) override;
    bool accepting() override;

private:
    EndpointRuntime& m_endpoint;
    std::string m_tenant;
    std::string m_source;
    std::string m_feed_prefix;
    infra::SourceMetrics& m_metrics;
};

/// One source of one tenant: its collector, its store, its figures.
struct SourceRuntime final : collectors::RequestObserver {
    /// `dry_run`: the source's store is a DryRunStore (dry_run_store.hpp) instead of the outbox.
    SourceRuntime(const TenantConfig& tenant, const collectors::SourceConfig& config, EndpointRuntime& endpoint,
                  infra::Metrics& registry, const collectors::CollectorKind& kind, bool dry_run);

    // collectors::RequestObserver
    void request_done(std::chrono::duration<double> elapsed, std::string_view error_reason) override;

    const TenantConfig& tenant;
    const collectors::SourceConfig& config;
    const collectors::CollectorKind& kind;
    EndpointRuntime& endpoint;
    infra::SourceMetrics metrics;
    std::unique_ptr<collectors::Collector> collector;
    std::unique_ptr<collectors::FeedStore> store;
    bool dry_run = false;  ///< nothing is written to the state store
    // Figures for Health Monitoring.
    bool up = false;
    bool polled = false;
    double last_request_seconds = 0;
    std::uint64_t records_total = 0;
    std::uint64_t failed_messages_total = 0;
    std::size_t consecutive_failures = 0;
    infra::LogLimiter failure_log{std::chrono::minutes(5)};
};

/// One tenant: its C4C client and its sources and endpoints (exporters are added by the daemon), and the
/// tasks that poll and deliver for it.
struct TenantRuntime {
    /// Throws std::runtime_error when a source has no kind in `registry` or no endpoint, or the store fails,
    /// or a client cannot be built (a CA file that cannot be loaded). Records nothing and sets no metric.
    TenantRuntime(const boost::asio::any_io_executor& executor, const TenantConfig& config, infra::StateStore* store,
                  infra::Metrics& metrics, const Registry& registry, bool dry_run);

    /// Closes every HTTP client, so that requests under way end at once.
    void close();
    /// Closes the keep-alive connections of its clients that no send would reuse (http::Client::drop_idle).
    void drop_idle_connections();
    /// True once close() was called: the tenant is being stopped (a reload, shutdown); start nothing on it.
    bool closed = false;

    TenantConfig config;
    infra::http::Client c4c;
    collectors::TenantClock clock;  ///< the tenant's clock as its Date headers tell it
    std::map<std::string, std::unique_ptr<EndpointRuntime>> endpoints;  ///< keyed by use case
    std::vector<std::unique_ptr<SourceRuntime>> sources;                ///< enabled sources only
    /// Its polls and deliveries; last, so destroyed first (cancelling what still runs).
    infra::TaskGroup tasks{"tenant"};
};

}  // namespace c4c::daemon
