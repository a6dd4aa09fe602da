#include "daemon/quarantine_jobs.hpp"

#include "collectors/collector.hpp"
#include "daemon/operator_jobs.hpp"
#include "exporters/otlp_json.hpp"
#include "infra/jobs.hpp"
#include "infra/time.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace c4c::daemon {

using namespace c4c::infra;

namespace {

QuarantineVerdict skipped(std::string why)
{
    QuarantineVerdict verdict;
    verdict.kind = QuarantineVerdict::Kind::skipped;
    verdict.detail = std::move(why);
    return verdict;
}

const collectors::SourceConfig* configured_source(const Config& config, std::string_view tenant,
                                                  std::string_view source)
{
    const auto it = std::find_if(config.tenants.begin(), config.tenants.end(),
                                 [tenant](const TenantConfig& candidate) { return candidate.name == tenant; });
    if (it == config.tenants.end()) {
        return nullptr;
    }
    const auto found = it->sources.find(std::string(source));
    return found == it->sources.end() ? nullptr : &found->second;
}

void run_job(StateStore& store, const Config& config, const Registry& registry, const Job& job,
             const std::function<void(std::int64_t)>& wake)
{
    const auto which = parse_selection(job.arguments);
    if (!which || (job.kind == k_job_quarantine_drop && which->all)) {
        spdlog::warn("operator job {} ({}): unreadable arguments {}; marked failed", job.id, job.kind, job.arguments);
        store.update_job(job.id, JobState::failed, "",
                         nlohmann::json{{"error", "unreadable arguments " + job.arguments}}.dump());
        return;
    }
    const bool retry = job.kind == k_job_quarantine_retry;
    const auto finish = [&](const QuarantineChange& change) {
        return store.update_job(job.id, JobState::done, "", quarantine_result(change));
    };
    const QuarantineChange change =
        retry ? retry_quarantine(store, config, registry, *which, finish) : store.drop_quarantined(*which, finish);
    if (change.failed) {
        return;  // the store logged why; the job stays open and is tried again at the next look
    }
    if (!change.ok()) {
        store.update_job(job.id, JobState::failed, "", quarantine_result(change));
        return;
    }
    if (!retry) {
        spdlog::info("operator job {}: dropped {} quarantined record(s)", job.id, change.dropped);
        return;
    }
    const auto counts = count_outcomes(change.records);
    spdlog::info("operator job {}: retried {} quarantined record(s): {} queued, {} already stored, {} still "
                 "quarantined, {} not tried",
                 job.id, change.records.size(), counts[0], counts[1], counts[2], counts[3]);
    for (const auto endpoint : change.endpoints) {
        wake(endpoint);
    }
}

}  // namespace

bool is_quarantine_job(std::string_view kind)
{
    return kind == k_job_quarantine_retry || kind == k_job_quarantine_drop;
}

QuarantineVerdict renormalize_quarantined(StateStore& store, const Config& config, const Registry& registry,
                                          const QuarantinedRow& row, std::int64_t observed_unix_nano)
{
    const auto* kind = collectors::find_collector_kind(registry.collectors, row.source);
    if (kind == nullptr || kind->renormalize == nullptr) {
        return skipped("this version has no source " + row.source + " that could normalize it");
    }
    const auto* source = configured_source(config, row.tenant, row.source);
    if (source == nullptr) {
        return skipped("tenant " + row.tenant + " has no source " + row.source + " configured");
    }
    const collectors::Renormalized again = kind->renormalize(
        collectors::RenormalizeContext{row.tenant, *source, row.feed, config.state_dir, observed_unix_nano}, row.raw);
    if (!again.record) {
        return skipped(again.error);
    }
    QuarantineVerdict verdict;
    if (!again.record->has_value()) {
        const collectors::QuarantinedRecord& still = again.record->error();
        verdict.kind = QuarantineVerdict::Kind::quarantined;
        verdict.reason = collectors::quarantine_label(still.reason);
        verdict.detail = still.detail;
        return verdict;
    }
    const infra::Event& event = **again.record;
    verdict.endpoint = store.endpoint_id(row.tenant, kind->use_case);
    if (verdict.endpoint < 0) {
        return skipped("the state store could not register endpoint " + std::string(kind->use_case));
    }
    verdict.kind = QuarantineVerdict::Kind::normalized;
    verdict.event_id = event.id;
    verdict.record_time_ns = event.time_unix_nano;
    verdict.payload = exporters::encode_log_record(event);
    return verdict;
}

