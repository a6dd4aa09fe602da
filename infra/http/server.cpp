#include "infra/http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <stdexcept>
#include <unordered_map>

namespace c4c::infra::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto k_use_tuple = net::as_tuple(net::use_awaitable);
/// After an error answer, how long unread request bytes are drained before the socket is closed:
/// closing with unread input would reset the connection and the client might never see the answer.
constexpr std::chrono::milliseconds k_linger{1000};
constexpr std::size_t k_linger_max_bytes = 1u << 20;

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

tcp::endpoint parse_listen(const std::string& listen)
{
    std::string host;
    std::string port;
    if (!listen.empty() && listen.front() == '[') {
        auto close = listen.find(']');
        if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
            throw std::runtime_error("cannot listen on \"" + listen + "\": expected [v6-address]:port");
        }
        host = listen.substr(1, close - 1);
        port = listen.substr(close + 2);
    } else {
        auto colon = listen.rfind(':');
        if (colon == std::string::npos) {
            throw std::runtime_error("cannot listen on \"" + listen + "\": expected host:port");
        }
        host = listen.substr(0, colon);
        port = listen.substr(colon + 1);
    }
    unsigned long port_number = 0;
    try {
        std::size_t used = 0;
        port_number = std::stoul(port, &used);
        if (used != port.size() || port_number > 65535) {
            throw std::invalid_argument(port);
        }
    } catch (const std::exception&) {
        throw std::runtime_error("cannot listen on \"" + listen + "\": bad port \"" + port + "\"");
    }
    if (host.empty() || host == "*") {
        host = "0.0.0.0";
    }
    boost::system::error_code ec;
    auto address = net::ip::make_address(host, ec);
    if (ec) {
        // A host name such as "localhost": resolve it once, at start-up.
        net::io_context resolve_context;
        tcp::resolver resolver(resolve_context);
        auto results = resolver.resolve(host, port, ec);
        if (ec || results.empty()) {
            throw std::runtime_error("cannot listen on \"" + listen + "\": cannot resolve \"" + host +
                                     "\": " + (ec ? ec.message() : std::string("no address")));
        }
        address = results.begin()->endpoint().address();
    }
    return {address, static_cast<unsigned short>(port_number)};
}

bhttp::response<bhttp::string_body> to_beast(const ServerResponse& r, unsigned version, bool keep_alive)
{
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
    res.set(bhttp::field::server, "c4c-alm-collector");
    if (!r.content_type.empty()) {
        res.set(bhttp::field::content_type, r.content_type);
    }
    for (const auto& [name, value] : r.headers) {
        res.insert(name, value);
    }
    res.body() = r.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

ServerResponse error_response(unsigned status, std::string text)
{
    ServerResponse r;
    r.status = status;
    r.body = std::move(text);
    r.body += '\n';
    r.close = true;
    return r;
}

}  // namespace

std::optional<std::string> ServerRequest::header(std::string_view name) const
{
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) {
            return value;
        }
    }
    return std::nullopt;
}

std::string_view ServerRequest::path() const
{
    std::string_view t = target;
    return t.substr(0, t.find('?'));
}

struct Server::Impl : std::enable_shared_from_this<Impl> {
    struct Connection {
        explicit Connection(tcp::socket socket) : stream(std::move(socket)), timer(stream.get_executor()) {}
        beast::tcp_stream stream;
        net::steady_timer timer;  ///< trickle and hang delays; cancelled by stop()
        /// True until a whole request has arrived, and again between keep-alive requests.
        bool waiting = true;
        std::chrono::steady_clock::time_point waiting_since = std::chrono::steady_clock::now();
        bool evicted = false;  ///< closed to make room; its coroutine has not finished yet
    };

    Impl(net::any_io_executor ex, ServerOptions opts, Handler h)
        : executor(std::move(ex)), options(std::move(opts)), handler(std::move(h)), acceptor(executor)
    {}

    net::any_io_executor executor;
    ServerOptions options;
    Handler handler;
    tcp::acceptor acceptor;
    std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
    std::uint64_t next_id = 0;
    std::size_t evicted_connections = 0;  ///< closed by evict_longest_waiting(), not yet finished
    bool stopped = false;

    void bind()
    {
        auto endpoint = parse_listen(options.listen);
        boost::system::error_code ec;
        acceptor.open(endpoint.protocol(), ec);
        if (!ec) {
            acceptor.set_option(net::socket_base::reuse_address(true), ec);
        }
        if (!ec) {
            acceptor.bind(endpoint, ec);
        }
        if (!ec) {
            acceptor.listen(net::socket_base::max_listen_connections, ec);
        }
        if (ec) {
            throw std::runtime_error("cannot listen on \"" + options.listen + "\": " + ec.message());
        }
    }

