#include "daemon/quarantine.hpp"

#include "infra/text.hpp"

#include <spdlog/spdlog.h>

namespace c4c::daemon {

std::vector<infra::QuarantineEntry> quarantine_entries(std::string_view tenant, std::string_view source,
                                                       std::string_view feed,
                                                       std::span<const collectors::QuarantinedRecord> records)
{
    std::vector<infra::QuarantineEntry> entries;
    entries.reserve(records.size());
    for (const auto& record : records) {
        entries.push_back(infra::QuarantineEntry{tenant, source, feed, record.object_key,
                                                 collectors::quarantine_label(record.reason), record.detail,
                                                 record.raw});
    }
    return entries;
}

void report_quarantined(std::string_view tenant, std::string_view source, std::string_view feed,
                        const collectors::QuarantinedRecord& record, infra::SourceMetrics* metrics)
{
    const char* reason = collectors::quarantine_label(record.reason);
    if (metrics != nullptr && metrics->quarantined) {
        metrics->quarantined(reason).Increment();
    }
    spdlog::warn("tenant {} source {}: record {} of {} quarantined ({}): {}; it is kept with its raw text in the "
                 "state store's quarantine table, and the feed moves on",
                 tenant, source,
                 record.object_key.empty() ? std::string("without key") : infra::printable(record.object_key), feed,
                 reason, infra::printable(record.detail, 512));
}

}  // namespace c4c::daemon
