#include "infra/metrics.hpp"

#include "infra/version.hpp"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace c4c::infra {

namespace {

const prometheus::Histogram::BucketBoundaries& duration_buckets()
{
    static const prometheus::Histogram::BucketBoundaries k_buckets{0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                   1,    2.5,   5,    10,  30,   60};
    return k_buckets;
}

template <typename Builder>
auto& named(Builder builder, const char* name, const char* help)
{
    return builder.Name(name).Help(help);
}

// Lateness of a poll: milliseconds when the loop keeps up, seconds when it does not.
const prometheus::Histogram::BucketBoundaries& lag_buckets()
{
    static const prometheus::Histogram::BucketBoundaries k_buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                   0.25,  0.5,    1,     2.5,  5,     10,   30};
    return k_buckets;
}

}  // namespace

Metrics::Metrics()
    : m_registry(std::make_shared<prometheus::Registry>()),
      m_source_up(named(prometheus::BuildGauge(), "c4c_alm_collector_source_up",
                        "1 when the last poll of the source succeeded, 0 when it failed")
                      .Register(*m_registry)),
      m_source_records(
          named(prometheus::BuildCounter(), "c4c_alm_collector_source_records_total", "Records read from C4C")
              .Register(*m_registry)),
      m_source_errors(named(prometheus::BuildCounter(), "c4c_alm_collector_source_errors_total",
                            "Failed C4C requests and polls, by reason")
                          .Register(*m_registry)),
      m_source_last_success(named(prometheus::BuildGauge(), "c4c_alm_collector_source_last_success_timestamp_seconds",
                                  "Unix time of the source's last successful poll")
                                .Register(*m_registry)),
      m_source_duration(named(prometheus::BuildHistogram(), "c4c_alm_collector_source_request_duration_seconds",
                              "Duration of C4C requests")
                            .Register(*m_registry)),
      m_source_failed_messages(named(prometheus::BuildCounter(), "c4c_alm_collector_source_failed_messages_total",
                                     "Web-service messages seen in status Failed")
                                   .Register(*m_registry)),
      m_source_blocked(named(prometheus::BuildGauge(), "c4c_alm_collector_source_blocked",
                             "1 while the source does not advance because its endpoint's outbox is full")
                           .Register(*m_registry)),
      m_source_schedule_lag(named(prometheus::BuildHistogram(), "c4c_alm_collector_source_schedule_lag_seconds",
                                  "How late polls start: actual start minus planned start")
                                .Register(*m_registry)),
      m_source_quarantined(named(prometheus::BuildCounter(), "c4c_alm_collector_source_records_quarantined_total",
                                 "C4C records that could not be normalized, kept in the state store, by reason")
                               .Register(*m_registry)),
      m_outbox_events(
          named(prometheus::BuildGauge(), "c4c_alm_collector_outbox_events", "Events waiting in the durable outbox")
              .Register(*m_registry)),
      m_outbox_bytes(named(prometheus::BuildGauge(), "c4c_alm_collector_outbox_bytes",
                           "Bytes of encoded events waiting in the durable outbox")
                         .Register(*m_registry)),
      m_outbox_oldest(named(prometheus::BuildGauge(), "c4c_alm_collector_outbox_oldest_event_age_seconds",
                            "Age of the oldest event waiting in the outbox (0 when empty)")
                          .Register(*m_registry)),
      m_sent(named(prometheus::BuildCounter(), "c4c_alm_collector_endpoint_events_sent_total",
                   "Events accepted by Cloud ALM")
                 .Register(*m_registry)),
      m_send_failures(named(prometheus::BuildCounter(), "c4c_alm_collector_endpoint_send_failures_total",
                            "Failed sends to Cloud ALM, by reason")
                          .Register(*m_registry)),
      m_rejected(named(prometheus::BuildCounter(), "c4c_alm_collector_endpoint_events_rejected_total",
                       "Events Cloud ALM refused for good, moved aside to the rejected table")
                     .Register(*m_registry)),
      m_paused(named(prometheus::BuildGauge(), "c4c_alm_collector_endpoint_paused",
                     "1 while the endpoint is paused after 401/403 or because it refuses every request")
                   .Register(*m_registry)),
      m_endpoint_up(named(prometheus::BuildGauge(), "c4c_alm_collector_endpoint_up",
                          "1 while the endpoint accepts requests; 0 while paused (refusing every request, "
                          "401/403) or unreachable")
                        .Register(*m_registry)),
      m_send_duration(named(prometheus::BuildHistogram(), "c4c_alm_collector_endpoint_send_duration_seconds",
                            "Duration of successful sends to Cloud ALM")
                          .Register(*m_registry)),
      m_clock_skew(named(prometheus::BuildGauge(), "c4c_alm_collector_tenant_clock_skew_seconds",
                         "The tenant's clock minus this host's, from the Date header of its latest answer")
                       .Register(*m_registry)),
      m_reload_failures(named(prometheus::BuildCounter(), "c4c_alm_collector_reload_failures_total",
                              "Reloads (SIGHUP) that kept the running configuration: the new one was invalid "
                              "or could not be built")
                            .Register(*m_registry)
                            .Add({})),
      m_last_reload_ok(named(prometheus::BuildGauge(), "c4c_alm_collector_config_last_reload_successful",
                             "1 when the last reload (SIGHUP) took effect, or none was asked for; 0 when it failed "
                             "and the running configuration stays")
                           .Register(*m_registry)
                           .Add({}))
{
    m_last_reload_ok.Set(1);
    named(prometheus::BuildGauge(), "c4c_alm_collector_build_info", "Build information; always 1")
        .Register(*m_registry)
        .Add({{"version", k_version}})
        .Set(1);
}

