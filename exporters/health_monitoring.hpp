#pragma once

// Health Monitoring (CONTRACT.md section 4): every interval, the daemon's own view of a tenant (per
// source availability, request duration, records fetched, failed web-service messages) is pushed as an
// OTLP metrics document to the tenant's `health_monitoring` endpoint. No outbox: a push that fails is
// counted (DeliveryObserver::failed) and superseded by the next one. Same auth, gzip and Retry-After
// handling as the log exporter (cloud_alm.hpp). Runs on the event loop; not thread-safe.

#include "exporters/cloud_alm.hpp"
#include "exporters/endpoint_config.hpp"
#include "exporters/exporter.hpp"
#include "exporters/otlp_json.hpp"
#include "infra/http/client.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace c4c::exporters {

/// The endpoint key and `sap.calm.use_case` of Health Monitoring.
inline constexpr const char* k_use_case_health = "health_monitoring";

struct HealthOptions {
    std::chrono::milliseconds interval{0};                 ///< push period; 0 takes the endpoint's `interval`
    std::optional<std::chrono::milliseconds> first_delay;  ///< before the first push; default one interval
    std::chrono::system_clock::time_point start_time{};    ///< startTimeUnixNano of sums; default: construction
    DeliveryOptions delivery;  ///< retry_after_cap, log_interval, token (backoff/pause are not used)
};

class HealthExporter final : public Exporter {
public:
    /// Called on the event loop at each push; returns the points to send (none: the push is skipped).
    using Snapshot = std::function<std::vector<MetricPoint>()>;

    /// `client` and `observer` must outlive the exporter; `endpoint` is copied. `resource.use_case`
    /// is set to "health_monitoring" when empty.
    HealthExporter(const EndpointConfig& endpoint, ResourceInfo resource, infra::http::Client& client,
                   DeliveryObserver& observer, Snapshot snapshot, HealthOptions options = {});

    /// Pushes every interval until cancelled (a Retry-After longer than the interval postpones the
    /// next push). Returns or throws operation_aborted on cancellation; never throws otherwise.
    boost::asio::awaitable<void> run() override;

    /// One push of a fresh snapshot: true when the endpoint answered 2xx (or there was nothing to send).
    /// 401/403 mark the endpoint paused until a push succeeds. Never throws except on cancellation.
    boost::asio::awaitable<bool> push_once();

    /// One push_once() (for `--once`; there is no outbox to drain, and `budget` is not used).
    boost::asio::awaitable<bool> drain(std::chrono::milliseconds budget) override;
    /// Nothing to wake: pushes follow the interval.
    void notify() override {}

    std::chrono::milliseconds interval() const { return m_interval; }

private:
    ResourceInfo m_resource;
    std::chrono::milliseconds m_interval;
    HealthOptions m_options;
    DeliveryObserver& m_observer;
    Snapshot m_snapshot;
    AlmPoster m_poster;
    std::int64_t m_start_unix_nano;
    std::optional<std::chrono::milliseconds> m_retry_after;
    bool m_paused = false;
    infra::LogLimiter m_failure_log;
};

/// Health Monitoring: a HealthExporter fed with the daemon's snapshot of the tenant (the row of the
/// exporter table, exporters/registry.cpp). Its own key: `interval`, the push period.
extern const ExporterKind k_health_monitoring_exporter_kind;

}  // namespace c4c::exporters
