// Reload of the running tenants (daemon/tenant_set.hpp) through the real wiring: the real loader, the
// real runtimes, state store, exporters and HTTP clients, a feed that exists only in the tests (one tick per
// poll, test_daemon_feeds.hpp), and a Cloud ALM stand-in on 127.0.0.1, all on one event loop as in the
// daemon.

#include "daemon/tenant_set.hpp"

#include "daemon/config.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics.hpp"
#include "infra/state_store.hpp"
#include "test_daemon_feeds.hpp"
#include "test_daemon_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = c4c::infra::http;
using namespace c4c::daemon;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------------
// The test-only feed: one event per poll, its body the configured word and the poll's number.

constexpr test::WordFeed k_ticks{
    .name = "ticks", .use_case = "tick_monitoring", .key = "word", .default_word = "tick", .object_type = "Tick"};

/// What the tick collectors did, per tenant.
test::PollLog& g_ticks = test::poll_log<k_ticks>;

// ---------------------------------------------------------------------------------------------------
// The set-up: a sink and the tenants' set on one loop.

struct Fixture {
    Fixture()
        : kinds(test::word_feed_kind<k_ticks>),
          sink(io.get_executor(), http::ServerOptions{},
               [this](http::ServerRequest request) -> asio::awaitable<http::ServerResponse> {
                   bodies.push_back(request.body);
                   co_return http::ServerResponse{};
               })
    {
        sink.start();
        g_ticks = {};
    }
    ~Fixture()
    {
        if (tenants) {
            spawn_and_run(tenants->stop(1s));
        }
        sink.stop();
        io.run_for(100ms);
    }

    Registry registry() const { return kinds.registry(); }

    std::string url(std::string_view path) const
    {
        return "http://127.0.0.1:" + std::to_string(sink.local_endpoint().port()) + std::string(path);
    }

    /// Two tenants, t1 and t2, ticking every 50 ms with their words; `t2_extra` goes into t2's endpoint.
    std::vector<TenantConfig> configs(std::string_view t1_word, std::string_view t2_word,
                                      std::string_view t2_extra = "")
    {
        std::string text = "state_dir = \"state\"\n";
        for (const auto& [name, word, extra] :
             {std::tuple{"t1", t1_word, std::string_view()}, std::tuple{"t2", t2_word, t2_extra}}) {
            text += "[[tenants]]\nname = \"" + std::string(name) +
                    "\"\n[tenants.c4c]\nurl = \"http://127.0.0.1:9\"\nuser = \"CRUN\"\npassword = \"pw\"\n"
                    "[tenants.sources.ticks]\nword = \"" +
                    std::string(word) + "\"\n[tenants.endpoints.tick_monitoring]\nurl = \"" + url("/logs") +
                    "\"\ngzip = false\n" + std::string(extra) + "\n[tenants.endpoints.health_monitoring]\nurl = \"" +
                    url("/metrics") + "\"\ngzip = false\n";
        }
        auto loaded = load_config_text(text, dir.path / "collector.toml", registry());
        std::string errors;
        for (const auto& error : loaded.errors) {
            errors += error.format() + "\n";
        }
        INFO(errors);
        REQUIRE(loaded.config.has_value());
        for (auto& tenant : loaded.config->tenants) {
            tenant.sources.at(std::string(k_ticks.name)).interval = 50ms;
        }
        return loaded.config->tenants;
    }

    void start(const std::vector<TenantConfig>& running)
    {
        store = std::make_unique<c4c::infra::StateStore>(dir.path / "state");
        tenants.emplace(TenantContext{
            .executor = io.get_executor(), .store = store.get(), .metrics = &metrics, .registry = registry()});
        tenants->build(running);
        tenants->start(dir.path / "state");
    }