SourceMetrics Metrics::source(const std::string& tenant, const std::string& source, bool counts_failed_items)
{
    const prometheus::Labels labels{{"tenant", tenant}, {"source", source}};
    SourceMetrics metrics;
    metrics.up = &m_source_up.Add(labels);
    metrics.records = &m_source_records.Add(labels);
    metrics.last_success = &m_source_last_success.Add(labels);
    metrics.request_duration = &m_source_duration.Add(labels, duration_buckets());
    metrics.blocked = &m_source_blocked.Add(labels);
    metrics.schedule_lag = &m_source_schedule_lag.Add(labels, lag_buckets());
    if (counts_failed_items) {
        metrics.failed_messages = &m_source_failed_messages.Add(labels);
    }
    auto* family = &m_source_errors;
    metrics.errors = [family, tenant, source](std::string_view reason) -> prometheus::Counter& {
        return family->Add({{"tenant", tenant}, {"source", source}, {"reason", std::string(reason)}});
    };
    // Known reasons start at 0, so that rate() and alerts see the series before the first failure.
    for (const char* reason : {"timeout", "connect", "tls", "http_401", "http_429", "http_503", "parse"}) {
        metrics.errors(reason);
    }
    auto* quarantined = &m_source_quarantined;
    metrics.quarantined = [quarantined, tenant, source](std::string_view reason) -> prometheus::Counter& {
        return quarantined->Add({{"tenant", tenant}, {"source", source}, {"reason", std::string(reason)}});
    };
    // collectors::QuarantineReason's labels, at 0 from the start for increase() in the alert.
    for (const char* reason : {"unknown_timezone", "missing_key", "invalid_time", "invalid_value"}) {
        metrics.quarantined(reason);
    }
    return metrics;
}

EndpointMetrics Metrics::endpoint(const std::string& tenant, const std::string& endpoint)
{
    const prometheus::Labels labels{{"tenant", tenant}, {"endpoint", endpoint}};
    EndpointMetrics metrics;
    metrics.outbox_events = &m_outbox_events.Add(labels);
    metrics.outbox_bytes = &m_outbox_bytes.Add(labels);
    metrics.oldest_age = &m_outbox_oldest.Add(labels);
    metrics.sent = &m_sent.Add(labels);
    metrics.rejected = &m_rejected.Add(labels);
    metrics.paused = &m_paused.Add(labels);
    metrics.up = &m_endpoint_up.Add(labels);
    metrics.send_duration = &m_send_duration.Add(labels, duration_buckets());
    auto* family = &m_send_failures;
    metrics.failures = [family, tenant, endpoint](std::string_view reason) -> prometheus::Counter& {
        return family->Add({{"tenant", tenant}, {"endpoint", endpoint}, {"reason", std::string(reason)}});
    };
    for (const char* reason : {"timeout", "connect", "tls", "auth", "http_429", "http_503"}) {
        metrics.failures(reason);
    }
    return metrics;
}

prometheus::Gauge* Metrics::tenant_clock_skew(const std::string& tenant)
{
    return &m_clock_skew.Add({{"tenant", tenant}});
}

void Metrics::reloaded(bool ok)
{
    m_last_reload_ok.Set(ok ? 1 : 0);
    if (!ok) {
        m_reload_failures.Increment();
    }
}

void Metrics::on_scrape(std::function<void()> refresh)
{
    m_refresh = std::move(refresh);
}

std::string Metrics::serialize()
{
    if (m_refresh) {
        m_refresh();
    }
    std::ostringstream out;
    prometheus::TextSerializer{}.Serialize(out, m_registry->Collect());
    return out.str();
}

double unix_seconds(std::chrono::system_clock::time_point t)
{
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace c4c::infra
