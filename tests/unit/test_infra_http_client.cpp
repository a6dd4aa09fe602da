// GCC 12 reports -Wnull-dereference inside Asio's scheduler once it is inlined (a false positive in
// system headers); the pragma has to come before every include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "infra/http/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <doctest/doctest.h>

#include "skip.hpp"
#include "timing.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;
using namespace c4c::infra::http;
using Clock = std::chrono::steady_clock;
using SendResult = boost::system::result<Response>;

namespace {

constexpr auto k_nothrow = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------------------------------------------
// A scripted test server on 127.0.0.1:0: each accepted connection runs the test's script.

struct Seen {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    std::string header(std::string_view name) const
    {
        for (const auto& [key, value] : headers) {
            if (beast::iequals(key, name)) {
                return value;
            }
        }
        return "<absent>";
    }
};

struct ServerState {
    int accepted = 0;
    int closed = 0;  ///< connections the server closed (plain ones, once their script ended)
    int in_flight = 0;
    int max_in_flight = 0;
    int handshakes_failed = 0;
    std::vector<Seen> requests;
};

asio::awaitable<void> sleep(Clock::duration duration)
{
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(k_nothrow);
}

using Plain = tcp::socket;
using Tls = ssl::stream<tcp::socket>;

template <class Stream>
struct Peer {
    Stream stream;
    std::shared_ptr<ServerState> state;
    beast::flat_buffer buffer{};

    /// The next request, or nullopt once the client closed (or sent garbage).
    asio::awaitable<std::optional<Seen>> read_request()
    {
        bhttp::request<bhttp::string_body> request;
        auto [ec, n] = co_await bhttp::async_read(stream, buffer, request, k_nothrow);
        if (ec) {
            co_return std::nullopt;
        }
        Seen seen{std::string(request.method_string()), std::string(request.target()), {}, request.body()};
        for (const auto& field : request) {
            seen.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        state->requests.push_back(seen);
        co_return seen;
    }

    asio::awaitable<bool> write(std::string_view raw)
    {
        auto [ec, n] = co_await asio::async_write(stream, asio::buffer(raw), k_nothrow);
        co_return !ec;
    }
};

template <class Stream>
using Script = std::function<asio::awaitable<void>(Peer<Stream>&)>;

// The script is a parameter, so it lives in this frame for as long as it runs.
asio::awaitable<void> serve_plain(tcp::socket socket, std::shared_ptr<ServerState> state, Script<Plain> script)
{
    Peer<Plain> peer{std::move(socket), std::move(state)};
    co_await script(peer);
    boost::system::error_code ignored;
    peer.stream.close(ignored);
    ++peer.state->closed;
}

asio::awaitable<void> serve_tls(tcp::socket socket, std::shared_ptr<ServerState> state,
                                std::shared_ptr<ssl::context> tls, Script<Tls> script)
{
    Peer<Tls> peer{Tls(std::move(socket), *tls), std::move(state)};
    if (auto [ec] = co_await peer.stream.async_handshake(ssl::stream_base::server, k_nothrow); ec) {
        ++peer.state->handshakes_failed;
        co_return;
    }
    co_await script(peer);
}

class TestServer {
public:
    TestServer(asio::io_context& io, Script<Plain> script, const char* address = "127.0.0.1") : TestServer(io, address)
    {
        start([state = m_state, script](tcp::socket socket) { return serve_plain(std::move(socket), state, script); });
    }

    TestServer(asio::io_context& io, std::shared_ptr<ssl::context> tls, Script<Tls> script)
        : TestServer(io, "127.0.0.1")
    {
        start([state = m_state, tls, script](tcp::socket socket) {
            return serve_tls(std::move(socket), state, tls, script);
        });
    }

    std::uint16_t port() const { return m_port; }
    std::string url(std::string_view path, std::string_view host = "127.0.0.1") const
    {
        return "http://" + std::string(host) + ":" + std::to_string(m_port) + std::string(path);
    }
    const ServerState& state() const { return *m_state; }

private:
    using Spawn = std::function<asio::awaitable<void>(tcp::socket)>;

    TestServer(asio::io_context& io, const char* address)
        : m_acceptor(std::make_shared<tcp::acceptor>(io, tcp::endpoint(asio::ip::make_address(address), 0))),
          m_port(m_acceptor->local_endpoint().port())
    {}

    void start(Spawn spawn)
    {
        asio::co_spawn(m_acceptor->get_executor(), accept_loop(m_acceptor, m_state, std::move(spawn)), asio::detached);
    }