    /// Runs the loop until `done` holds (true) or `limit` passed (false).
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s)
    {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            io.run_for(10ms);
        }
        return true;
    }

    template <class T>
    T spawn_and_run(asio::awaitable<T> task)
    {
        std::optional<T> value;
        asio::co_spawn(io, std::move(task), [&](std::exception_ptr error, T result) {
            CHECK_FALSE(static_cast<bool>(error));
            value = std::move(result);
        });
        REQUIRE(run_until([&] { return value.has_value(); }, 10s));
        return std::move(*value);
    }
    void spawn_and_run(asio::awaitable<void> task)
    {
        bool done = false;
        asio::co_spawn(io, std::move(task), [&](std::exception_ptr error) {
            CHECK_FALSE(static_cast<bool>(error));
            done = true;
        });
        REQUIRE(run_until([&] { return done; }, 10s));
    }

    TenantRuntime* tenant(std::string_view name)
    {
        for (auto& runtime : tenants->running()) {
            if (runtime->config.name == name) {
                return runtime.get();
            }
        }
        return nullptr;
    }

    std::size_t bodies_with(std::string_view text) const
    {
        return static_cast<std::size_t>(std::count_if(bodies.begin(), bodies.end(), [&](const std::string& body) {
            return body.find(text) != std::string::npos;
        }));
    }

    c4c::daemon::test::TempDir dir;
    asio::io_context io{1};
    test::TestRegistry kinds;
    std::vector<std::string> bodies;
    http::Server sink;
    c4c::infra::Metrics metrics;
    std::unique_ptr<c4c::infra::StateStore> store;
    std::optional<TenantSet> tenants;
};

}  // namespace

TEST_CASE("a reload plan keeps the tenants whose configuration is the same, restarts the changed ones")
{
    Fixture f;
    const auto before = f.configs("one", "two");
    auto after = f.configs("one", "zwei");
    CHECK(plan_reload(before, before).kept == std::vector<std::string>{"t1", "t2"});
    CHECK(plan_reload(before, before).started.empty());
    CHECK(plan_reload(before, before).stopped.empty());

    const auto changed = plan_reload(before, after);
    CHECK(changed.kept == std::vector<std::string>{"t1"});
    CHECK(changed.started == std::vector<std::string>{"t2"});
    CHECK(changed.stopped == std::vector<std::string>{"t2"});

    // t2 removed, t3 (t1 renamed) added: a name is a tenant.
    after.erase(after.begin() + 1);
    after.push_back(before.at(0));
    after.back().name = "t3";
    const auto renamed = plan_reload(before, after);
    CHECK(renamed.kept == std::vector<std::string>{"t1"});
    CHECK(renamed.started == std::vector<std::string>{"t3"});
    CHECK(renamed.stopped == std::vector<std::string>{"t2"});

    // Any key of the tenant counts, an endpoint's included.
    auto endpoint = before;
    endpoint.at(0).endpoints.at("tick_monitoring").max_batch_events += 1;
    CHECK(plan_reload(before, endpoint).started == std::vector<std::string>{"t1"});
}

TEST_CASE("a reload restarts only the changed tenant; the unchanged one polls on with the same objects")
{
    Fixture f;
    f.start(f.configs("one", "two"));
    REQUIRE(f.run_until([&] { return g_ticks.polls["t1"] >= 3 && g_ticks.polls["t2"] >= 3; }));
    auto* t1 = f.tenant("t1");
    auto* t2 = f.tenant("t2");
    REQUIRE(t1);
    REQUIRE(t2);
    const auto* t1_exporter = t1->endpoints.at("tick_monitoring")->exporter.get();
    const auto t1_tasks = t1->tasks.live();
    CHECK(t1_tasks == 3);  // its poll, its delivery, its health push

    const auto result = f.spawn_and_run(f.tenants->reload(f.configs("one", "zwei"), f.dir.path / "state", 1s));
    CHECK(result.ok);
    CHECK(result.error.empty());
    CHECK(result.plan.kept == std::vector<std::string>{"t1"});
    CHECK(result.plan.started == std::vector<std::string>{"t2"});

    // t1: the very same runtime, exporter, collector and tasks, never stopped.
    CHECK(f.tenant("t1") == t1);
    CHECK(t1->endpoints.at("tick_monitoring")->exporter.get() == t1_exporter);
    CHECK(t1->tasks.live() == t1_tasks);
    // t2: a new runtime with the new word.
    CHECK(f.tenant("t2") != nullptr);
    CHECK(f.tenant("t2") != t2);
    CHECK(f.tenants->running().front()->config.name == "t1");  // configuration order

    const int t1_polls = g_ticks.polls["t1"];
    REQUIRE(f.run_until([&] { return g_ticks.polls["t1"] >= t1_polls + 3 && f.bodies_with("zwei #") >= 2; }));
    CHECK(g_ticks.collectors["t1"].size() == 1);  // one collector polled for t1 throughout
    CHECK(g_ticks.collectors["t2"].size() == 2);  // t2 was rebuilt once
    CHECK(f.tenant("t1")->tasks.live() == t1_tasks);
}