    net::awaitable<void> accept_loop()
    {
        auto self = shared_from_this();
        while (!stopped) {
            auto [ec, socket] = co_await acceptor.async_accept(k_use_tuple);
            if (stopped || ec == net::error::operation_aborted) {
                break;
            }
            if (ec) {
                // Out of descriptors or a transient error: back off briefly instead of spinning.
                spdlog::debug("http server: accept failed: {}", ec.message());
                net::steady_timer pause(executor, std::chrono::milliseconds(50));
                co_await pause.async_wait(k_use_tuple);
                continue;
            }
            if (live_connections() >= options.max_connections && !evict_longest_waiting()) {
                boost::system::error_code ignored;
                socket.close(ignored);
                continue;
            }
            auto id = next_id++;
            auto conn = std::make_shared<Connection>(std::move(socket));
            connections.emplace(id, conn);
            net::co_spawn(executor, serve(conn), [self, id](const std::exception_ptr& e) {
                if (auto it = self->connections.find(id); it != self->connections.end()) {
                    if (it->second->evicted) {
                        --self->evicted_connections;
                    }
                    self->connections.erase(it);
                }
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                        spdlog::warn("http server: connection ended with an exception: {}", ex.what());
                    } catch (...) {
                        spdlog::warn("http server: connection ended with an unknown exception");
                    }
                }
            });
        }
    }

    std::size_t live_connections() const { return connections.size() - evicted_connections; }

    // At the bound, the connection that has waited longest for a request (an idle or slow client)
    // makes room for the new one, so that a flood of idle or slowloris connections cannot lock
    // everybody out: a fresh client gets a connection as long as some held one is not being served.
    bool evict_longest_waiting()
    {
        Connection* oldest = nullptr;
        for (auto& [id, conn] : connections) {
            if (conn->waiting && !conn->evicted && (!oldest || conn->waiting_since < oldest->waiting_since)) {
                oldest = conn.get();
            }
        }
        if (!oldest) {
            return false;
        }
        oldest->evicted = true;
        ++evicted_connections;
        close(*oldest);
        return true;
    }

    static void close(Connection& conn)
    {
        boost::system::error_code ignored;
        conn.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        conn.stream.socket().close(ignored);
    }

    /// Half-closes, then drains what the client still sends for a short while, then closes.
    net::awaitable<void> lingering_close(Connection& conn)
    {
        boost::system::error_code ec;
        conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        if (!ec && !stopped) {
            conn.stream.expires_after(k_linger);
            std::array<char, 8192> scratch{};
            std::size_t drained = 0;
            while (drained < k_linger_max_bytes) {
                auto [read_ec, n] = co_await conn.stream.async_read_some(net::buffer(scratch), k_use_tuple);
                if (read_ec) {
                    break;
                }
                drained += n;
            }
        }
        close(conn);
    }

    /// Writes `bytes` in slices with delays; false when the write failed or the server stopped.
    net::awaitable<bool> write_body(Connection& conn, std::string_view bytes, const ServerResponse& r)
    {
        if (r.trickle_bytes == 0) {
            conn.stream.expires_after(options.write_timeout);
            auto [ec, n] = co_await net::async_write(conn.stream, net::buffer(bytes.data(), bytes.size()), k_use_tuple);
            co_return !ec;
        }
        std::size_t offset = 0;
        while (offset < bytes.size()) {
            if (offset > 0 && r.trickle_delay.count() > 0) {
                conn.timer.expires_after(r.trickle_delay);
                co_await conn.timer.async_wait(k_use_tuple);
                if (stopped) {
                    co_return false;
                }
            }
            auto slice = std::min(r.trickle_bytes, bytes.size() - offset);
            conn.stream.expires_after(options.write_timeout);
            auto [ec, n] =
                co_await net::async_write(conn.stream, net::buffer(bytes.data() + offset, slice), k_use_tuple);
            if (ec) {
                co_return false;
            }
            offset += slice;
        }
        co_return true;
    }

    /// Writes the response honouring the test hooks; false when the connection must be closed.
    net::awaitable<bool> write_response(Connection& conn, const ServerResponse& r, unsigned version, bool keep_alive)
    {
        auto res = to_beast(r, version, keep_alive);
        bool hooked = r.trickle_bytes > 0 || r.truncate_after.has_value();
        if (!hooked) {
            conn.stream.expires_after(options.write_timeout);
            auto [ec, n] = co_await bhttp::async_write(conn.stream, res, k_use_tuple);
            co_return !ec && keep_alive;
        }
        // Header first (its Content-Length announces the full body), then the body raw.
        bhttp::response_serializer<bhttp::string_body> serializer{res};
        conn.stream.expires_after(options.write_timeout);
        auto [ec, n] = co_await bhttp::async_write_header(conn.stream, serializer, k_use_tuple);
        if (ec) {
            co_return false;
        }
        std::string_view body = r.body;
        if (r.truncate_after) {
            body = body.substr(0, std::min(*r.truncate_after, body.size()));
        }
        bool ok = co_await write_body(conn, body, r);
        co_return ok&& keep_alive && !r.truncate_after;
    }

    net::awaitable<void> serve(std::shared_ptr<Connection> conn_ptr)
    {
        auto self = shared_from_this();
        Connection& conn = *conn_ptr;
        beast::flat_buffer buffer;
        bool first = true;
        while (!stopped && !conn.evicted) {
            conn.waiting = true;
            conn.waiting_since = std::chrono::steady_clock::now();
            if (!first && buffer.size() == 0) {
                // Between keep-alive requests: wait up to idle_timeout for the next request to start.
                conn.stream.expires_after(options.idle_timeout);
                auto [ec, n] = co_await conn.stream.async_read_some(buffer.prepare(4096), k_use_tuple);
                if (ec) {
                    break;
                }
                buffer.commit(n);
            }
            first = false;

            bhttp::request_parser<bhttp::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
            parser.body_limit(options.max_body_bytes);
            conn.stream.expires_after(options.read_timeout);
            auto [hec, hn] = co_await bhttp::async_read_header(conn.stream, buffer, parser, k_use_tuple);
            boost::system::error_code ec = hec;
            if (!ec) {
                auto expect = parser.get()[bhttp::field::expect];
                if (iequals(expect, "100-continue") && !parser.is_done()) {
                    static constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
                    auto [wec, wn] = co_await net::async_write(
                        conn.stream, net::buffer(k_continue.data(), k_continue.size()), k_use_tuple);
                    ec = wec;
                }
            }
            if (!ec && !parser.is_done()) {
                auto [bec, bn] = co_await bhttp::async_read(conn.stream, buffer, parser, k_use_tuple);
                ec = bec;
            }
            if (ec) {
                if (stopped || conn.evicted) {
                    break;
                }
                std::optional<ServerResponse> answer;
                if (ec == bhttp::error::header_limit) {
                    answer = error_response(431, "request header fields too large");
                } else if (ec == bhttp::error::body_limit) {
                    answer = error_response(413, "payload too large");
                } else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout && ec != net::error::eof &&
                           ec != net::error::connection_reset && ec != net::error::operation_aborted &&
                           ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
                    answer = error_response(400, "bad request");
                }
                if (answer) {
                    co_await write_response(conn, *answer, 11, false);
                    co_await lingering_close(conn);
                }
                break;
            }

            conn.waiting = false;
            auto& message = parser.get();
            ServerRequest request;
            request.method = std::string(message.method_string());
            request.target = std::string(message.target());
            for (const auto& field : message) {
                request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
            }
            request.body = std::move(message.body());
            bool keep_alive = message.keep_alive();
            unsigned version = message.version();

            ServerResponse response;
            try {
                response = co_await handler(std::move(request));
            } catch (const std::exception& e) {
                spdlog::warn("http server: handler failed: {}", e.what());
                response = error_response(500, "internal server error");
                response.close = false;
            } catch (...) {
                spdlog::warn("http server: handler failed with an unknown exception");
                response = error_response(500, "internal server error");
                response.close = false;
            }
            if (stopped) {
                break;
            }
            if (response.hang) {
                conn.timer.expires_after(*response.hang);
                co_await conn.timer.async_wait(k_use_tuple);
                break;
            }
            bool again = co_await write_response(conn, response, version, keep_alive && !response.close);
            if (!again) {
                if (!response.truncate_after) {
                    boost::system::error_code ignored;
                    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
                }
                break;
            }
        }
        close(conn);
    }

    void stop()
    {
        if (stopped) {
            return;
        }
        stopped = true;
        boost::system::error_code ignored;
        acceptor.close(ignored);
        for (auto& [id, conn] : connections) {
            conn->timer.cancel();
            close(*conn);
        }
    }
};

Server::Server(net::any_io_executor executor, ServerOptions options, Handler handler)
    : m_impl(std::make_shared<Impl>(std::move(executor), std::move(options), std::move(handler)))
{
    m_impl->bind();
}

Server::~Server()
{
    stop();
}

void Server::start()
{
    auto impl = m_impl;
    net::co_spawn(impl->executor, impl->accept_loop(), [](const std::exception_ptr& e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("http server: accept loop ended: {}", ex.what());
            } catch (...) {
                spdlog::error("http server: accept loop ended with an unknown exception");
            }
        }
    });
}

void Server::stop()
{
    if (m_impl) {
        m_impl->stop();
    }
}

tcp::endpoint Server::local_endpoint() const
{
    boost::system::error_code ec;
    return m_impl->acceptor.local_endpoint(ec);
}

std::size_t Server::open_connections() const
{
    return m_impl->connections.size();
}

}  // namespace c4c::infra::http