    static asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor,
                                             std::shared_ptr<ServerState> state, Spawn spawn)
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor->async_accept(k_nothrow);
            if (ec) {
                co_return;
            }
            ++state->accepted;
            asio::co_spawn(acceptor->get_executor(), spawn(std::move(socket)), asio::detached);
        }
    }

    std::shared_ptr<tcp::acceptor> m_acceptor;
    std::shared_ptr<ServerState> m_state = std::make_shared<ServerState>();
    std::uint16_t m_port;
};

std::string response(unsigned status, std::string_view body, std::string_view extra_headers = "")
{
    return "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n" + std::string(extra_headers) + "\r\n" + std::string(body);
}

/// Answers every request on the connection with `raw`.
template <class Stream = Plain>
Script<Stream> answer_all(std::string raw)
{
    return [raw](Peer<Stream>& peer) -> asio::awaitable<void> {
        while (co_await peer.read_request()) {
            if (!co_await peer.write(raw)) {
                co_return;
            }
        }
    };
}

/// Reads one request, writes `raw`, and closes the connection.
Script<Plain> answer_once_then_close(std::string raw)
{
    return [raw](Peer<Plain>& peer) -> asio::awaitable<void> {
        if (co_await peer.read_request()) {
            co_await peer.write(raw);
        }
    };
}

/// Reads requests and never answers (until the client goes away).
// A lambda, not a free coroutine function: GCC 12 emitted a trap (SIGILL) for the latter.
Script<Plain> hang()
{
    return [](Peer<Plain>& peer) -> asio::awaitable<void> {
        while (co_await peer.read_request()) {
        }
    };
}

// ---------------------------------------------------------------------------------------------------
// Running a test coroutine to completion.

void run(asio::io_context& io, asio::awaitable<void> test, std::chrono::seconds limit = 5s)
{
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(io, std::move(test), [&](std::exception_ptr e) {
        failure = e;
        done = true;
        io.stop();
    });
    io.run_for(limit);
    REQUIRE_MESSAGE(done, "the test did not finish in time");
    if (failure) {
        std::rethrow_exception(failure);
    }
}

/// Sends all requests concurrently and returns their results in order.
asio::awaitable<std::vector<SendResult>> send_all(Client& client, std::vector<Request> requests)
{
    auto executor = co_await asio::this_coro::executor;
    std::vector<SendResult> results(requests.size(), make_error_code(Errc::cancelled));
    std::size_t pending = requests.size();
    asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        asio::co_spawn(executor, client.send(std::move(requests[i])), [&, i](std::exception_ptr, SendResult result) {
            results[i] = std::move(result);
            if (--pending == 0) {
                all_done.cancel();
            }
        });
    }
    while (pending > 0) {
        co_await all_done.async_wait(k_nothrow);
    }
    co_return results;
}

Request get(std::string url, std::vector<std::pair<std::string, std::string>> headers = {})
{
    return Request{Method::get, std::move(url), std::move(headers), {}};
}

Errc error_of(const SendResult& result)
{
    if (result.has_value()) {
        FAIL("expected a failure, got status " << result->status);
    }
    REQUIRE(result.error().category() == error_category());
    return static_cast<Errc>(result.error().value());
}

std::chrono::milliseconds since(Clock::time_point start)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// ---------------------------------------------------------------------------------------------------
// A self-signed certificate made at test time, and a server TLS context for it.

class TestIdentity {
public:
    /// `subject_alt_names` as OpenSSL writes them, e.g. "DNS:localhost,IP:127.0.0.1". `expired`: valid
    /// from two days ago until yesterday.
    explicit TestIdentity(const std::string& subject_alt_names, bool expired = false)
    {
        static std::atomic<int> serial{1};
        m_key.reset(EVP_EC_gen("P-256"));
        REQUIRE(m_key);
        m_cert.reset(X509_new());
        REQUIRE(m_cert);
        X509* cert = m_cert.get();
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
        X509_gmtime_adj(X509_getm_notBefore(cert), expired ? -48 * 3600 : -3600);
        X509_gmtime_adj(X509_getm_notAfter(cert), expired ? -24 * 3600 : 24 * 3600);
        X509_set_pubkey(cert, m_key.get());
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("c4c test"), -1, -1,
                                   0);
        X509_set_issuer_name(cert, name);
        X509V3_CTX context;
        X509V3_set_ctx_nodb(&context);
        X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
        add_extension(cert, context, NID_subject_alt_name, subject_alt_names);
        add_extension(cert, context, NID_basic_constraints, "critical,CA:TRUE");
        REQUIRE(X509_sign(cert, m_key.get(), EVP_sha256()) > 0);

