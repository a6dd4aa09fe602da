#include "exporters/health_monitoring.hpp"

#include "infra/config_reader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace c4c::exporters {

namespace asio = boost::asio;

namespace {

std::int64_t unix_nano(std::chrono::system_clock::time_point time)
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

ResourceInfo health_resource(ResourceInfo resource)
{
    if (resource.use_case.empty()) {
        resource.use_case = k_use_case_health;
    }
    return resource;
}

}  // namespace

HealthExporter::HealthExporter(const EndpointConfig& endpoint, ResourceInfo resource, infra::http::Client& client,
                               DeliveryObserver& observer, Snapshot snapshot, HealthOptions options)
    : m_resource(health_resource(std::move(resource))),
      m_interval(options.interval.count() > 0 ? options.interval : endpoint.interval),
      m_options(options),
      m_observer(observer),
      m_snapshot(std::move(snapshot)),
      m_poster(endpoint, client, observer, m_options.delivery),
      m_start_unix_nano(unix_nano(m_options.start_time != std::chrono::system_clock::time_point{}
                                      ? m_options.start_time
                                      : std::chrono::system_clock::now())),
      m_failure_log(m_options.delivery.log_interval)
{
    if (m_interval.count() <= 0) {
        m_interval = std::chrono::seconds(60);
    }
}

asio::awaitable<void> HealthExporter::run()
{
    auto executor = co_await asio::this_coro::executor;
    std::chrono::milliseconds wait = m_options.first_delay.value_or(m_interval);
    for (;;) {
        asio::steady_timer timer(executor, wait);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            co_return;
        }
        const auto started = std::chrono::steady_clock::now();
        m_retry_after.reset();
        co_await push_once();
        // The period is kept from push to push, whatever the push took; Retry-After may stretch it.
        const auto spent =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        wait = std::max(m_interval - spent, std::chrono::milliseconds(0));
        if (m_retry_after) {
            wait = std::max(wait, *m_retry_after);
        }
    }
}

asio::awaitable<bool> HealthExporter::push_once()
{
    std::vector<MetricPoint> points = m_snapshot ? m_snapshot() : std::vector<MetricPoint>{};
    if (points.empty()) {
        co_return true;
    }
    const std::string body =
        encode_metrics(m_resource, points, unix_nano(std::chrono::system_clock::now()), m_start_unix_nano);
    const PostOutcome outcome = co_await m_poster.post(body);
    switch (outcome.kind) {
    case PostOutcome::Kind::accepted:
        m_observer.sent(points.size(), outcome.elapsed);
        if (m_paused) {
            m_paused = false;
            m_observer.paused(false, {});
            spdlog::info("tenant {} endpoint {}: credentials accepted again, health metrics flow", m_resource.tenant,
                         m_poster.label());
        }
        co_return true;
    case PostOutcome::Kind::unauthorized:
        if (!m_paused) {
            m_paused = true;
            m_observer.paused(true, outcome.detail);
            spdlog::error("tenant {} endpoint {}: Cloud ALM refused the credentials ({}); health metrics are not "
                          "delivered, check credentials. Retrying every {}",
                          m_resource.tenant, m_poster.label(), outcome.detail, format_wait(m_interval));
        }
        co_return false;
    case PostOutcome::Kind::cancelled:
        co_return false;
    case PostOutcome::Kind::refused:
    case PostOutcome::Kind::transient:
    case PostOutcome::Kind::endpoint_error:
        break;
    }
    m_retry_after = outcome.retry_after;
    if (auto suppressed = m_failure_log.admit()) {
        const bool ours = outcome.kind == PostOutcome::Kind::refused;
        const bool url = outcome.kind == PostOutcome::Kind::endpoint_error;
        const std::string note = infra::suppressed_note(*suppressed);
        if (ours || url) {
            spdlog::error("tenant {} endpoint {}: health metrics push failed ({}){}; the next push is in {}{}",
                          m_resource.tenant, m_poster.label(), outcome.detail, url ? "; check the endpoint url" : "",
                          format_wait(m_interval), note);
        } else {
            spdlog::warn("tenant {} endpoint {}: health metrics push failed ({}); the next push is in {}{}",
                         m_resource.tenant, m_poster.label(), outcome.detail,
                         format_wait(std::max(m_interval, outcome.retry_after.value_or(m_interval))), note);
        }
    }
    co_return false;
}

asio::awaitable<bool> HealthExporter::drain(std::chrono::milliseconds /*budget*/)
{
    co_return co_await push_once();
}

namespace {

constexpr std::array<std::string_view, 1> k_health_keys{"interval"};

void read_health_settings(infra::ConfigReader& reader, infra::ConfigSection& section, EndpointConfig& endpoint)
{
    reader.read(section, "interval", endpoint.interval, infra::checks::positive);
}

std::unique_ptr<Exporter> make_health_exporter(const ExporterContext& context)
{
    return std::make_unique<HealthExporter>(context.endpoint, context.resource, context.client, context.observer,
                                            context.snapshot);
}

}  // namespace

const ExporterKind k_health_monitoring_exporter_kind{
    .name = k_use_case_health,
    .use_case = k_use_case_health,
    .feed = EndpointFeed::snapshot,
    .own_keys = k_health_keys,
    .read_settings = &read_health_settings,
    .make = &make_health_exporter,
};

}  // namespace c4c::exporters
