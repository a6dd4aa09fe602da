#include "collectors/tenant_clock.hpp"

#include "infra/backoff.hpp"

#include <cstdint>

namespace c4c::collectors {

namespace {

using Clock = std::chrono::system_clock;

std::int64_t unix_ms(Clock::time_point time)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

}  // namespace

std::optional<ClockSample> clock_sample(std::string_view date, Clock::time_point sent, Clock::time_point received)
{
    while (!date.empty() && (date.front() == ' ' || date.front() == '\t')) {
        date.remove_prefix(1);
    }
    while (!date.empty() && (date.back() == ' ' || date.back() == '\t')) {
        date.remove_suffix(1);
    }
    const auto seconds = infra::parse_http_date(date);
    if (!seconds) {
        return std::nullopt;
    }
    // In milliseconds: parse_http_date allows years the clock's nanoseconds cannot hold.
    const std::int64_t date_ms = *seconds * 1000;
    const std::int64_t sent_ms = unix_ms(std::min(sent, received));
    const std::int64_t received_ms = unix_ms(received);
    ClockSample sample;
    sample.low = std::chrono::milliseconds(date_ms - received_ms);
    // The middle of [date - received, date + 1 s - sent].
    sample.estimate = std::chrono::milliseconds(date_ms + 500 - (sent_ms + received_ms) / 2);
    return sample;
}

std::optional<Clock::time_point> TenantClock::observe(std::string_view date, Clock::time_point sent,
                                                      Clock::time_point received)
{
    auto sample = clock_sample(date, sent, received);
    // A date that is not a date of this era (a broken proxy) says nothing about the tenant.
    if (!sample || std::chrono::abs(sample->estimate) > std::chrono::hours(24 * 366)) {
        return std::nullopt;
    }
    m_latest = sample;
    if (m_gauge != nullptr) {
        m_gauge->Set(std::chrono::duration<double>(sample->estimate).count());
    }
    return std::min(sent, received) + sample->low;
}

Clock::time_point TenantClock::tenant_time(Clock::time_point host_time) const
{
    return m_latest ? host_time + m_latest->low : host_time;
}

std::optional<std::chrono::milliseconds> TenantClock::skew() const
{
    if (!m_latest) {
        return std::nullopt;
    }
    return m_latest->estimate;
}

Clock::time_point tenant_now(const PollContext& context)
{
    return context.clock != nullptr ? context.clock->tenant_time(context.now) : context.now;
}

bool TenantClock::warn_beyond(std::chrono::milliseconds limit)
{
    if (!m_latest || std::chrono::abs(m_latest->estimate) <= limit) {
        return false;
    }
    return m_warn_log.admit().has_value();
}

}  // namespace c4c::collectors
