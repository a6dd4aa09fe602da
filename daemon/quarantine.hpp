#pragma once

// What the daemon does with the C4C records a collector could not normalize (CONTRACT.md section 3): they go
// to the state store's quarantine table with the page that carried them, and each one quarantined for the
// first time is counted (source_records_quarantined_total{reason}) and logged once, with its key. A record
// read again (an overlap window) is the same text and stays one row, one count, one line.

#include "collectors/collector.hpp"
#include "infra/metrics.hpp"
#include "infra/state_store.hpp"

#include <span>
#include <string_view>
#include <vector>

namespace c4c::daemon {

/// The store's rows for a page's quarantined records: views into `records` (and the reason labels), valid
/// as long as `records` is.
std::vector<infra::QuarantineEntry> quarantine_entries(std::string_view tenant, std::string_view source,
                                                       std::string_view feed,
                                                       std::span<const collectors::QuarantinedRecord> records);

/// Counts `record` and logs it (one warning naming tenant, source, feed, key, reason and what is wrong; never
/// the raw text, which may hold a user ID).
void report_quarantined(std::string_view tenant, std::string_view source, std::string_view feed,
                        const collectors::QuarantinedRecord& record, infra::SourceMetrics* metrics);

}  // namespace c4c::daemon
