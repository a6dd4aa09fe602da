#include "daemon/dry_run_store.hpp"

#include "daemon/quarantine.hpp"
#include "exporters/otlp_json.hpp"

#include <cstdio>
#include <utility>

namespace c4c::daemon {

DryRunStore::DryRunStore(infra::StateStore* store, exporters::ResourceInfo resource, std::string tenant,
                         std::string source)
    : m_store(store),
      m_resource(std::move(resource)),
      m_tenant(std::move(tenant)),
      m_source(std::move(source)),
      m_feed_prefix(m_tenant + "/" + m_source + "/")
{}

std::string DryRunStore::checkpoint(std::string_view feed)
{
    const std::string key = m_feed_prefix + std::string(feed);
    if (const auto it = m_checkpoints.find(key); it != m_checkpoints.end()) {
        return it->second;
    }
    return m_store ? m_store->checkpoint(key) : std::string();
}

collectors::CommitStatus DryRunStore::commit(std::string_view feed, const collectors::FeedPage& page,
                                             std::size_t& stored)
{
    stored = 0;
    for (const auto& record : page.quarantined) {
        report_quarantined(m_tenant, m_source, feed, record, nullptr);
    }
    for (const auto& event : page.events) {
        if (m_seen.insert(event.id).second) {
            const auto line = exporters::to_dry_run_line(m_resource, exporters::encode_log_record(event));
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fputc('\n', stdout);
            ++stored;
        }
    }
    std::fflush(stdout);
    m_checkpoints[m_feed_prefix + std::string(feed)] = page.checkpoint;
    return collectors::CommitStatus::committed;
}

}  // namespace c4c::daemon
