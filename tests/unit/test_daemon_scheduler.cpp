// The periodic poll loop (daemon/scheduler.cpp) with a test-only feed whose collector throws: the real
// configuration loader, the real runtime objects and the real run_source on an io_context. An exception
// escaping a poll must fail that poll only: counted as source_errors_total{reason="internal"}, the
// source down, then polled again after the error backoff.

#include "daemon/scheduler.hpp"

#include "daemon/config.hpp"
#include "daemon/runtime.hpp"
#include "infra/metrics.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace c4c::collectors;
using namespace std::chrono_literals;

// How the test feed's polls go, shared by the test and its collector.
struct Script {
    int polls = 0;
    int throw_first = 0;  ///< the first N polls throw
    bool throw_non_standard = false;
};

Script* g_script = nullptr;  // the feed's factory is a plain function pointer

class ThrowingCollector final : public Collector {
public:
    asio::awaitable<PollOutcome> poll(PollContext&) override
    {
        ++g_script->polls;
        if (g_script->polls <= g_script->throw_first) {
            if (g_script->throw_non_standard) {
                throw 42;
            }
            throw std::runtime_error("boom #" + std::to_string(g_script->polls));
        }
        co_return PollOutcome{};
    }
};

std::unique_ptr<Collector> make_throwing_collector(const SourceConfig&)
{
    return std::make_unique<ThrowingCollector>();
}

const CollectorKind k_throwing_kind{
    .name = "throwing",
    .use_case = "throwing_monitoring",
    .defaults = {.interval = std::chrono::milliseconds(50),
                 .page_size = 10,
                 .lookback = std::chrono::hours(1),
                 .overlap = std::chrono::minutes(0)},
    .read_settings = nullptr,
    .make = &make_throwing_collector,
    .failed_items = std::nullopt,
};

constexpr const char* k_config = R"(state_dir = "state-never-created"
[[tenants]]
name = "t1"
[tenants.c4c]
url = "http://127.0.0.1:9"
user = "CRUN"
password = "pw"
[tenants.sources.throwing]
interval = "50ms"
[tenants.endpoints.throwing_monitoring]
url = "http://127.0.0.1:9/logs"
)";

struct Harness {
    std::vector<const CollectorKind*> kinds{&k_throwing_kind};
    c4c::daemon::Config config;
    asio::io_context io{1};
    c4c::infra::Metrics metrics;
    std::unique_ptr<c4c::daemon::TenantRuntime> tenant;

    Harness()
    {
        const c4c::daemon::Registry registry{.collectors = kinds};
        auto loaded = c4c::daemon::load_config_text(k_config, "/nonexistent/collector.toml", registry);
        REQUIRE(loaded.config.has_value());
        config = std::move(*loaded.config);
        // dry_run: no state store; the loop and its bookkeeping are the production ones.
        tenant = std::make_unique<c4c::daemon::TenantRuntime>(io.get_executor(), config.tenants.at(0), nullptr, metrics,
                                                              registry, true);
        REQUIRE(tenant->sources.size() == 1);
    }

    c4c::daemon::SourceRuntime& source() { return *tenant->sources.front(); }
    double internal_errors() { return source().metrics.errors("internal").Value(); }

    /// Runs the source's loop until `done` holds (checked every 10 ms) or `limit` passes, then cancels it.
    /// Returns whether the loop was still running when it was cancelled.
    template <class Done>
    bool run_until(Done done, std::chrono::milliseconds limit)
    {
        bool loop_ended = false;
        asio::cancellation_signal stop;
        asio::co_spawn(io, c4c::daemon::run_source(*tenant, source(), config.state_dir, 0ms),
                       asio::bind_cancellation_slot(stop.slot(), [&loop_ended](const std::exception_ptr& error) {
                           loop_ended = true;
                           CHECK_FALSE(error);  // run_source never throws
                       }));
        const auto deadline = std::chrono::steady_clock::now() + limit;
        asio::steady_timer tick(io);
        bool running_at_end = false;
        std::function<void()> check = [&] {
            if (done() || std::chrono::steady_clock::now() >= deadline) {
                running_at_end = !loop_ended;
                stop.emit(asio::cancellation_type::terminal);
                return;
            }
            tick.expires_after(10ms);
            tick.async_wait([&](const boost::system::error_code&) { check(); });
        };
        check();
        io.run();
        CHECK(loop_ended);
        return running_at_end;
    }
};

}  // namespace

TEST_SUITE_BEGIN("scheduler");

TEST_CASE("an exception escaping a poll is counted as internal, and the loop backs off and goes on")
{
    Script script{.throw_first = 2};
    g_script = &script;
    Harness harness;
    // Two polls throw, the third succeeds: the error backoff is capped at the 50 ms interval.
    const bool running = harness.run_until([&] { return script.polls >= 4; }, 10s);
    g_script = nullptr;
    CHECK(running);
    CHECK(script.polls >= 4);
    CHECK(harness.internal_errors() == 2);
    auto& source = harness.source();
    CHECK(source.up);  // recovered
    CHECK(source.consecutive_failures == 0);
    CHECK(source.metrics.up->Value() == 1);
    const auto text = harness.metrics.serialize();
    CHECK(text.find(R"(c4c_alm_collector_source_errors_total{reason="internal",source="throwing",tenant="t1"} 2)") !=
          std::string::npos);
}

TEST_CASE("a source whose every poll throws stays down and keeps being polled")
{
    Script script{.throw_first = 1'000'000, .throw_non_standard = true};
    g_script = &script;
    Harness harness;
    const bool running = harness.run_until([&] { return script.polls >= 3; }, 10s);
    g_script = nullptr;
    CHECK(running);
    CHECK(script.polls >= 3);
    CHECK(harness.internal_errors() == script.polls);
    CHECK_FALSE(harness.source().up);
    CHECK(harness.source().metrics.up->Value() == 0);
    CHECK(harness.source().consecutive_failures == static_cast<std::size_t>(script.polls));
}

TEST_CASE("poll_source turns an escaping exception into a failed outcome")
{
    Script script{.throw_first = 1};
    g_script = &script;
    Harness harness;
    PollOutcome outcome;
    asio::co_spawn(
        harness.io,
        [&]() -> asio::awaitable<void> {
            outcome = co_await c4c::daemon::poll_source(*harness.tenant, harness.source(), harness.config.state_dir);
        },
        [](const std::exception_ptr& error) { CHECK_FALSE(error); });
    harness.io.run();
    g_script = nullptr;
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.reason == FailureReason::Kind::internal);
    CHECK(outcome.reason.label() == "internal");
    CHECK(outcome.message.find("tenant t1 source throwing") != std::string::npos);
    CHECK(outcome.message.find("boom #1") != std::string::npos);
    CHECK(harness.internal_errors() == 1);
}

TEST_SUITE_END();
