#include "collectors/tenant_clock.hpp"

#include "collectors_support.hpp"

#include <doctest/doctest.h>
#include <prometheus/registry.h>

#include <chrono>

using c4c::collectors::clock_sample;
using c4c::collectors::TenantClock;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

namespace {

// Thu, 26 Nov 2026 06:00:00 GMT
const Clock::time_point k_date = std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + 6h;
constexpr const char* k_date_text = "Thu, 26 Nov 2026 06:00:00 GMT";

}  // namespace

TEST_CASE("clock_sample: the Date header against the host's clock around the exchange")
{
    SUBCASE("a tenant 15 minutes behind")
    {
        const auto sent = k_date + 900s + 200ms;
        const auto received = sent + 100ms;
        const auto sample = clock_sample(k_date_text, sent, received);
        REQUIRE(sample);
        CHECK(sample->low == -900'300ms);       // date - received
        CHECK(sample->estimate == -899'750ms);  // middle of [-900.3 s, -899.2 s]
    }
    SUBCASE("a tenant 15 minutes ahead, all three date forms, spaces around")
    {
        const auto sent = k_date - 900s;
        for (const char* text :
             {" Thu, 26 Nov 2026 06:00:00 GMT ", "Thursday, 26-Nov-26 06:00:00 GMT", "Thu Nov 26 06:00:00 2026"}) {
            const auto sample = clock_sample(text, sent, sent);
            REQUIRE(sample);
            CHECK(sample->low == 900s);
            CHECK(sample->estimate == 900'500ms);
        }
    }
    SUBCASE("not a date")
    {
        CHECK_FALSE(clock_sample("", k_date, k_date));
        CHECK_FALSE(clock_sample("yesterday", k_date, k_date));
        CHECK_FALSE(clock_sample("Thu, 31 Nov 2026 06:00:00 GMT", k_date, k_date));
    }
}

TEST_CASE("TenantClock: the latest answer sets the skew, the metric and the tenant's time")
{
    prometheus::Registry registry;
    auto& gauge = prometheus::BuildGauge().Name("skew").Help("h").Register(registry).Add({});
    TenantClock clock(&gauge);
    const auto host = k_date + 1h;
    CHECK_FALSE(clock.skew());
    CHECK(clock.tenant_time(host) == host);  // unknown: the host's clock
    CHECK_FALSE(clock.warn_beyond(60s));

    // Sent 15 min + 1 s after the tenant wrote its Date, answered 500 ms later.
    const auto sent = k_date + 901s;
    const auto tenant_sent = clock.observe(k_date_text, sent, sent + 500ms);
    REQUIRE(tenant_sent);
    CHECK(*tenant_sent == k_date - 500ms);  // the Date minus the round trip: never later than the truth
    REQUIRE(clock.skew());
    CHECK(*clock.skew() == -900'750ms);
    CHECK(gauge.Value() == doctest::Approx(-900.75));
    CHECK(clock.tenant_time(host) == host - 901'500ms);

    CHECK(clock.warn_beyond(60s));
    CHECK_FALSE(clock.warn_beyond(60s));  // once an hour
    CHECK_FALSE(clock.warn_beyond(20min));

    // A header that is no date, or no date of this era, changes nothing.
    CHECK_FALSE(clock.observe("soon", sent, sent));
    CHECK_FALSE(clock.observe("Sun, 06 Nov 1994 08:49:37 GMT", sent, sent));
    CHECK(*clock.skew() == -900'750ms);

    // The tenant's clock was corrected: the latest answer counts.
    CHECK(clock.observe(k_date_text, k_date, k_date));
    CHECK(*clock.skew() == 500ms);
    CHECK(clock.tenant_time(host) == host);
    CHECK(gauge.Value() == doctest::Approx(0.5));
}

TEST_CASE("tenant_now: the poll's start on the tenant's clock, or on the host's without one")
{
    boost::asio::io_context io;
    c4c::infra::http::Client client(io.get_executor(), {});
    collector_tests::MemoryStore store;
    collector_tests::RecordingObserver observer;
    c4c::collectors::C4cConfig c4c;
    c4c::collectors::SourceConfig source;
    c4c::collectors::PollContext context{"acme-prod", c4c, source, client, store, observer, {}, k_date + 1h};
    CHECK(c4c::collectors::tenant_now(context) == k_date + 1h);
    TenantClock clock;
    context.clock = &clock;
    CHECK(c4c::collectors::tenant_now(context) == k_date + 1h);
    clock.observe(k_date_text, k_date - 900s, k_date - 900s);
    CHECK(c4c::collectors::tenant_now(context) == k_date + 1h + 900s);
}
