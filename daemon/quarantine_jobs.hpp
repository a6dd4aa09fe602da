#pragma once

// `quarantine retry` and `quarantine drop`, the side that changes the store: the running daemon's (it looks
// for their jobs about once a second beside the other operator jobs, daemon/operator_jobs.hpp) and the
// command's when no daemon runs (daemon/cli_quarantine.cpp). A retried record is normalized again by the
// current code of its feed (CollectorKind::renormalize); one that is an event now goes to its endpoint's
// queue (unless its event.id was stored before) and leaves the quarantine in the same transaction, one that
// is not stays with the reason of now.

#include "daemon/config.hpp"
#include "infra/state_store.hpp"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::daemon {

/// True for the job kinds this file runs (infra::k_job_quarantine_retry, infra::k_job_quarantine_drop).
bool is_quarantine_job(std::string_view kind);

/// What the current code of its feed makes of one quarantined record: an event for its endpoint's queue (its
/// OTLP logRecord, observed at `observed_unix_nano`), the reason it is still quarantined, or why it was not
/// tried (its tenant or source is no longer configured, the pseudonymization key is unreadable). Registers
/// the endpoint in `store` if it never was. Never throws.
infra::QuarantineVerdict renormalize_quarantined(infra::StateStore& store, const Config& config,
                                                 const Registry& registry, const infra::QuarantinedRow& row,
                                                 std::int64_t observed_unix_nano);

/// Retries the selected records in one transaction with `also` (infra::StateStore::retry_quarantined). The
/// caller wakes the endpoints in the result.
infra::QuarantineChange retry_quarantine(infra::StateStore& store, const Config& config, const Registry& registry,
                                         const infra::QuarantineSelection& which,
                                         const std::function<bool(const infra::QuarantineChange&)>& also = {});

/// Runs the open quarantine jobs of `store`, oldest first, on the event loop, each in one transaction with
/// marking it done; calls `wake(endpoint)` for each endpoint whose queue got events. A job whose arguments
/// are unreadable is marked failed with the reason.
void run_quarantine_jobs(infra::StateStore& store, const Config& config, const Registry& registry,
                         const std::function<void(std::int64_t endpoint)>& wake);

/// The records of a retry, one {"id","outcome","event_id","reason","detail"} each: the same in a job's result
/// and in the command's `--json`.
nlohmann::ordered_json retried_records_json(const std::vector<infra::QuarantineResult>& records);
/// How many of `records` came to each outcome, indexed by infra::QuarantineOutcome.
std::array<std::size_t, 4> count_outcomes(const std::vector<infra::QuarantineResult>& records);

/// A finished job's result: {"records":[retried_records_json...]} (retry), {"dropped":N} (drop),
/// {"missing":[...]} or {"error":"..."}.
std::string quarantine_result(const infra::QuarantineChange& change);
/// The change a job's result describes (a failed one when the result is unreadable).
infra::QuarantineChange parse_quarantine_result(std::string_view result);

}  // namespace c4c::daemon
