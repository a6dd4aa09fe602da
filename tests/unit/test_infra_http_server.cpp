#include "infra/http/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <doctest/doctest.h>

#include "skip.hpp"
#include "timing.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using c4c::infra::http::Server;
using c4c::infra::http::ServerOptions;
using c4c::infra::http::ServerRequest;
using c4c::infra::http::ServerResponse;

namespace {

/// The server on its own io_context thread; the test thread talks to it with blocking sockets.
class TestServer {
public:
    TestServer(ServerOptions options, c4c::infra::http::Handler handler)
        : m_server(std::make_unique<Server>(m_ioc.get_executor(), std::move(options), std::move(handler)))
    {
        m_server->start();
        m_thread = std::thread([this] { m_ioc.run(); });
    }
    ~TestServer()
    {
        net::post(m_ioc, [this] { m_server->stop(); });
        m_thread.join();
    }
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    unsigned short port() const { return m_server->local_endpoint().port(); }
    std::size_t open_connections()
    {
        std::promise<std::size_t> result;
        net::post(m_ioc, [&] { result.set_value(m_server->open_connections()); });
        return result.get_future().get();
    }

private:
    net::io_context m_ioc;
    std::unique_ptr<Server> m_server;
    std::thread m_thread;
};

struct Client {
    net::io_context ioc;
    tcp::socket socket{ioc};
    boost::beast::flat_buffer buffer;

    explicit Client(unsigned short port)
    {
        socket.connect({net::ip::make_address("127.0.0.1"), port});
        // Bound every blocking read so that a broken server fails the test instead of hanging it.
        timeval tv{3, 0};
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    void send(const std::string& raw) { net::write(socket, net::buffer(raw)); }
    bhttp::response<bhttp::string_body> read()
    {
        bhttp::response<bhttp::string_body> res;
        bhttp::read(socket, buffer, res);
        return res;
    }
    bhttp::response<bhttp::string_body> get(const std::string& target)
    {
        send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
        return read();
    }
    /// True when the server closed the connection (EOF or reset) without sending anything.
    bool closed_without_answer()
    {
        char c = 0;
        boost::system::error_code ec;
        auto n = socket.read_some(net::buffer(&c, 1), ec);
        return n == 0 && (ec == net::error::eof || ec == net::error::connection_reset);
    }
};

net::awaitable<ServerResponse> echo(ServerRequest request)
{
    ServerResponse r;
    r.body = request.method + " " + std::string(request.path()) + " " + request.body;
    if (auto h = request.header("x-test")) {
        r.headers.emplace_back("X-Echo", *h);
    }
    co_return r;
}

}  // namespace

TEST_CASE("http server: basic GET")
{
    TestServer server({}, echo);
    Client client(server.port());
    client.send("GET /hello?x=1 HTTP/1.1\r\nHost: test\r\nX-TEST: abc\r\n\r\n");
    auto res = client.read();
    CHECK(res.result_int() == 200);
    CHECK(res.body() == "GET /hello ");
    CHECK(res[bhttp::field::content_type] == "text/plain; charset=utf-8");
    CHECK(res["X-Echo"] == "abc");
}

TEST_CASE("http server: keep-alive serves two requests on one connection")
{
    std::atomic<int> calls{0};
    TestServer server({}, [&](ServerRequest request) -> net::awaitable<ServerResponse> {
        ++calls;
        ServerResponse r;
        r.body = request.target;
        co_return r;
    });
    Client client(server.port());
    auto first = client.get("/one");
    auto second = client.get("/two");
    CHECK(first.body() == "/one");
    CHECK(second.body() == "/two");
    CHECK(second.keep_alive());
    CHECK(calls == 2);
}

TEST_CASE("http server: POST body is passed through")
{
    TestServer server({}, echo);
    Client client(server.port());
    client.send("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(client.read().body() == "POST /p hello");
}

TEST_CASE("http server: oversized header is refused with 431 or a close")
{
    ServerOptions options;
    options.max_header_bytes = 1024;
    TestServer server(options, echo);
    Client client(server.port());
    client.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
    boost::system::error_code ec;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(client.socket, client.buffer, res, ec);
    if (!ec) {
        CHECK(res.result_int() == 431);
        CHECK(!res.keep_alive());
    } else {
        CHECK((ec == net::error::eof || ec == net::error::connection_reset || ec == bhttp::error::end_of_stream));
    }
}

TEST_CASE("http server: body too large is refused with 413")
{
    ServerOptions options;
    options.max_body_bytes = 1024;
    TestServer server(options, echo);
    Client client(server.port());
    client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'b'));
    auto res = client.read();
    CHECK(res.result_int() == 413);
    CHECK(client.closed_without_answer());
}

TEST_CASE("http server: a slowloris client is closed after read_timeout")
{
    ServerOptions options;
    options.read_timeout = 300ms;
    TestServer server(options, echo);
    Client client(server.port());
    auto start = std::chrono::steady_clock::now();
    client.send("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ");
    CHECK(client.closed_without_answer());
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 2s);
}

