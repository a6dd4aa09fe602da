#include "daemon/status.hpp"

#include "infra/state_schema.hpp"
#include "infra/time.hpp"
#include "infra/version.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>

namespace c4c::daemon {

using namespace c4c::infra;

namespace {

using Json = nlohmann::ordered_json;

std::string source_state(const SourceStatus& source)
{
    if (!source.enabled) {
        return "disabled";
    }
    if (!source.last_poll) {
        return "waiting";
    }
    if (source.last_poll->ok) {
        return "ok";
    }
    return source.last_poll->outcome == "outbox_full" ? "blocked" : "down";
}

Json instant(std::optional<std::int64_t> ms, std::int64_t now_ms)
{
    if (!ms) {
        return nullptr;
    }
    return Json{{"at", format_iso8601_ms(*ms)}, {"age_seconds", age_seconds(*ms, now_ms)}};
}

// Ages to the millisecond: more would be noise.
double rounded(double seconds)
{
    return std::round(seconds * 1000.0) / 1000.0;
}

}  // namespace

double age_seconds(std::int64_t instant_ms, std::int64_t now_ms)
{
    return rounded(std::max<double>(0.0, static_cast<double>(now_ms - instant_ms) / 1000.0));
}

std::string format_age(std::optional<double> seconds)
{
    if (!seconds || *seconds < 0 || !std::isfinite(*seconds)) {
        return "-";
    }
    const auto whole = static_cast<long long>(*seconds);
    if (whole < 60) {
        return std::to_string(whole) + "s";
    }
    if (whole < 3600) {
        return std::to_string(whole / 60) + "m";
    }
    if (whole < 86400) {
        const auto minutes = (whole % 3600) / 60;
        return std::to_string(whole / 3600) + "h" +
               (minutes ? (minutes < 10 ? "0" : "") + std::to_string(minutes) + "m" : "");
    }
    const auto hours = (whole % 86400) / 3600;
    return std::to_string(whole / 86400) + "d" + (hours ? std::to_string(hours) + "h" : "");
}

std::string format_bytes(std::size_t bytes)
{
    if (bytes < 1024) {
        return std::to_string(bytes) + " B";
    }
    const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes) / 1024.0;
    std::size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < std::size(units)) {
        value /= 1024.0;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
    return text;
}

Status collect_status(const Config& config, StateStore* store, DaemonStatus daemon,
                      std::chrono::system_clock::time_point now, const Registry& registry)
{
    Status status;
    status.generated_at_ms = unix_millis(now);
    status.state_dir = config.state_dir.string();
    status.daemon = std::move(daemon);

    std::map<std::pair<std::string, std::string>, PollRecord> polls;
    std::vector<infra::FeedCheckpoint> checkpoints;
    std::map<std::int64_t, DeliveryRecord> deliveries;
    std::map<std::pair<std::string, std::string>, std::uint64_t> quarantined;
    if (store && store->schema_version() == 0) {
        status.note = "the state store is being created: a daemon is starting";
        store = nullptr;
    } else if (!store) {
        status.note = "no state store yet: the daemon has not run with this state_dir";
    } else {
        if (store->schema_version() < k_schema_version) {
            status.note = "the state store has schema " + std::to_string(store->schema_version()) +
                          " (this version writes " + std::to_string(k_schema_version) +
                          "): polls are shown once the daemon of this version has run";
        } else if (store->schema_version() > k_schema_version) {
            status.note = "the state store was written by a newer c4c-alm-collector (schema " +
                          std::to_string(store->schema_version()) + "): its queues are not shown";
        }
        for (auto& poll : store->poll_records()) {
            auto key = std::make_pair(poll.tenant, poll.source);
            polls.emplace(std::move(key), std::move(poll));
        }
        checkpoints = store->feed_checkpoints();
        for (auto& count : store->quarantine_counts()) {
            quarantined.emplace(std::make_pair(std::move(count.tenant), std::move(count.source)), count.records);
        }
        for (auto& delivery : store->delivery_records()) {
            deliveries.emplace(delivery.endpoint, std::move(delivery));
        }
    }

    for (const auto& tenant_config : config.tenants) {
        TenantStatus tenant;
        tenant.name = tenant_config.name;
        for (const auto& [name, source_config] : tenant_config.sources) {
            SourceStatus source;
            source.name = name;
            const auto* kind = collectors::find_collector_kind(registry.collectors, name);
            source.endpoint = kind ? std::string(kind->use_case) : std::string();
            source.enabled = source_config.enabled;
            const std::string prefix = tenant.name + "/" + name + "/";
            for (const auto& record : checkpoints) {
                if (!record.feed.starts_with(prefix)) {
                    continue;
                }
                FeedCheckpoint feed{record.feed.substr(prefix.size()), record.value, std::nullopt,
                                    record.updated_at_ms};
                if (const auto at =
                        kind && kind->checkpoint_instant ? kind->checkpoint_instant(record.value) : std::nullopt) {
                    feed.instant_ms = unix_millis(*at);
                    source.checkpoint_ms = std::min(source.checkpoint_ms.value_or(*feed.instant_ms), *feed.instant_ms);
                }
                source.feeds.push_back(std::move(feed));
            }
            if (auto it = polls.find({tenant.name, name}); it != polls.end()) {
                source.last_poll = it->second;
            }
            if (auto it = quarantined.find({tenant.name, name}); it != quarantined.end()) {
                source.quarantined = it->second;
            }
            source.state = source_state(source);
            tenant.sources.push_back(std::move(source));
        }
        for (const auto& [use_case, endpoint_config] : tenant_config.endpoints) {
            EndpointStatus endpoint;
            endpoint.name = use_case;
            endpoint.has_outbox = registry.fed_by_collector(use_case);
            const auto id = store ? store->find_endpoint(tenant.name, use_case) : std::nullopt;
            if (id) {
                endpoint.figures = store->figures(*id);
                if (endpoint.has_outbox && endpoint.figures.events > 0) {
                    if (const auto oldest = store->oldest(*id)) {
                        endpoint.oldest_ms = unix_millis(*oldest);
                    }
                }
                if (auto it = deliveries.find(*id); it != deliveries.end()) {
                    endpoint.state = it->second.state;
                    endpoint.reason = it->second.reason;
                    endpoint.since_ms = it->second.since_ms;
                }
            }
            tenant.endpoints.push_back(std::move(endpoint));
        }
        status.tenants.push_back(std::move(tenant));
    }
    return status;
}

