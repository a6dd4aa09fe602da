#include "test_exporters_support.hpp"
#include "timing.hpp"

#include "exporters/auth.hpp"
#include "exporters/cloud_alm.hpp"

#include <boost/asio/detached.hpp>
#include <boost/beast/core/detail/base64.hpp>

using namespace exporter_tests;
using c4c::exporters::AuthResult;
using c4c::exporters::CloudAlmExporter;
using c4c::exporters::DeliveryOptions;
using c4c::exporters::TokenSource;

namespace {

constexpr std::string_view k_logs_path = "/api/calm-logs/v1/logs";
constexpr std::string_view k_token_path = "/oauth/token";
constexpr std::string_view k_client_id = "sb-c4c!b12|it-rt-acme";
constexpr std::string_view k_client_secret = "s3cr:et /+%&=";

c4c::exporters::EndpointConfig oauth_endpoint(const Harness& h)
{
    auto config = h.endpoint(k_logs_path);
    config.use_case = "integration_monitoring";
    config.auth = c4c::exporters::AuthKind::oauth2;
    config.token_url = h.alm.url(k_token_path);
    config.client_id = std::string(k_client_id);
    config.client_secret = c4c::infra::Secret(std::string(k_client_secret));
    return config;
}

std::string token_answer(std::string_view token, std::string expires_in = "3600")
{
    return R"({"access_token":")" + std::string(token) + R"(","token_type":"bearer","expires_in":)" + expires_in +
           R"(,"scope":"uaa.resource","jti":"abc"})";
}

std::string decode_basic(std::string_view header)
{
    REQUIRE(header.starts_with("Basic "));
    header.remove_prefix(6);
    std::string out(boost::beast::detail::base64::decoded_size(header.size()), '\0');
    const auto [written, read] = boost::beast::detail::base64::decode(out.data(), header.data(), header.size());
    out.resize(written);
    return out;
}

DeliveryOptions fast_options()
{
    DeliveryOptions options;
    options.backoff_base = 20ms;
    options.backoff_max = 100ms;
    options.pause_base = 50ms;
    options.pause_max = 200ms;
    return options;
}

}  // namespace

TEST_CASE("auth helpers: form encoding (RFC 6749 2.3.1) and host extraction")
{
    CHECK(c4c::exporters::form_url_encode("sb-c4c!b12|it~x_y.z") == "sb-c4c%21b12%7Cit~x_y.z");
    CHECK(c4c::exporters::form_url_encode("a b:c/+%") == "a+b%3Ac%2F%2B%25");
    CHECK(c4c::exporters::form_url_encode("ä") == "%C3%A4");
    CHECK(c4c::exporters::url_host("https://sub.authentication.eu10.hana.ondemand.com/oauth/token") ==
          "sub.authentication.eu10.hana.ondemand.com");
    CHECK(c4c::exporters::url_host("http://user:pw@127.0.0.1:8080/x?y#z") == "127.0.0.1:8080");
    CHECK(c4c::exporters::log_excerpt("a\nb\tc", 200) == "a b c");
    CHECK(c4c::exporters::log_excerpt("\xC3\xA4\xC3\xA4", 3) == "\xC3\xA4");  // never half a character
}

TEST_CASE("oauth2: token fetched once with Basic client credentials and reused across batches")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(30);
    h.alm.respond = [](const Received& request) {
        if (request.path == k_token_path) {
            return answer(200, token_answer("tok-1"));
        }
        return request.authorization == "Bearer tok-1" ? answer(200) : answer(401);
    };
    auto config = oauth_endpoint(h);
    config.max_batch_events = 10;
    CloudAlmExporter exporter(h.io.get_executor(), config, h.resource("integration_monitoring"), h.client, outbox,
                              observer, fast_options());

    CHECK(h.run(exporter.drain(5s)));
    CHECK(outbox.rows.empty());

    const auto tokens = h.alm.on(k_token_path);
    REQUIRE(tokens.size() == 1);
    CHECK(tokens[0].method == "POST");
    CHECK(tokens[0].content_type == "application/x-www-form-urlencoded");
    CHECK(tokens[0].body == "grant_type=client_credentials");
    CHECK(decode_basic(tokens[0].authorization) == "sb-c4c%21b12%7Cit-rt-acme:s3cr%3Aet+%2F%2B%25%26%3D");
    CHECK(tokens[0].encoded_credentials == "true");  // XSUAA decodes the credentials only then

    const auto logs = h.alm.on(k_logs_path);
    CHECK(logs.size() == 3);
    for (const auto& request : logs) {
        CHECK(request.authorization == "Bearer tok-1");
    }
    CHECK(observer.failures.empty());
    CHECK(observer.paused_calls.empty());
}

