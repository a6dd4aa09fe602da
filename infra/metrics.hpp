#pragma once

// The daemon's Prometheus surface (CONTRACT.md section 6), on a prometheus-cpp core registry. Metric
// handles are looked up once per (tenant, source) or (tenant, endpoint) and kept by their owners.
// Used from the event loop only.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::infra {

/// Handles for one source of one tenant.
struct SourceMetrics {
    prometheus::Gauge* up = nullptr;
    prometheus::Counter* records = nullptr;
    prometheus::Gauge* last_success = nullptr;
    prometheus::Histogram* request_duration = nullptr;
    prometheus::Counter* failed_messages = nullptr;  ///< only for a source that counts failed items
    prometheus::Gauge* blocked = nullptr;            ///< 1 while its endpoint's outbox is full
    prometheus::Histogram* schedule_lag = nullptr;   ///< actual poll start minus planned start, seconds
    std::function<prometheus::Counter&(std::string_view reason)> errors;
    /// source_records_quarantined_total: records that could not be normalized, by reason
    std::function<prometheus::Counter&(std::string_view reason)> quarantined;
};

/// Handles for one endpoint of one tenant.
struct EndpointMetrics {
    prometheus::Gauge* outbox_events = nullptr;
    prometheus::Gauge* outbox_bytes = nullptr;
    prometheus::Gauge* oldest_age = nullptr;
    prometheus::Counter* sent = nullptr;
    prometheus::Counter* rejected = nullptr;
    prometheus::Gauge* paused = nullptr;
    prometheus::Gauge* up = nullptr;  ///< set to 1 by its owner when delivery starts
    prometheus::Histogram* send_duration = nullptr;
    std::function<prometheus::Counter&(std::string_view reason)> failures;
};

class Metrics {
public:
    Metrics();
    /// `counts_failed_items`: the source reports failed upstream items (source_failed_messages_total).
    SourceMetrics source(const std::string& tenant, const std::string& source, bool counts_failed_items = false);
    EndpointMetrics endpoint(const std::string& tenant, const std::string& endpoint);
    /// tenant_clock_skew_seconds of one tenant (0 until its first answer with a Date).
    prometheus::Gauge* tenant_clock_skew(const std::string& tenant);
    /// A reload (SIGHUP) finished: config_last_reload_successful 1 or 0; a failure counts in
    /// reload_failures_total.
    void reloaded(bool ok);
    /// Sets the hook that runs before each scrape, to refresh gauges read from elsewhere (outbox depth
    /// and age). Replaces any earlier hook.
    void on_scrape(std::function<void()> refresh);
    /// The Prometheus text exposition format (version 0.0.4).
    std::string serialize();

private:
    std::shared_ptr<prometheus::Registry> m_registry;
    prometheus::Family<prometheus::Gauge>& m_source_up;
    prometheus::Family<prometheus::Counter>& m_source_records;
    prometheus::Family<prometheus::Counter>& m_source_errors;
    prometheus::Family<prometheus::Gauge>& m_source_last_success;
    prometheus::Family<prometheus::Histogram>& m_source_duration;
    prometheus::Family<prometheus::Counter>& m_source_failed_messages;
    prometheus::Family<prometheus::Gauge>& m_source_blocked;
    prometheus::Family<prometheus::Histogram>& m_source_schedule_lag;
    prometheus::Family<prometheus::Counter>& m_source_quarantined;
    prometheus::Family<prometheus::Gauge>& m_outbox_events;
    prometheus::Family<prometheus::Gauge>& m_outbox_bytes;
    prometheus::Family<prometheus::Gauge>& m_outbox_oldest;
    prometheus::Family<prometheus::Counter>& m_sent;
    prometheus::Family<prometheus::Counter>& m_send_failures;
    prometheus::Family<prometheus::Counter>& m_rejected;
    prometheus::Family<prometheus::Gauge>& m_paused;
    prometheus::Family<prometheus::Gauge>& m_endpoint_up;
    prometheus::Family<prometheus::Histogram>& m_send_duration;
    prometheus::Family<prometheus::Gauge>& m_clock_skew;
    prometheus::Counter& m_reload_failures;
    prometheus::Gauge& m_last_reload_ok;
    std::function<void()> m_refresh;
};

/// Seconds since the epoch, for *_timestamp_seconds gauges.
double unix_seconds(std::chrono::system_clock::time_point t);

}  // namespace c4c::infra