TEST_CASE("a reload that fails after validation keeps every running tenant as it was")
{
    Fixture f;
    // A file that passes for PEM at a glance (validation) but that the TLS library refuses when the
    // client is built: the failure a reload meets after the configuration was accepted.
    const auto bad_ca = f.dir.path / "broken-ca.pem";
    std::filesystem::create_directories(f.dir.path);
    std::ofstream(bad_ca) << "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n";

    f.start(f.configs("one", "two"));
    REQUIRE(f.run_until([&] { return g_ticks.polls["t1"] >= 2 && g_ticks.polls["t2"] >= 2; }));
    auto* t1 = f.tenant("t1");
    auto* t2 = f.tenant("t2");
    // t2's health endpoint is down as far as anyone can tell; a failed reload must not tell otherwise.
    t2->endpoints.at("health_monitoring")->endpoint_up(false);

    // t1 is unchanged; t2 changes its word and its log endpoint gets the broken CA file. Its health
    // endpoint (built first: endpoints are kept by use case) builds fine.
    auto next = f.configs("one", "zwei");
    next.at(1).endpoints.at("tick_monitoring").ca_file = bad_ca.string();
    const auto result = f.spawn_and_run(f.tenants->reload(next, f.dir.path / "state", 1s));
    CHECK_FALSE(result.ok);
    CHECK(result.error.find("tenant t2") != std::string::npos);
    CHECK(result.error.find("CA file") != std::string::npos);
    CHECK(result.error.find(bad_ca.string()) != std::string::npos);

    // Nothing stopped, nothing replaced; both tenants go on polling and delivering their old words.
    CHECK(f.tenant("t1") == t1);
    CHECK(f.tenant("t2") == t2);
    CHECK(t1->tasks.live() == 3);
    CHECK(t2->tasks.live() == 3);
    const int t1_polls = g_ticks.polls["t1"];
    const int t2_polls = g_ticks.polls["t2"];
    const auto two_before = f.bodies_with("two #");
    REQUIRE(f.run_until([&] {
        return g_ticks.polls["t1"] >= t1_polls + 3 && g_ticks.polls["t2"] >= t2_polls + 3 &&
               f.bodies_with("two #") >= two_before + 2;
    }));
    CHECK(f.bodies_with("zwei #") == 0);
    CHECK(g_ticks.collectors["t2"].size() == 1);
    const auto text = f.metrics.serialize();
    CHECK(text.find(R"(c4c_alm_collector_endpoint_up{endpoint="health_monitoring",tenant="t2"} 0)") !=
          std::string::npos);

    // The same reload without the broken file goes through.
    next.at(1).endpoints.at("tick_monitoring").ca_file.clear();
    CHECK(f.spawn_and_run(f.tenants->reload(next, f.dir.path / "state", 1s)).ok);
    REQUIRE(f.run_until([&] { return f.bodies_with("zwei #") >= 1; }));
    CHECK(f.tenant("t1") == t1);
}