TEST_CASE("oauth2: a 401 refreshes the token once and retries at once")
{
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(5);
    int issued = 0;
    h.alm.respond = [&](const Received& request) {
        if (request.path == k_token_path) {
            return answer(200, token_answer("tok-" + std::to_string(++issued)));
        }
        return request.authorization == "Bearer tok-2" ? answer(200) : answer(401, R"({"error":"invalid_token"})");
    };
    CloudAlmExporter exporter(h.io.get_executor(), oauth_endpoint(h), h.resource("integration_monitoring"), h.client,
                              outbox, observer, fast_options());

    const auto started = std::chrono::steady_clock::now();
    CHECK(h.run(exporter.drain(5s)));
    CHECK(std::chrono::steady_clock::now() - started < (unit_tests::k_sanitized ? 3s : 1s));  // no pause, no backoff
    CHECK(h.alm.on(k_token_path).size() == 2);
    const auto logs = h.alm.on(k_logs_path);
    REQUIRE(logs.size() == 2);
    CHECK(logs[0].authorization == "Bearer tok-1");
    CHECK(logs[1].authorization == "Bearer tok-2");
    CHECK(observer.failures == std::vector<std::string>{"http_401"});
    CHECK(observer.paused_calls.empty());
    CHECK(outbox.rows.empty());
}

TEST_CASE("oauth2: still 401 after a fresh token pauses the endpoint")
{
    LogCapture logs;
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(2);
    h.alm.respond = [](const Received& request) {
        return request.path == k_token_path ? answer(200, token_answer("tok-x")) : answer(401);
    };
    CloudAlmExporter exporter(h.io.get_executor(), oauth_endpoint(h), h.resource("integration_monitoring"), h.client,
                              outbox, observer, fast_options());
    CHECK_FALSE(h.run(exporter.drain(5s)));
    CHECK(h.alm.on(k_logs_path).size() == 2);  // the first attempt and the single retry
    CHECK(h.alm.on(k_token_path).size() == 2);
    CHECK(observer.paused_calls == std::vector<bool>{true});
    CHECK(outbox.rows.size() == 2);
    CHECK(logs.count("check credentials") == 1);
    CHECK(logs.all().find("tok-x") == std::string::npos);
    CHECK(logs.all().find(std::string(k_client_secret)) == std::string::npos);
}

TEST_CASE("oauth2: the token endpoint refusing the client pauses the endpoint; no secret in any message")
{
    LogCapture logs;
    Harness h;
    MemoryOutbox outbox;
    RecordingObserver observer;
    outbox.add_events(1);
    h.alm.respond = [](const Received& request) {
        return request.path == k_token_path
                   ? answer(401, R"({"error":"unauthorized","error_description":"Bad credentials"})")
                   : answer(200);
    };
    CloudAlmExporter exporter(h.io.get_executor(), oauth_endpoint(h), h.resource("integration_monitoring"), h.client,
                              outbox, observer, fast_options());
    CHECK_FALSE(h.run(exporter.drain(5s)));
    CHECK(h.alm.on(k_logs_path).empty());
    CHECK(observer.failures == std::vector<std::string>{"auth"});
    CHECK(observer.paused_calls == std::vector<bool>{true});
    const std::string text = logs.all();
    CHECK(text.find("integration_monitoring") != std::string::npos);
    CHECK(text.find(h.alm.host()) != std::string::npos);
    CHECK(text.find("Bad credentials") != std::string::npos);
    CHECK(text.find(std::string(k_client_secret)) == std::string::npos);
}

TEST_CASE("token source: concurrent callers share one request; expiry and invalidate() refresh")
{
    Harness h;
    int issued = 0;
    h.alm.delay = 50ms;
    h.alm.respond = [&](const Received&) {
        // expires_in as a string, as some servers send it; 1 s lifetime is refreshed after half of it.
        return answer(200, R"({"access_token":"t)" + std::to_string(++issued) + R"(","expires_in":"1"})");
    };
    TokenSource source(h.client, oauth_endpoint(h));

    h.run([&]() -> asio::awaitable<void> {
        std::vector<std::string> headers;
        int finished = 0;
        for (int i = 0; i < 3; ++i) {
            asio::co_spawn(
                h.io,
                [&]() -> asio::awaitable<void> {
                    auto header = co_await source.authorization();
                    CHECK(header.has_value());
                    headers.push_back(header.has_value() ? *header : std::string("failed"));
                    ++finished;
                },
                asio::detached);
        }
        CHECK(co_await eventually([&] { return finished == 3; }, 2s));
        CHECK(headers == std::vector<std::string>(3, "Bearer t1"));
        CHECK(source.fetch_count() == 1);
        CHECK(h.alm.received.size() == 1);

        auto cached = co_await source.authorization();
        CHECK(cached.value() == "Bearer t1");
        CHECK(source.fetch_count() == 1);

        co_await pause_for(600ms);  // past half the lifetime
        auto renewed = co_await source.authorization();
        CHECK(renewed.value() == "Bearer t2");

        source.invalidate();
        auto fresh = co_await source.authorization();
        CHECK(fresh.value() == "Bearer t3");
        CHECK(source.fetch_count() == 3);
    }());
}

