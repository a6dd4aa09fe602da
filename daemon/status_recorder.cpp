#include "daemon/status_recorder.hpp"

#include "infra/time.hpp"

namespace c4c::daemon {

void record_poll(infra::StateStore& store, std::string_view tenant, std::string_view source,
                 const collectors::PollOutcome& outcome, std::chrono::system_clock::time_point now)
{
    infra::PollRecord poll;
    poll.tenant = std::string(tenant);
    poll.source = std::string(source);
    poll.polled_at_ms = infra::unix_millis(now);
    poll.ok = outcome.ok;
    poll.outcome = outcome.ok ? "ok" : outcome.reason.label();
    if (poll.outcome.empty()) {
        poll.outcome = "failed";
    }
    poll.message = outcome.ok ? std::string() : outcome.message;
    poll.records = outcome.records;
    poll.stored = outcome.stored;
    store.record_poll(poll);
}

DeliveryRecorder::DeliveryRecorder(infra::StateStore* store, std::int64_t endpoint)
    : m_store(store && store->writable() ? store : nullptr), m_endpoint(endpoint), m_state("none")
{}

void DeliveryRecorder::start()
{
    m_state = "none";
    set("ok", "");
}

void DeliveryRecorder::sent()
{
    set("ok", "");
}

void DeliveryRecorder::rejected()
{
    if (m_state != "paused") {
        set("ok", "");
    }
}

void DeliveryRecorder::failed(std::string_view reason)
{
    if (m_state != "paused") {
        set("retrying", reason);
    }
}

void DeliveryRecorder::paused(bool paused, std::string_view why)
{
    if (paused) {
        set("paused", why);
    } else if (m_state == "paused") {
        set("ok", "");
    }
}

void DeliveryRecorder::set(std::string_view state, std::string_view reason)
{
    if (state == m_state && reason == m_reason) {
        return;
    }
    if (state != m_state) {
        m_since_ms = infra::unix_millis(std::chrono::system_clock::now());
    }
    m_state = std::string(state);
    m_reason = std::string(reason);
    if (m_store) {
        m_store->record_delivery(infra::DeliveryRecord{m_endpoint, m_state, m_reason, m_since_ms});
    }
}

}  // namespace c4c::daemon