TEST_CASE("http server: an idle keep-alive connection is closed after idle_timeout")
{
    ServerOptions options;
    options.idle_timeout = 200ms;
    TestServer server(options, echo);
    Client client(server.port());
    CHECK(client.get("/").result_int() == 200);
    auto start = std::chrono::steady_clock::now();
    CHECK(client.closed_without_answer());
    CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("http server: at max_connections a new connection replaces the one waiting longest")
{
    ServerOptions options;
    options.max_connections = 3;
    options.read_timeout = 5s;
    TestServer server(options, echo);
    Client a(server.port());
    for (int i = 0; i < 100 && server.open_connections() < 1; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    Client b(server.port());
    Client c(server.port());
    for (int i = 0; i < 100 && server.open_connections() < 3; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    REQUIRE(server.open_connections() == 3);
    // A flood of idle (or slowloris) connections cannot lock a fresh client out: the oldest idle
    // connection makes room, and the newcomer is served.
    Client d(server.port());
    auto start = std::chrono::steady_clock::now();
    CHECK(a.closed_without_answer());  // within the client's 3 s read limit, long before read_timeout
    if (!unit_tests::k_sanitized) {
        CHECK(std::chrono::steady_clock::now() - start < 1s);
    }
    CHECK(d.get("/").result_int() == 200);
    CHECK(b.get("/").result_int() == 200);
    for (int i = 0; i < 100 && server.open_connections() > 3; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    CHECK(server.open_connections() == 3);
}

TEST_CASE("http server: at max_connections with every connection being served, a new one is closed at once")
{
    ServerOptions options;
    options.max_connections = 2;
    std::atomic<int> in_handler{0};
    std::atomic<bool> release{false};  // the handlers answer once the test has seen the new one closed
    TestServer server(options, [&](ServerRequest request) -> net::awaitable<ServerResponse> {
        ++in_handler;
        net::steady_timer timer(co_await net::this_coro::executor);
        for (int i = 0; i < 2000 && !release; ++i) {
            timer.expires_after(5ms);
            co_await timer.async_wait(net::use_awaitable);
        }
        co_return co_await echo(std::move(request));
    });
    Client a(server.port());
    Client b(server.port());
    a.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
    b.send("GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 100 && in_handler < 2; ++i) {
        std::this_thread::sleep_for(5ms);
    }
    REQUIRE(in_handler == 2);
    Client c(server.port());
    // Closed while both handlers are held (they answer only after `release`): it waited for no slot.
    CHECK(c.closed_without_answer());
    release = true;
    // The connections being served are not disturbed.
    CHECK(a.read().result_int() == 200);
    CHECK(b.read().result_int() == 200);
}

TEST_CASE("http server: a handler exception answers 500")
{
    TestServer server({}, [](ServerRequest) -> net::awaitable<ServerResponse> {
        throw std::runtime_error("boom");
        co_return ServerResponse{};
    });
    Client client(server.port());
    CHECK(client.get("/").result_int() == 500);
    CHECK(client.get("/").result_int() == 500);  // the connection survives
}

TEST_CASE("http server: truncate_after announces the full body and closes early")
{
    TestServer server({}, [](ServerRequest) -> net::awaitable<ServerResponse> {
        ServerResponse r;
        r.body = std::string(100, 'x');
        r.truncate_after = 10;
        co_return r;
    });
    Client client(server.port());
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    std::string raw;
    boost::system::error_code ec;
    net::read(client.socket, net::dynamic_buffer(raw), ec);
    CHECK(ec == net::error::eof);
    CHECK(raw.find("Content-Length: 100\r\n") != std::string::npos);
    auto header_end = raw.find("\r\n\r\n");
    REQUIRE(header_end != std::string::npos);
    CHECK(raw.size() - header_end - 4 == 10);
}

TEST_CASE("http server: trickle delivers the whole body slowly")
{
    TestServer server({}, [](ServerRequest) -> net::awaitable<ServerResponse> {
        ServerResponse r;
        r.body = "abcdef";
        r.trickle_bytes = 2;
        r.trickle_delay = 50ms;
        co_return r;
    });
    Client client(server.port());
    auto start = std::chrono::steady_clock::now();
    auto res = client.get("/");
    CHECK(res.body() == "abcdef");
    CHECK(std::chrono::steady_clock::now() - start >= 90ms);
}

TEST_CASE("http server: hang answers nothing and closes afterwards")
{
    TestServer server({}, [](ServerRequest) -> net::awaitable<ServerResponse> {
        ServerResponse r;
        r.hang = 200ms;
        co_return r;
    });
    Client client(server.port());
    auto start = std::chrono::steady_clock::now();
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(client.closed_without_answer());
    CHECK(std::chrono::steady_clock::now() - start >= 150ms);
}

TEST_CASE("http server: an address that cannot be bound throws, naming it")
{
    net::io_context ioc;
    ServerOptions options;
    options.listen = "192.0.2.1:1";  // TEST-NET-1: not a local address
    auto make = [&] { Server s(ioc.get_executor(), options, echo); };
    CHECK_THROWS_WITH_AS(make(), doctest::Contains("192.0.2.1:1"), std::runtime_error);
    options.listen = "nonsense";
    CHECK_THROWS_AS(make(), std::runtime_error);
}

TEST_CASE("http server: binds the IPv6 loopback")
{
    net::io_context ioc;
    ServerOptions options;
    options.listen = "[::1]:0";
    try {
        Server v6(ioc.get_executor(), options, echo);
        CHECK(v6.local_endpoint().address().is_v6());
    } catch (const std::runtime_error& e) {
        unit_tests::skip_test(std::string("no IPv6 loopback here: ") + e.what());  // containers without IPv6
    }
}