TEST_CASE("token source: failures carry a reason label and a message naming use case and host")
{
    Harness h;
    std::string body;
    unsigned status = 200;
    h.alm.respond = [&](const Received&) { return answer(status, body); };
    TokenSource source(h.client, oauth_endpoint(h));

    auto fetch = [&]() {
        source.invalidate();
        return h.run(source.authorization());
    };

    body = "<html>login</html>";
    auto not_json = fetch();
    REQUIRE_FALSE(not_json.has_value());
    CHECK(not_json.error().reason.label() == "auth");
    CHECK_FALSE(not_json.error().transient);
    CHECK(not_json.error().message.find("integration_monitoring") != std::string::npos);
    CHECK(not_json.error().message.find(h.alm.host()) != std::string::npos);

    body = R"({"token_type":"bearer","expires_in":3600})";
    auto no_token = fetch();
    REQUIRE_FALSE(no_token.has_value());
    CHECK(no_token.error().reason.label() == "auth");
    CHECK(no_token.error().message.find("access_token") != std::string::npos);

    status = 503;
    body = "busy";
    auto unavailable = fetch();
    REQUIRE_FALSE(unavailable.has_value());
    CHECK(unavailable.error().reason.label() == "token_http_503");
    CHECK(unavailable.error().transient);

    status = 404;
    auto wrong_url = fetch();
    REQUIRE_FALSE(wrong_url.has_value());
    CHECK(wrong_url.error().reason.label() == "token_http_404");
    CHECK_FALSE(wrong_url.error().transient);

    status = 400;
    body = R"({"error":"invalid_client","error_description":"Bad client credentials"})";
    auto refused = fetch();
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().reason.label() == "auth");
    CHECK(refused.error().message.find("Bad client credentials") != std::string::npos);
    CHECK(refused.error().message.find(std::string(k_client_secret)) == std::string::npos);

    status = 200;
    body = R"({"access_token":"abc","token_type":"mac"})";
    auto wrong_type = fetch();
    REQUIRE_FALSE(wrong_type.has_value());
    CHECK(wrong_type.error().reason.label() == "auth");

    // Nothing listens any more: a network label, transient.
    h.alm.stop();
    auto offline = fetch();
    REQUIRE_FALSE(offline.has_value());
    CHECK(offline.error().transient);
    CHECK_FALSE(offline.error().reason.label().empty());
    CHECK(offline.error().reason.label() != "auth");
    CHECK(offline.error().message.find(h.alm.host()) != std::string::npos);
}

TEST_CASE("parse_token_response: the token, its lifetime as a number or a string, bounded")
{
    using c4c::exporters::parse_token_response;
    const std::chrono::duration<double> fallback(3600);
    auto lifetime = [&](std::string_view expires_in) {
        const auto answer = parse_token_response(
            200,
            std::string(R"({"access_token":"abc","token_type":"Bearer","expires_in":)") + std::string(expires_in) + "}",
            "client", fallback);
        REQUIRE(answer.has_value());
        CHECK(answer->access_token == "abc");
        return answer->lifetime.count();
    };
    CHECK(lifetime("43199") == 43199.0);
    CHECK(lifetime(R"("600")") == 600.0);
    CHECK(lifetime(R"("soon")") == 3600.0);  // unreadable: the default
    CHECK(lifetime(R"("nan")") == 0.0);      // seen by tests/fuzz/fuzz_token_response's bound
    CHECK(lifetime("-5") == 0.0);
    CHECK(lifetime("1e300") == 1e9);

    const auto refused = parse_token_response(
        401, R"({"error":"invalid_client","error_description":"Bad\ncredentials"})", "sb-client", fallback);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().reason.label() == "auth");
    CHECK(refused.error().message ==
          "was refused with HTTP 401 (invalid_client: Bad credentials): check client_id 'sb-client' and the client "
          "secret");
    CHECK(parse_token_response(204, "", "c", fallback).error().reason.label() == "auth");
    CHECK(parse_token_response(429, "", "c", fallback).error().transient);
}

TEST_CASE("auth kinds: basic header, none sends no header")
{
    Harness h;
    auto config = h.endpoint(k_logs_path);
    config.auth = c4c::exporters::AuthKind::basic;
    config.user = "u";
    config.password = c4c::infra::Secret("p");
    c4c::exporters::Authorizer basic(h.client, config);
    CHECK(h.run(basic.header()).value() == c4c::infra::http::basic_authorization("u", "p"));
    CHECK_FALSE(basic.invalidate());
    CHECK(basic.token_source() == nullptr);

    config.auth = c4c::exporters::AuthKind::none;
    c4c::exporters::Authorizer none(h.client, config);
    CHECK(h.run(none.header()).value().empty());
}
