#include "daemon/runtime.hpp"

#include "daemon/dry_run_store.hpp"
#include "daemon/quarantine.hpp"
#include "exporters/batcher.hpp"
#include "exporters/otlp_json.hpp"

#include <algorithm>
#include <stdexcept>

namespace c4c::daemon {

using namespace c4c::infra;

namespace asio = boost::asio;

namespace {

http::ClientOptions client_options(Duration timeout, int max_connections, const std::string& ca_file)
{
    http::ClientOptions options;
    options.timeout = timeout;
    options.max_connections = max_connections;
    options.ca_file = ca_file;
    return options;
}

// The endpoint's id in `store`, registered there when the store is writable. A read-only store (a dry run)
// registers nothing: an endpoint it does not know yet (a tenant or feed added since the daemon last ran)
// gets -1, and nothing in a dry run reads its queue.
std::int64_t registered_id(StateStore* store, const std::string& tenant, const std::string& use_case)
{
    if (store == nullptr) {
        return -1;
    }
    if (!store->writable()) {
        return store->find_endpoint(tenant, use_case).value_or(-1);
    }
    return store->endpoint_id(tenant, use_case);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// EndpointRuntime

EndpointRuntime::EndpointRuntime(const asio::any_io_executor& executor, StateStore* store_, Metrics& registry,
                                 const TenantConfig& tenant, const exporters::EndpointConfig& config_,
                                 const exporters::ExporterKind& kind_)
    : config(config_),
      kind(kind_),
      resource{tenant.name, tenant.c4c.url, config_.use_case},
      client(executor, client_options(config_.timeout, 2, config_.ca_file)),
      store(store_),
      id(registered_id(store_, tenant.name, config_.use_case)),
      metrics(registry.endpoint(tenant.name, config_.use_case))
{
    if (store && store->writable() && id < 0) {
        throw std::runtime_error("cannot register endpoint " + config.use_case + " of tenant " + tenant.name +
                                 " in the state store");
    }
    if (store && store->writable()) {
        // Chunks that fit a batch whole are sent as they are stored (exporters/cloud_alm.cpp, lane()).
        const exporters::BatchLimits limits{
            static_cast<std::size_t>(std::max(config.max_batch_events, 1)), config.max_batch_bytes,
            exporters::logs_envelope_prefix(resource).size() + exporters::logs_envelope_suffix().size()};
        store->set_chunk_limits(id, limits.max_events, limits.payload_budget());
    }
}

std::vector<exporters::OutboxRow> EndpointRuntime::peek(std::size_t max_events, std::size_t max_bytes,
                                                        std::int64_t after)
{
    return store->peek(id, max_events, max_bytes, after);
}

bool EndpointRuntime::remove(std::span<const exporters::OutboxRow> rows)
{
    return store->remove(id, rows);
}

bool EndpointRuntime::reject(const exporters::OutboxRow& row, std::string_view answer)
{
    return store->reject(id, row, answer);
}

std::optional<exporters::CompressedRows>
EndpointRuntime::peek_compressed(std::size_t max_events, std::size_t max_json_bytes, std::int64_t after)
{
    return store->peek_compressed(id, max_events, max_json_bytes, after);
}

bool EndpointRuntime::remove_compressed(const exporters::CompressedRows& rows)
{
    return store->remove(id, rows);
}

std::int64_t EndpointRuntime::aligned_end(std::int64_t first_seq, std::int64_t last_seq)
{
    return store->aligned_end(id, first_seq, last_seq);
}

std::size_t EndpointRuntime::size()
{
    return store->figures(id).events;
}

void EndpointRuntime::sent(std::size_t count, std::chrono::duration<double> elapsed)
{
    metrics.sent->Increment(static_cast<double>(count));
    metrics.send_duration->Observe(elapsed.count());
    delivery.sent();
}

void EndpointRuntime::failed(const exporters::SendFailure& reason)
{
    const std::string label = reason.label();
    metrics.failures(label).Increment();
    delivery.failed(label);
}

void EndpointRuntime::rejected(std::size_t count)
{
    metrics.rejected->Increment(static_cast<double>(count));
    delivery.rejected();
}

void EndpointRuntime::paused(bool value, std::string_view why)
{
    is_paused = value;
    metrics.paused->Set(value ? 1 : 0);
    delivery.paused(value, why);
}

void EndpointRuntime::endpoint_up(bool value)
{
    metrics.up->Set(value ? 1 : 0);
}

bool EndpointRuntime::accepting() const
{
    const auto figures = store->figures(id);
    return figures.events < config.max_outbox_events && figures.bytes < config.max_outbox_bytes;
}

void EndpointRuntime::refresh_metrics()
{
    const auto figures = store->figures(id);
    metrics.outbox_events->Set(static_cast<double>(figures.events));
    metrics.outbox_bytes->Set(static_cast<double>(figures.bytes));
    const auto oldest = figures.events ? store->oldest(id) : std::nullopt;
    metrics.oldest_age->Set(
        oldest ? std::max(0.0, std::chrono::duration<double>(std::chrono::system_clock::now() - *oldest).count())
               : 0.0);
}

void EndpointRuntime::start()
{
    is_paused = false;
    metrics.paused->Set(0);
    metrics.up->Set(1);
    delivery.start();
}

// ---------------------------------------------------------------------------------------------------
// OutboxFeedStore

OutboxFeedStore::OutboxFeedStore(EndpointRuntime& endpoint, std::string tenant, std::string source,
                                 infra::SourceMetrics& metrics)
    : m_endpoint(endpoint),
      m_tenant(std::move(tenant)),
      m_source(std::move(source)),
      m_feed_prefix(m_tenant + "/" + m_source + "/"),
      m_metrics(metrics)
{}

std::string OutboxFeedStore::checkpoint(std::string_view feed)
{
    return m_endpoint.store->checkpoint(m_feed_prefix + std::string(feed));
}

collectors::CommitStatus OutboxFeedStore::commit(std::string_view feed, const collectors::FeedPage& page,
                                                 std::size_t& stored)
{
    stored = 0;
    const std::string key = m_feed_prefix + std::string(feed);
    if (!m_endpoint.accepting()) {
        return collectors::CommitStatus::outbox_full;
    }
    const std::span<const infra::Event> events = page.events;
    // The page's log records are written one after the other into one buffer rather than a string each:
    // a thousand allocations and frees fewer per page. (Not kept between pages: thirty idle sources would
    // each hold a megabyte.) A record is about 1.1 kB.
    std::string encoded;
    encoded.reserve(events.size() * 1152);
    std::vector<std::size_t> ends;
    ends.reserve(events.size());
    for (const auto& event : events) {
        exporters::append_log_record(encoded, event);
        ends.push_back(encoded.size());
    }
    std::vector<PendingEvent> pending;
    pending.reserve(events.size());
    for (std::size_t i = 0, begin = 0; i < events.size(); begin = ends[i], ++i) {
        pending.push_back(PendingEvent{events[i].id, events[i].time_unix_nano,
                                       std::string_view(encoded).substr(begin, ends[i] - begin)});
    }
    const auto quarantined = quarantine_entries(m_tenant, m_source, feed, page.quarantined);
    PageCommitted result;
    if (m_endpoint.store->commit_page(key, m_endpoint.id,
                                      PageCommit{pending, quarantined, page.checkpoint, page.checkpoint_time_ns},
                                      result) != CommitResult::committed) {
        return collectors::CommitStatus::failed;
    }
    stored = result.stored;
    for (const std::size_t index : result.newly_quarantined) {
        report_quarantined(m_tenant, m_source, feed, page.quarantined[index], &m_metrics);
    }
    if (stored > 0 && m_endpoint.exporter) {
        m_endpoint.exporter->notify();
    }
    return collectors::CommitStatus::committed;
}

bool OutboxFeedStore::accepting()
{
    return m_endpoint.accepting();
}

// ---------------------------------------------------------------------------------------------------
// SourceRuntime

SourceRuntime::SourceRuntime(const TenantConfig& tenant_, const collectors::SourceConfig& config_,
                             EndpointRuntime& endpoint_, Metrics& registry, const collectors::CollectorKind& kind_,
                             bool dry_run_)
    : tenant(tenant_),
      config(config_),
      kind(kind_),
      endpoint(endpoint_),
      metrics(registry.source(tenant_.name, config_.name, kind_.failed_items.has_value())),
      collector(kind_.make(config_)),
      dry_run(dry_run_)
{
    if (dry_run_) {
        store = std::make_unique<DryRunStore>(endpoint.store, endpoint.resource, tenant_.name, config_.name);
    } else {
        store = std::make_unique<OutboxFeedStore>(endpoint, tenant_.name, config_.name, metrics);
    }
}

void SourceRuntime::request_done(std::chrono::duration<double> elapsed, std::string_view error_reason)
{
    metrics.request_duration->Observe(elapsed.count());
    last_request_seconds = elapsed.count();
    if (!error_reason.empty()) {
        metrics.errors(error_reason).Increment();
    }
}

// ---------------------------------------------------------------------------------------------------
// TenantRuntime

TenantRuntime::TenantRuntime(const asio::any_io_executor& executor, const TenantConfig& config_, StateStore* store,
                             Metrics& metrics, const Registry& registry, bool dry_run)
    : config(config_),
      c4c(executor, client_options(config_.c4c.timeout, config_.c4c.max_connections, config_.c4c.ca_file)),
      clock(metrics.tenant_clock_skew(config_.name))
{
    for (const auto& [use_case, endpoint_config] : config.endpoints) {
        const auto* kind = registry.exporter_for(use_case);
        if (!kind) {
            throw std::runtime_error("tenant " + config.name + ": no exporter for endpoint " + use_case);
        }
        endpoints.emplace(use_case,
                          std::make_unique<EndpointRuntime>(executor, store, metrics, config, endpoint_config, *kind));
    }
    for (const auto& [name, source_config] : config.sources) {
        if (!source_config.enabled) {
            continue;
        }
        const auto* kind = collectors::find_collector_kind(registry.collectors, name);
        auto endpoint = kind ? endpoints.find(std::string(kind->use_case)) : endpoints.end();
        if (!kind || endpoint == endpoints.end()) {
            throw std::runtime_error("tenant " + config.name + ": no collector or endpoint for source " + name);
        }
        sources.push_back(
            std::make_unique<SourceRuntime>(config, source_config, *endpoint->second, metrics, *kind, dry_run));
    }
}

void TenantRuntime::close()
{
    closed = true;
    c4c.close();
    for (auto& [name, endpoint] : endpoints) {
        endpoint->client.close();
    }
}

void TenantRuntime::drop_idle_connections()
{
    c4c.drop_idle();
    for (auto& [name, endpoint] : endpoints) {
        endpoint->client.drop_idle();
    }
}

}  // namespace c4c::daemon
