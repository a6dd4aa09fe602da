#include "daemon/dry_run_store.hpp"

#include "exporters/otlp_json.hpp"

#include <cstdio>
#include <utility>

namespace c4c::daemon {

DryRunStore::DryRunStore(infra::StateStore* store, exporters::ResourceInfo resource, std::string feed_prefix)
    : m_store(store), m_resource(std::move(resource)), m_feed_prefix(std::move(feed_prefix))
{}

std::string DryRunStore::checkpoint(std::string_view feed)
{
    const std::string key = m_feed_prefix + std::string(feed);
    if (const auto it = m_checkpoints.find(key); it != m_checkpoints.end()) {
        return it->second;
    }
    return m_store ? m_store->checkpoint(key) : std::string();
}

collectors::CommitStatus DryRunStore::commit(std::string_view feed, std::span<const infra::Event> events,
                                             std::string_view checkpoint_value, std::size_t& stored)
{
    stored = 0;
    for (const auto& event : events) {
        if (m_seen.insert(event.id).second) {
            const auto line = exporters::to_dry_run_line(m_resource, exporters::encode_log_record(event));
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fputc('\n', stdout);
            ++stored;
        }
    }
    std::fflush(stdout);
    m_checkpoints[m_feed_prefix + std::string(feed)] = std::string(checkpoint_value);
    return collectors::CommitStatus::committed;
}

}  // namespace c4c::daemon