        m_pem = std::filesystem::temp_directory_path() /
                ("c4c-http-client-test-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + ".pem");
        std::unique_ptr<BIO, decltype(&BIO_free)> file(BIO_new_file(m_pem.c_str(), "w"), BIO_free);
        REQUIRE(file);
        REQUIRE(PEM_write_bio_X509(file.get(), cert) == 1);
    }
    ~TestIdentity()
    {
        std::error_code ignored;
        std::filesystem::remove(m_pem, ignored);
    }
    TestIdentity(const TestIdentity&) = delete;
    TestIdentity& operator=(const TestIdentity&) = delete;

    std::string pem() const { return m_pem.string(); }

    /// The name OpenSSL's hashed directories give the certificate, without the ".0".
    std::string subject_hash() const
    {
        char name[16];
        std::snprintf(name, sizeof name, "%08lx",
                      X509_NAME_hash_ex(X509_get_subject_name(m_cert.get()), nullptr, nullptr, nullptr));
        return name;
    }

    std::shared_ptr<ssl::context> server_context() const
    {
        auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
        REQUIRE(SSL_CTX_use_certificate(context->native_handle(), m_cert.get()) == 1);
        REQUIRE(SSL_CTX_use_PrivateKey(context->native_handle(), m_key.get()) == 1);
        return context;
    }

private:
    static void add_extension(X509* cert, X509V3_CTX& context, int nid, const std::string& value)
    {
        X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
        REQUIRE(extension);
        X509_add_ext(cert, extension, -1);
        X509_EXTENSION_free(extension);
    }

    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> m_key{nullptr, EVP_PKEY_free};
    std::unique_ptr<X509, decltype(&X509_free)> m_cert{nullptr, X509_free};
    std::filesystem::path m_pem;
};

}  // namespace