std::string status_json(const Status& status)
{
    const auto now = status.generated_at_ms;
    Json tenants = Json::array();
    for (const auto& tenant : status.tenants) {
        Json sources = Json::array();
        for (const auto& source : tenant.sources) {
            Json feeds = Json::array();
            for (const auto& feed : source.feeds) {
                feeds.push_back({{"feed", feed.feed},
                                 {"value", feed.value},
                                 {"instant", feed.instant_ms ? Json(format_iso8601_ms(*feed.instant_ms)) : Json()},
                                 {"age_seconds", feed.instant_ms ? Json(age_seconds(*feed.instant_ms, now)) : Json()},
                                 {"updated_at", format_iso8601_ms(feed.updated_at_ms)}});
            }
            Json checkpoint;
            if (source.checkpoint_ms) {
                checkpoint = {{"instant", format_iso8601_ms(*source.checkpoint_ms)},
                              {"age_seconds", age_seconds(*source.checkpoint_ms, now)}};
            }
            Json last_poll;
            std::optional<std::int64_t> last_success;
            std::uint64_t failures = 0;
            if (const auto& poll = source.last_poll) {
                last_poll = {{"at", format_iso8601_ms(poll->polled_at_ms)},
                             {"age_seconds", age_seconds(poll->polled_at_ms, now)},
                             {"ok", poll->ok},
                             {"outcome", poll->outcome},
                             {"message", poll->message},
                             {"records", poll->records},
                             {"new_events", poll->stored}};
                last_success = poll->last_success_ms;
                failures = poll->consecutive_failures;
            }
            sources.push_back({{"name", source.name},
                               {"endpoint", source.endpoint},
                               {"enabled", source.enabled},
                               {"state", source.state},
                               {"checkpoint", checkpoint},
                               {"feeds", feeds},
                               {"last_poll", last_poll},
                               {"last_success", instant(last_success, now)},
                               {"consecutive_failures", failures},
                               {"quarantined", source.quarantined}});
        }
        Json endpoints = Json::array();
        for (const auto& endpoint : tenant.endpoints) {
            Json outbox;
            if (endpoint.has_outbox) {
                outbox = {
                    {"events", endpoint.figures.events},
                    {"bytes", endpoint.figures.bytes},
                    {"oldest_age_seconds", endpoint.oldest_ms ? Json(age_seconds(*endpoint.oldest_ms, now)) : Json()}};
            }
            endpoints.push_back({{"name", endpoint.name},
                                 {"state", endpoint.state},
                                 {"paused", endpoint.state == "paused"},
                                 {"reason", endpoint.reason},
                                 {"since", endpoint.since_ms ? Json(format_iso8601_ms(*endpoint.since_ms)) : Json()},
                                 {"outbox", outbox},
                                 {"rejected", endpoint.figures.rejected}});
        }
        tenants.push_back({{"name", tenant.name}, {"sources", sources}, {"endpoints", endpoints}});
    }
    Json document = {{"version", k_version},
                     {"generated_at", format_iso8601_ms(status.generated_at_ms)},
                     {"state_dir", status.state_dir},
                     {"daemon",
                      {{"running", status.daemon.running},
                       {"pid", status.daemon.running ? Json(status.daemon.pid) : Json()},
                       {"role", status.daemon.running ? Json(status.daemon.role) : Json()}}},
                     {"note", status.note},
                     {"tenants", tenants}};
    // Replacement, not an exception, for text that is not UTF-8 (an endpoint's answer, a poll's message).
    return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace c4c::daemon
