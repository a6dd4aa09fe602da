#include "daemon/status_page.hpp"

#include "test_daemon_support.hpp"

#include <doctest/doctest.h>

using namespace c4c;
using namespace c4c::daemon;

namespace {

Status one_of_each()
{
    Status status;
    status.generated_at_ms = 100'000;
    TenantStatus tenant;
    tenant.name = "acme";
    SourceStatus down;
    down.name = "webservice_messages";
    down.state = "down";
    infra::PollRecord poll;
    poll.polled_at_ms = 99'000;
    poll.outcome = "soap_fault";
    poll.message = "<script>alert(1)</script> & \"quotes\"";
    down.last_poll = poll;
    tenant.sources.push_back(down);
    SourceStatus ok;
    ok.name = "business_objects";
    ok.state = "ok";
    ok.checkpoint_ms = 40'000;
    tenant.sources.push_back(ok);
    EndpointStatus paused;
    paused.name = "integration_monitoring";
    paused.state = "paused";
    paused.reason = "HTTP 401";
    paused.figures.events = 12;
    paused.figures.bytes = 2048;
    paused.oldest_ms = 40'000;
    tenant.endpoints.push_back(paused);
    EndpointStatus health;
    health.name = "health_monitoring";
    health.has_outbox = false;
    tenant.endpoints.push_back(health);
    status.tenants.push_back(tenant);
    return status;
}

}  // namespace

TEST_CASE("status page: a row per source and endpoint, state as text, untrusted text escaped")
{
    const auto page = status_page(one_of_each());
    CHECK(page.starts_with("<!doctype html>"));
    CHECK(page.find(R"(<tr class="bad" data-tenant="acme" data-source="webservice_messages">)") != std::string::npos);
    CHECK(page.find(R"(<span class="state">DOWN</span>)") != std::string::npos);
    CHECK(page.find(R"(<tr class="good" data-tenant="acme" data-source="business_objects">)") != std::string::npos);
    CHECK(page.find(R"(<tr class="bad" data-tenant="acme" data-endpoint="integration_monitoring">)") !=
          std::string::npos);
    CHECK(page.find("PAUSED") != std::string::npos);
    CHECK(page.find(">12<") != std::string::npos);
    CHECK(page.find("2.0 KiB") != std::string::npos);
    CHECK(page.find("1 of 2 sources DOWN, 1 endpoint PAUSED") != std::string::npos);
    CHECK(page.find("<script>alert(1)") == std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;") != std::string::npos);
    // Nothing is fetched from elsewhere.
    CHECK(page.find("src=") == std::string::npos);
    CHECK(page.find("http://") == std::string::npos);
    CHECK(page.find("https://") == std::string::npos);
}

TEST_CASE("status page: GET / and /status are answered, anything else is left to the other endpoints")
{
    test::TempDir dir;
    Config config;
    config.state_dir = dir.path;
    infra::http::ServerRequest request;
    request.method = "GET";
    request.target = "/status?x=1";
    auto answer = serve_status(request, config, nullptr);
    REQUIRE(answer);
    CHECK(answer->status == 200);
    CHECK(answer->content_type == "application/json");
    CHECK(answer->body.find("\"running\": true") != std::string::npos);
    request.target = "/";
    answer = serve_status(request, config, nullptr);
    REQUIRE(answer);
    CHECK(answer->content_type == "text/html; charset=utf-8");
    bool has_policy = false;
    for (const auto& [name, value] : answer->headers) {
        has_policy = has_policy || (name == "Content-Security-Policy" && value.starts_with("default-src 'none'"));
    }
    CHECK(has_policy);
    request.target = "/metrics";
    CHECK_FALSE(serve_status(request, config, nullptr));
    request.target = "/";
    request.method = "POST";
    CHECK_FALSE(serve_status(request, config, nullptr));
}
