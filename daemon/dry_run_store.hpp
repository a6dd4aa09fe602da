#pragma once

// The FeedStore of `--once --dry-run`: each event never seen in this run is printed as one JSON line on
// stdout (exporters::to_dry_run_line), and checkpoints are kept in memory, starting from those in the
// state store (opened read-only, or absent). No state changes; nothing is sent. Runs on the event loop.

#include "collectors/collector.hpp"
#include "exporters/exporter.hpp"
#include "infra/state_store.hpp"

#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace c4c::daemon {

class DryRunStore final : public collectors::FeedStore {
public:
    /// `store` may be null (no state yet). `resource` describes the printed events; the source's
    /// checkpoints are keyed "tenant/source/feed". Quarantined records are logged, not kept.
    DryRunStore(infra::StateStore* store, exporters::ResourceInfo resource, std::string tenant, std::string source);

    std::string checkpoint(std::string_view feed) override;
    collectors::CommitStatus commit(std::string_view feed, const collectors::FeedPage& page,
                                    std::size_t& stored) override;
    bool accepting() override { return true; }

private:
    infra::StateStore* m_store;
    exporters::ResourceInfo m_resource;
    std::string m_tenant;
    std::string m_source;
    std::string m_feed_prefix;
    std::map<std::string, std::string> m_checkpoints;
    std::set<std::string> m_seen;
};

}  // namespace c4c::daemon