QuarantineChange retry_quarantine(StateStore& store, const Config& config, const Registry& registry,
                                  const QuarantineSelection& which,
                                  const std::function<bool(const QuarantineChange&)>& also)
{
    const std::int64_t observed = unix_nanos(std::chrono::system_clock::now());
    return store.retry_quarantined(
        which,
        [&](const QuarantinedRow& row) { return renormalize_quarantined(store, config, registry, row, observed); },
        also);
}

void run_quarantine_jobs(StateStore& store, const Config& config, const Registry& registry,
                         const std::function<void(std::int64_t endpoint)>& wake)
{
    for (const auto& job : store.open_jobs()) {
        if (is_quarantine_job(job.kind)) {
            run_job(store, config, registry, job, wake);
        }
    }
}

nlohmann::ordered_json retried_records_json(const std::vector<QuarantineResult>& records)
{
    auto json = nlohmann::ordered_json::array();
    for (const auto& record : records) {
        json.push_back({{"id", record.id},
                        {"outcome", quarantine_outcome_name(record.outcome)},
                        {"event_id", record.event_id},
                        {"reason", record.reason},
                        {"detail", record.detail}});
    }
    return json;
}

std::array<std::size_t, 4> count_outcomes(const std::vector<QuarantineResult>& records)
{
    std::array<std::size_t, 4> counts{};
    for (const auto& record : records) {
        ++counts[static_cast<std::size_t>(record.outcome)];
    }
    return counts;
}

std::string quarantine_result(const QuarantineChange& change)
{
    if (change.failed) {
        return nlohmann::json{{"error", "the state store failed (see the daemon's log)"}}.dump();
    }
    if (!change.missing.empty()) {
        return nlohmann::json{{"missing", change.missing}}.dump();
    }
    return nlohmann::ordered_json{{"records", retried_records_json(change.records)}, {"dropped", change.dropped}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

QuarantineChange parse_quarantine_result(std::string_view result)
{
    QuarantineChange change;
    const auto json = nlohmann::json::parse(result, nullptr, false);
    if (!json.is_object() || json.contains("error")) {
        change.failed = true;
        return change;
    }
    if (const auto missing = json.find("missing"); missing != json.end() && missing->is_array()) {
        for (const auto& id : *missing) {
            change.missing.push_back(id.is_number_integer() ? id.get<std::int64_t>() : 0);
        }
        return change;
    }
    const auto records = json.find("records");
    const auto dropped = json.find("dropped");
    if (records == json.end() || !records->is_array() || dropped == json.end() || !dropped->is_number_unsigned()) {
        change.failed = true;
        return change;
    }
    change.dropped = dropped->get<std::size_t>();
    for (const auto& record : *records) {
        if (!record.is_object()) {
            change.failed = true;
            return change;
        }
        QuarantineResult parsed;
        parsed.id = record.value("id", std::int64_t{0});
        const std::string outcome = record.value("outcome", std::string());
        for (const auto candidate : {QuarantineOutcome::queued, QuarantineOutcome::already_stored,
                                     QuarantineOutcome::still_quarantined, QuarantineOutcome::skipped}) {
            if (quarantine_outcome_name(candidate) == outcome) {
                parsed.outcome = candidate;
            }
        }
        parsed.event_id = record.value("event_id", std::string());
        parsed.reason = record.value("reason", std::string());
        parsed.detail = record.value("detail", std::string());
        change.records.push_back(std::move(parsed));
    }
    return change;
}

}  // namespace c4c::daemon