TEST_SUITE("http client")
{

    TEST_CASE("GET sends method, target and headers, and returns status, headers and body")
    {
        asio::io_context io;
        TestServer server(io, answer_all(response(200, "hello", "X-Reply: yes\r\n")));
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            const auto url = server.url("/sap/c4c/odata/v1/c4codataapi/LeadCollection?$format=json&$top=10");
            // GCC 12 rejects an initializer list inside a co_await expression: build requests beforehand.
            Request request = get(url, {{"Authorization", "Basic abc"}, {"Accept", "application/json"}});
            auto result = co_await client.send(std::move(request));
            REQUIRE(result.has_value());
            CHECK(result->status == 200);
            CHECK(result->body == "hello");
            CHECK(result->header("x-reply") == "yes");
            CHECK(result->header("X-REPLY") == "yes");
            CHECK_FALSE(result->header("X-Missing").has_value());

            REQUIRE(server.state().requests.size() == 1);
            const Seen& seen = server.state().requests[0];
            CHECK(seen.method == "GET");
            CHECK(seen.target == "/sap/c4c/odata/v1/c4codataapi/LeadCollection?$format=json&$top=10");
            CHECK(seen.header("Host") == "127.0.0.1:" + std::to_string(server.port()));
            CHECK(seen.header("User-Agent") == "c4c-alm-collector");
            CHECK(seen.header("Connection") == "keep-alive");
            CHECK(seen.header("Authorization") == "Basic abc");
            CHECK(seen.header("Accept") == "application/json");
            CHECK(seen.header("Content-Length") == "<absent>");
            CHECK(seen.body.empty());

            auto root = co_await client.send(get("http://127.0.0.1:" + std::to_string(server.port())));
            REQUIRE(root.has_value());
            CHECK(server.state().requests.back().target == "/");
            auto query_only = co_await client.send(get("http://127.0.0.1:" + std::to_string(server.port()) + "?a=b"));
            REQUIRE(query_only.has_value());
            CHECK(server.state().requests.back().target == "/?a=b");
        }());
    }

    TEST_CASE("POST sends the body with Content-Length; caller headers are passed as given")
    {
        asio::io_context io;
        TestServer server(io, answer_all(response(201, "created")));
        ClientOptions options;
        options.user_agent = "test-agent/1";
        Client client(io.get_executor(), options);
        CHECK(client.options().user_agent == "test-agent/1");

        run(io, [&]() -> asio::awaitable<void> {
            Request request{Method::post,
                            server.url("/sap/bc/srt/scs/sap/query"),
                            {{"Content-Type", "text/xml; charset=utf-8"}, {"X-Custom", "1"}, {"X-Custom", "2"}},
                            "<soap:Envelope/>"};
            auto result = co_await client.send(std::move(request));
            REQUIRE(result.has_value());
            CHECK(result->status == 201);
            CHECK(result->body == "created");

            REQUIRE(server.state().requests.size() == 1);
            const Seen& seen = server.state().requests[0];
            CHECK(seen.method == "POST");
            CHECK(seen.target == "/sap/bc/srt/scs/sap/query");
            CHECK(seen.body == "<soap:Envelope/>");
            CHECK(seen.header("Content-Length") == "16");
            CHECK(seen.header("Content-Type") == "text/xml; charset=utf-8");
            CHECK(seen.header("User-Agent") == "test-agent/1");
            const auto customs = std::count_if(seen.headers.begin(), seen.headers.end(),
                                               [](const auto& h) { return h.first == "X-Custom"; });
            CHECK(customs == 2);

            Request empty{Method::post, server.url("/token"), {}, {}};
            auto empty_post = co_await client.send(std::move(empty));
            REQUIRE(empty_post.has_value());
            CHECK(server.state().requests.back().header("Content-Length") == "0");
        }());
    }

    TEST_CASE("keep-alive connections are reused; Connection: close is honoured")
    {
        asio::io_context io;
        TestServer keep(io, answer_all(response(200, "ok")));
        TestServer closing(io, answer_once_then_close(response(200, "ok", "Connection: close\r\n")));
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 4; ++i) {
                auto result = co_await client.send(get(keep.url("/page/" + std::to_string(i))));
                REQUIRE(result.has_value());
            }
            CHECK(keep.state().accepted == 1);
            CHECK(keep.state().requests.size() == 4);

            for (int i = 0; i < 2; ++i) {
                auto result = co_await client.send(get(closing.url("/")));
                REQUIRE(result.has_value());
            }
            CHECK(closing.state().accepted == 2);
        }());
    }

    TEST_CASE("drop_idle closes the keep-alive connections idle for idle_limit, and only those")
    {
        asio::io_context io;
        TestServer server(io, answer_all(response(200, "ok")));
        ClientOptions options;
        options.idle_limit = 1s;  // far above the 50 ms below, even on a loaded machine
        Client client(io.get_executor(), options);

        run(io, [&]() -> asio::awaitable<void> {
            REQUIRE((co_await client.send(get(server.url("/first")))).has_value());
            client.drop_idle();  // idle for less than the limit: kept
            co_await sleep(50ms);
            CHECK(server.state().closed == 0);
            REQUIRE((co_await client.send(get(server.url("/second")))).has_value());
            CHECK(server.state().accepted == 1);  // reused

            co_await sleep(1100ms);
            client.drop_idle();
            const auto deadline = Clock::now() + 5s;
            while (server.state().closed < 1 && Clock::now() < deadline) {  // the server reads our close
                co_await sleep(10ms);
            }
            CHECK(server.state().closed == 1);
            REQUIRE((co_await client.send(get(server.url("/third")))).has_value());
            CHECK(server.state().accepted == 2);
        }());
    }

    TEST_CASE("an idle connection the server closed is retried once on a fresh connection")
    {
        asio::io_context io;
        // Answers keep-alive but closes right after, as servers do with idle connections.
        TestServer server(io, answer_once_then_close(response(200, "ok")));
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                auto result = co_await client.send(get(server.url("/")));
                REQUIRE(result.has_value());
                CHECK(result->body == "ok");
                while (server.state().closed < i + 1) {  // the server has closed it before the next send
                    co_await sleep(1ms);
                }
            }
            CHECK(server.state().accepted == 3);
            CHECK(server.state().requests.size() == 3);
        }());
    }

    TEST_CASE("a fresh connection closed before any response fails without retry")
    {
        asio::io_context io;
        TestServer server(io, [](Peer<Plain>& peer) -> asio::awaitable<void> { co_await peer.read_request(); });
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            auto result = co_await client.send(get(server.url("/")));
            CHECK(error_of(result) == Errc::connection_closed);
            CHECK(server.state().accepted == 1);
        }());
    }

    TEST_CASE("at most max_connections exchanges are in flight; the others wait their turn")
    {
        asio::io_context io;
        TestServer server(io, [](Peer<Plain>& peer) -> asio::awaitable<void> {
            while (co_await peer.read_request()) {
                ServerState& state = *peer.state;
                state.max_in_flight = std::max(state.max_in_flight, ++state.in_flight);
                co_await sleep(200ms);
                --state.in_flight;
                if (!co_await peer.write(response(200, "slow"))) {
                    co_return;
                }
            }
        });
        ClientOptions options;
        options.max_connections = 2;
        Client client(io.get_executor(), options);

        run(io, [&]() -> asio::awaitable<void> {
            std::vector<Request> requests;
            for (int i = 0; i < 6; ++i) {
                requests.push_back(get(server.url("/" + std::to_string(i))));
            }
            const auto start = Clock::now();
            auto results = co_await send_all(client, std::move(requests));
            const auto elapsed = since(start);
            for (const auto& result : results) {
                REQUIRE(result.has_value());
                CHECK(result->status == 200);
            }
            CHECK(server.state().max_in_flight == 2);
            CHECK(server.state().accepted == 2);
            CHECK(elapsed >= 550ms);
            CHECK(elapsed < 2s);
        }());
    }

    TEST_CASE("a server that never answers fails at the deadline, waiting for a slot included")
    {
        asio::io_context io;
        TestServer server(io, hang());
        ClientOptions options;
        options.timeout = 600ms;
        options.max_connections = 1;
        Client client(io.get_executor(), options);

        run(io, [&]() -> asio::awaitable<void> {
            // /a takes the only slot and hangs until its deadline (600 ms). /b, sent 300 ms later, waits for
            // the slot until then, and has only what is left of its own deadline (300 ms), not a new one.
            std::optional<SendResult> a;
            std::optional<SendResult> b;
            std::vector<char> finished;  // the order the two ended in
            asio::co_spawn(io, client.send(get(server.url("/a"))), [&](std::exception_ptr, SendResult result) {
                a = std::move(result);
                finished.push_back('a');
            });
            co_await sleep(300ms);
            const auto b_sent = Clock::now();
            asio::co_spawn(io, client.send(get(server.url("/b"))), [&](std::exception_ptr, SendResult result) {
                b = std::move(result);
                finished.push_back('b');
            });
            while (!a || !b) {
                co_await sleep(5ms);
            }
            const auto b_elapsed = since(b_sent);
            CHECK(error_of(*a) == Errc::timeout);
            CHECK(error_of(*b) == Errc::timeout);
            CHECK(finished == std::vector<char>{'a', 'b'});
            // Both reached the server, one connection after the other: /b once /a gave its slot up.
            REQUIRE(server.state().requests.size() == 2);
            CHECK(server.state().requests[0].target == "/a");
            CHECK(server.state().requests[1].target == "/b");
            CHECK(server.state().accepted == 2);
            CHECK(b_elapsed >= 595ms);  // its own 600 ms deadline
            if (!unit_tests::k_sanitized) {
                CHECK(b_elapsed < 850ms);  // not 300 ms of waiting and then 600 ms of its own (900 ms)
            }
        }());
    }

    TEST_CASE("a server trickling one byte at a time still fails at the deadline")
    {
        asio::io_context io;
        TestServer server(io, [](Peer<Plain>& peer) -> asio::awaitable<void> {
            if (!co_await peer.read_request()) {
                co_return;
            }
            const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
            for (std::size_t i = 0;; ++i) {
                const char byte = i < head.size() ? head[i] : 'x';
                if (!co_await peer.write(std::string_view(&byte, 1))) {
                    co_return;
                }
                co_await sleep(50ms);
            }
        });
        ClientOptions options;
        options.timeout = 500ms;
        Client client(io.get_executor(), options);

        run(io, [&]() -> asio::awaitable<void> {
            const auto start = Clock::now();
            auto result = co_await client.send(get(server.url("/")));
            const auto elapsed = since(start);
            CHECK(error_of(result) == Errc::timeout);
            CHECK(elapsed >= 450ms);
            CHECK(elapsed < 1500ms);
        }());
    }

    TEST_CASE("a body over max_body_bytes fails with body_too_large")
    {
        asio::io_context io;
        TestServer declared(io, answer_all(response(200, std::string(5000, 'x'))));
        const std::string chunk = "258\r\n" + std::string(600, 'y') + "\r\n";  // 0x258 = 600
        TestServer chunked(io, answer_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk +
                                          chunk + "0\r\n\r\n"));
        TestServer fits(io, answer_all(response(200, std::string(1000, 'z'))));
        ClientOptions options;
        options.max_body_bytes = 1000;
        Client client(io.get_executor(), options);

        run(io, [&]() -> asio::awaitable<void> {
            CHECK(error_of(co_await client.send(get(declared.url("/")))) == Errc::body_too_large);
            CHECK(error_of(co_await client.send(get(chunked.url("/")))) == Errc::body_too_large);
            auto result = co_await client.send(get(fits.url("/")));
            REQUIRE(result.has_value());
            CHECK(result->body.size() == 1000);
        }());
    }

    TEST_CASE("malformed responses fail with protocol_error")
    {
        asio::io_context io;
        TestServer bad_chunk(io,
                             answer_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n"));
        TestServer bad_status(io, answer_all("SMTP ready\r\n\r\n"));
        TestServer huge_header(io, answer_all("HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'h') +
                                              "\r\nContent-Length: 0\r\n\r\n"));
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            CHECK(error_of(co_await client.send(get(bad_chunk.url("/")))) == Errc::protocol_error);
            CHECK(error_of(co_await client.send(get(bad_status.url("/")))) == Errc::protocol_error);
            CHECK(error_of(co_await client.send(get(huge_header.url("/")))) == Errc::protocol_error);
        }());
    }

    TEST_CASE("a connection closed in the middle of the body fails with connection_closed")
    {
        asio::io_context io;
        TestServer server(io, answer_once_then_close("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"));
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            CHECK(error_of(co_await client.send(get(server.url("/")))) == Errc::connection_closed);
            CHECK(server.state().accepted == 1);
        }());
    }

    TEST_CASE("a refused connection fails with connect_failed")
    {
        asio::io_context io;
        std::uint16_t port = 0;
        {
            tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
            port = probe.local_endpoint().port();
        }
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            auto result = co_await client.send(get("http://127.0.0.1:" + std::to_string(port) + "/"));
            CHECK(error_of(result) == Errc::connect_failed);
            CHECK(std::string(reason_label(result.error())) == "connect");
        }());
    }

    TEST_CASE("close() cancels sends in flight and waiting, and every later send")
    {
        asio::io_context io;
        TestServer server(io, hang());
        ClientOptions options;
        options.timeout = 10s;
        options.max_connections = 1;
        Client client(io.get_executor(), options);

        run(io, [&]() -> asio::awaitable<void> {
            asio::steady_timer closer(io, 100ms);
            Clock::time_point closed_at;
            closer.async_wait([&](boost::system::error_code) {
                closed_at = Clock::now();
                client.close();
            });
            std::vector<Request> requests;
            requests.push_back(get(server.url("/in-flight")));
            requests.push_back(get(server.url("/waiting")));
            auto results = co_await send_all(client, std::move(requests));
            CHECK(since(closed_at) < 5s);  // at once: the deadline was 10 s away (and both say cancelled)
            CHECK(error_of(results[0]) == Errc::cancelled);
            CHECK(error_of(results[1]) == Errc::cancelled);
            CHECK(error_of(co_await client.send(get(server.url("/later")))) == Errc::cancelled);
            CHECK(server.state().requests.size() == 1);
        }());
    }

    TEST_CASE("redirects are returned, not followed")
    {
        asio::io_context io;
        TestServer server(io, answer_all(response(302, "", "Location: /elsewhere\r\n")));
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            auto result = co_await client.send(get(server.url("/start")));
            REQUIRE(result.has_value());
            CHECK(result->status == 302);
            CHECK(result->header("location") == "/elsewhere");
            CHECK(server.state().requests.size() == 1);
        }());
    }

    TEST_CASE("invalid URLs fail with invalid_url before any connection")
    {
        asio::io_context io;
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            const std::vector<std::string> urls{"ftp://example.com/",
                                                "not a url",
                                                "/relative/path",
                                                "http:///no-host",
                                                "http://example.com:99999/",
                                                "http://example.com/with space"};
            for (const auto& url : urls) {
                CAPTURE(url);
                auto result = co_await client.send(get(url));
                CHECK(error_of(result) == Errc::invalid_url);
            }
        }());
    }

    TEST_CASE("IPv6 literal hosts keep their brackets in the Host header")
    {
        asio::io_context io;
        std::unique_ptr<TestServer> server;
        try {
            server = std::make_unique<TestServer>(io, answer_all(response(200, "v6")), "::1");
        } catch (const std::exception& e) {
            unit_tests::skip_test(std::string("no IPv6 loopback here: ") + e.what());
            return;
        }
        Client client(io.get_executor(), {});

        run(io, [&]() -> asio::awaitable<void> {
            auto result = co_await client.send(get(server->url("/six", "[::1]")));
            REQUIRE(result.has_value());
            CHECK(result->body == "v6");
            CHECK(server->state().requests[0].header("Host") == "[::1]:" + std::to_string(server->port()));
        }());
    }

    TEST_CASE("https: certificate and host name are verified")
    {
        TestIdentity good("DNS:localhost,IP:127.0.0.1");
        TestIdentity wrong_host("DNS:wrong.example");
        TestIdentity expired("DNS:localhost,IP:127.0.0.1", true);
        asio::io_context io;
        TestServer server(io, good.server_context(), answer_all<Tls>(response(200, "secure")));
        TestServer impostor(io, wrong_host.server_context(), answer_all<Tls>(response(200, "impostor")));
        TestServer stale(io, expired.server_context(), answer_all<Tls>(response(200, "stale")));

        ClientOptions trusting;
        trusting.ca_file = good.pem();
        Client client(io.get_executor(), trusting);
        Client system_store_only(io.get_executor(), {});
        ClientOptions trusting_impostor;
        trusting_impostor.ca_file = wrong_host.pem();
        Client fooled(io.get_executor(), trusting_impostor);
        ClientOptions trusting_expired;
        trusting_expired.ca_file = expired.pem();
        Client outdated(io.get_executor(), trusting_expired);

        const auto https = [](const TestServer& s, std::string_view host) {
            return "https://" + std::string(host) + ":" + std::to_string(s.port()) + "/secure";
        };

        run(io, [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 2; ++i) {
                auto result = co_await client.send(get(https(server, "localhost")));
                REQUIRE(result.has_value());
                CHECK(result->body == "secure");
            }
            CHECK(server.state().accepted == 1);  // kept alive
            CHECK(server.state().requests[0].header("Host") == "localhost:" + std::to_string(server.port()));

            auto by_address = co_await client.send(get(https(server, "127.0.0.1")));
            REQUIRE(by_address.has_value());
            CHECK(by_address->body == "secure");

            auto untrusted = co_await system_store_only.send(get(https(server, "localhost")));
            CHECK(error_of(untrusted) == Errc::certificate_untrusted);
            CHECK(std::string(reason_label(untrusted.error())) == "tls");

            // Each refusal says what is wrong with the certificate, and nothing reaches the server.
            auto mismatch = co_await fooled.send(get(https(impostor, "localhost")));
            CHECK(error_of(mismatch) == Errc::certificate_wrong_host);
            CHECK(std::string(reason_label(mismatch.error())) == "tls");
            CHECK(mismatch.error().message().find("does not match the host name") != std::string::npos);
            CHECK(impostor.state().requests.empty());

            auto too_old = co_await outdated.send(get(https(stale, "localhost")));
            CHECK(error_of(too_old) == Errc::certificate_expired);
            CHECK(std::string(reason_label(too_old.error())) == "tls");
            CHECK(too_old.error().message().find("certificate has expired") != std::string::npos);
            CHECK(stale.state().requests.empty());

            auto plain_to_tls = co_await client.send(get("http://127.0.0.1:" + std::to_string(server.port()) + "/"));
            CHECK(plain_to_tls.has_error());
        }());
    }

    TEST_CASE("clients without a ca_file trust the system store, parsed once, through one shared context")
    {
        // The system store is whatever OpenSSL's default paths name: here a bundle of this test's CA alone.
        TestIdentity good("DNS:localhost,IP:127.0.0.1");
        const std::filesystem::path empty_dir =
            std::filesystem::temp_directory_path() / ("c4c-http-client-certs-" + std::to_string(::getpid()));
        std::filesystem::create_directories(empty_dir);
        ::setenv("SSL_CERT_FILE", good.pem().c_str(), 1);
        ::setenv("SSL_CERT_DIR", empty_dir.c_str(), 1);
        {
            asio::io_context io;
            TestServer server(io, good.server_context(), answer_all<Tls>(response(200, "secure")));
            Client first(io.get_executor(), {});
            Client second(io.get_executor(), {});
            const std::string url = "https://localhost:" + std::to_string(server.port()) + "/secure";
            run(io, [&]() -> asio::awaitable<void> {
                for (Client* client : {&first, &second}) {
                    auto result = co_await client->send(get(url));
                    REQUIRE(result.has_value());
                    CHECK(result->body == "secure");
                }
            }());
            boost::system::error_code ec;
            const auto store = shared_system_store(ec);
            REQUIRE(store);
            CHECK_FALSE(ec);
            CHECK(store.use_count() == 2);                        // the one context both clients share holds it
            CHECK(shared_system_store(ec).get() == store.get());  // one parse while clients hold it
            CHECK(sk_X509_OBJECT_num(X509_STORE_get0_objects(store.get())) == 1);
        }
        // With no client holding it, the next one reads the paths again (a changed bundle is seen).
        ::setenv("SSL_CERT_FILE", (empty_dir / "none.pem").c_str(), 1);
        boost::system::error_code ec;
        const auto reread = shared_system_store(ec);
        REQUIRE(reread);
        CHECK(sk_X509_OBJECT_num(X509_STORE_get0_objects(reread.get())) == 0);
        ::unsetenv("SSL_CERT_FILE");
        ::unsetenv("SSL_CERT_DIR");
        std::filesystem::remove_all(empty_dir);
    }

    TEST_CASE("without SSL_CERT_FILE the system trust is the hashed directory, a CA read when a chain needs it")
    {
        const auto objects = [](X509_STORE* store) { return sk_X509_OBJECT_num(X509_STORE_get0_objects(store)); };
        TestIdentity good("DNS:localhost,IP:127.0.0.1");
        const std::filesystem::path dir =
            std::filesystem::temp_directory_path() / ("c4c-http-client-hashed-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        std::filesystem::copy_file(good.pem(), dir / (good.subject_hash() + ".0"));
        ::unsetenv("SSL_CERT_FILE");
        ::setenv("SSL_CERT_DIR", dir.c_str(), 1);
        {
            asio::io_context io;
            TestServer server(io, good.server_context(), answer_all<Tls>(response(200, "secure")));
            Client client(io.get_executor(), {});
            boost::system::error_code ec;
            const auto store = shared_system_store(ec);  // the one the client will share
            REQUIRE(store);
            CHECK(objects(store.get()) == 0);  // nothing parsed before a chain needs it
            run(io, [&]() -> asio::awaitable<void> {
                auto result = co_await client.send(get("https://localhost:" + std::to_string(server.port()) + "/"));
                REQUIRE(result.has_value());
                CHECK(result->body == "secure");
            }());
            CHECK(objects(store.get()) == 1);  // the test CA, read from its hashed name and kept
        }
        // A directory without hashed names: the default bundle is read whole, as OpenSSL's default paths do.
        std::filesystem::remove(dir / (good.subject_hash() + ".0"));
        std::filesystem::copy_file(good.pem(), dir / "test-ca.pem");
        std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> bundle(X509_STORE_new(), X509_STORE_free);
        X509_STORE_load_file(bundle.get(), X509_get_default_cert_file());
        ::ERR_clear_error();
        boost::system::error_code ec;
        const auto store = shared_system_store(ec);
        REQUIRE(store);
        CHECK(objects(store.get()) == objects(bundle.get()));
        ::unsetenv("SSL_CERT_DIR");
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("a CA file that cannot be loaded fails construction, naming the file")
    {
        asio::io_context io;
        ClientOptions options;
        options.ca_file = "/nonexistent/c4c-test-ca.pem";
        try {
            Client client(io.get_executor(), options);
            FAIL("expected std::runtime_error");
        } catch (const std::runtime_error& e) {
            CHECK(std::string(e.what()).find("/nonexistent/c4c-test-ca.pem") != std::string::npos);
        }
    }

    TEST_CASE("basic_authorization encodes user:password in base64")
    {
        CHECK(basic_authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        CHECK(basic_authorization("a", "") == "Basic YTo=");
        CHECK(basic_authorization("ab", "c") == "Basic YWI6Yw==");
        CHECK(basic_authorization("user", "pässwörd") == "Basic dXNlcjpww6Rzc3fDtnJk");
    }

    TEST_CASE("reason labels and messages")
    {
        CHECK(std::string(reason_label(make_error_code(Errc::timeout))) == "timeout");
        CHECK(std::string(reason_label(make_error_code(Errc::connect_failed))) == "connect");
        CHECK(std::string(reason_label(make_error_code(Errc::resolve_failed))) == "resolve");
        CHECK(std::string(reason_label(make_error_code(Errc::tls_failed))) == "tls");
        CHECK(std::string(reason_label(make_error_code(Errc::connection_closed))) == "closed");
        CHECK(std::string(reason_label(make_error_code(Errc::protocol_error))) == "protocol");
        CHECK(std::string(reason_label(make_error_code(Errc::body_too_large))) == "body_too_large");
        CHECK(std::string(reason_label(make_error_code(Errc::cancelled))) == "cancelled");
        CHECK(std::string(reason_label(make_error_code(Errc::invalid_url))) == "invalid_url");
        CHECK(std::string(reason_label(asio::error::connection_reset)) == "network");

        const boost::system::error_code ec = Errc::timeout;  // is_error_code_enum
        CHECK(ec.category() == error_category());
        CHECK(ec.message().find("timeout") != std::string::npos);
        CHECK(std::string(error_category().name()) == "c4c.http");
    }

}  // TEST_SUITE
