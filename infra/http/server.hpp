#pragma once

// A small HTTP/1.1 server on Beast, hardened for an exposed port: a full listen backlog, a bound on
// concurrent connections (at the bound a new connection replaces the one that has waited longest for
// a request; only when every connection is being served is the new one closed at once), a cap on
// header and body size, a deadline for reading each request (slowloris clients are closed),
// keep-alive with an idle timeout.
// Serves the daemon's /metrics, /healthz, /readyz and the test simulator. Runs on one executor.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace c4c::infra::http {

struct ServerRequest {
    std::string method;  ///< "GET", "POST", ...
    std::string target;  ///< path and query as sent, e.g. "/metrics?x=1"
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  ///< as received (not decompressed)
    /// First header of that name (case-insensitive), or nullopt.
    std::optional<std::string> header(std::string_view name) const;
    /// target without the query string
    std::string_view path() const;
};

struct ServerResponse {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    /// When set, the connection is closed after this response.
    bool close = false;
    /// Test hook (simulator): when set, the response is written in slices of this many bytes with
    /// `trickle_delay` between them; `truncate_after` cuts the body short and closes the connection.
    std::size_t trickle_bytes = 0;
    std::chrono::milliseconds trickle_delay{0};
    std::optional<std::size_t> truncate_after;
    /// Test hook (simulator): when set, nothing is answered and the connection is held open this long.
    std::optional<std::chrono::milliseconds> hang;
};

using Handler = std::function<boost::asio::awaitable<ServerResponse>(ServerRequest)>;

struct ServerOptions {
    std::string listen = "127.0.0.1:0";  ///< host:port; port 0 picks a free one
    std::size_t max_connections = 512;   ///< open connections, evicted ones on their way out aside
    std::size_t max_header_bytes = 16u << 10;
    std::size_t max_body_bytes = 1u << 20;
    std::chrono::milliseconds read_timeout{std::chrono::seconds(10)};  ///< whole request
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};  ///< between keep-alive requests
    std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
};

class Server {
public:
    /// Binds and listens at once; throws std::runtime_error naming the address when it cannot.
    Server(boost::asio::any_io_executor executor, ServerOptions options, Handler handler);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Starts accepting (spawns the accept loop on the executor).
    void start();
    /// Stops accepting and closes every open connection.
    void stop();
    /// The bound address (useful with port 0).
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    std::size_t open_connections() const;

private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;
};

}  // namespace c4c::infra::http
