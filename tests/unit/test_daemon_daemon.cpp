// The daemon with a feed that exists only in the tests (test_daemon_feeds.hpp): adding a feed is a collector
// kind and one row in the table the daemon is given. The kind is configured by name, polled and delivered
// through the real wiring: the real loader, the real Daemon in `--once` mode, the real state store, a real
// HTTP sink on 127.0.0.1.

#include "daemon/daemon.hpp"

#include "daemon/config.hpp"
#include "infra/http/server.hpp"
#include "infra/state_store.hpp"
#include "test_daemon_feeds.hpp"
#include "test_daemon_support.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <doctest/doctest.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = c4c::infra::http;
namespace test = c4c::daemon::test;
using c4c::daemon::test::TempDir;

// ---------------------------------------------------------------------------------------------------
// The test-only feed: one greeting per poll.

constexpr test::WordFeed k_greetings{.name = "greetings",
                                     .use_case = "greeting_monitoring",
                                     .key = "greeting",
                                     .default_word = "hello",
                                     .object_type = "Greeting"};

// ---------------------------------------------------------------------------------------------------
// A Cloud ALM stand-in on 127.0.0.1 that accepts every POST, on a thread of its own.

class Sink {
public:
    Sink()
        : m_server(m_io.get_executor(), http::ServerOptions{},
                   [this](http::ServerRequest request) -> asio::awaitable<http::ServerResponse> {
                       {
                           const std::lock_guard lock(m_mutex);
                           m_requests.push_back(std::move(request));
                       }
                       co_return http::ServerResponse{};
                   })
    {
        m_server.start();
        m_thread = std::thread([this] { m_io.run(); });
    }
    ~Sink()
    {
        asio::post(m_io, [this] {
            m_server.stop();
            m_io.stop();
        });
        m_thread.join();
    }
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;

    std::string url(std::string_view path) const
    {
        return "http://127.0.0.1:" + std::to_string(m_server.local_endpoint().port()) + std::string(path);
    }
    std::vector<http::ServerRequest> requests() const
    {
        const std::lock_guard lock(m_mutex);
        return m_requests;
    }

private:
    asio::io_context m_io{1};
    mutable std::mutex m_mutex;
    std::vector<http::ServerRequest> m_requests;
    http::Server m_server;
    std::thread m_thread;
};

std::string config_text(const Sink& sink, std::string_view greeting)
{
    return R"(state_dir = "state"
[[tenants]]
name = "t1"
[tenants.c4c]
url = "http://127.0.0.1:9"
user = "CRUN"
password = "pw"
[tenants.sources.greetings]
greeting = ")" +
           std::string(greeting) +
           R"("
[tenants.endpoints.greeting_monitoring]
url = ")" + sink.url("/logs") +
           R"("
gzip = false
)";
}

std::string all_errors(const c4c::daemon::LoadResult& result)
{
    std::string text;
    for (const auto& error : result.errors) {
        text += error.format() + "\n";
    }
    return text;
}

}  // namespace

TEST_CASE("a test-only feed is configured, polled and delivered through the real wiring")
{
    TempDir dir{TempDir::create};
    Sink sink;
    const test::TestRegistry kinds(test::word_feed_kind<k_greetings>);
    const auto file = dir.path / "collector.toml";
    const auto loaded =
        c4c::daemon::load_config_text(config_text(sink, "hello from a test feed"), file, kinds.registry());
    INFO(all_errors(loaded));
    REQUIRE(loaded.config.has_value());
    const auto& source = loaded.config->tenants.at(0).sources.at(std::string(k_greetings.name));
    CHECK(source.use_case == "greeting_monitoring");
    CHECK(source.page_size == 10);  // the kind's default
    CHECK(source.settings.get<test::WordSettings>().word == "hello from a test feed");

    for (int run = 1; run <= 2; ++run) {
        CAPTURE(run);
        c4c::daemon::Daemon daemon(*loaded.config, c4c::daemon::RunOptions{.once = true}, kinds.registry());
        CHECK(daemon.run() == 0);  // polled, and everything delivered
        const auto requests = sink.requests();
        REQUIRE(requests.size() == static_cast<std::size_t>(run));
        const auto& request = requests.back();
        CHECK(request.method == "POST");
        CHECK(request.target == "/logs");
        CHECK(request.body.find("hello from a test feed #" + std::to_string(run)) != std::string::npos);
        CHECK(request.body.find(R"("stringValue":"greeting_monitoring")") != std::string::npos);
        CHECK(request.body.find(R"("stringValue":"greetings")") != std::string::npos);
    }
    c4c::infra::StateStore store(dir.path / "state");
    CHECK(store.checkpoint("t1/greetings/greetings") == "2");
}

TEST_CASE("a test-only feed's keys are its own, with positions; without its row it is unknown")
{
    TempDir dir{TempDir::create};
    Sink sink;
    const test::TestRegistry kinds(test::word_feed_kind<k_greetings>);
    const auto file = dir.path / "collector.toml";
    const auto bad = c4c::daemon::load_config_text(config_text(sink, ""), file, kinds.registry());
    REQUIRE(bad.errors.size() == 1);
    CHECK(bad.errors[0].format() ==
          file.string() + ":9:12: tenants[0].sources.greetings.greeting: must not be empty (tenant t1)");

    const auto unknown = c4c::daemon::load_config_text(config_text(sink, "hi"), file);
    INFO(all_errors(unknown));
    CHECK_FALSE(unknown.config.has_value());
    REQUIRE(unknown.errors.size() == 3);
    CHECK(unknown.errors[0].message == "tenants[0]: no source configured; add at least one [tenants.sources.<name>] "
                                       "(tenant t1)");
    CHECK(unknown.errors[1].message ==
          "tenants[0].sources: unknown source 'greetings' (expected webservice_messages, response_time_analysis or "
          "business_objects) (tenant t1)");
    CHECK(unknown.errors[2].message ==
          "tenants[0].endpoints: unknown endpoint 'greeting_monitoring' (expected integration_monitoring, "
          "real_user_monitoring, business_process_monitoring or health_monitoring) (tenant t1)");
}
