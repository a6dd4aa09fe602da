#pragma once

// An HTTP/1.1 client on Beast for C4C and Cloud ALM: http:// and https:// (certificate and host name
// always verified, SNI), keep-alive connections reused per host, a bound on concurrent requests, one
// deadline over each whole exchange (connect to last body byte), and a cap on the response body.
// Runs on the executor it was created with (the daemon's single event-loop thread): not thread-safe.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <openssl/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace c4c::infra::http {

enum class Method { get, post };

struct Request {
    Method method = Method::get;
    std::string url;  ///< absolute http:// or https:// URL, query already percent-encoded
    std::vector<std::pair<std::string, std::string>> headers;  ///< e.g. Authorization, Content-Type
    std::string body;
};

struct Response {
    unsigned status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    /// First header of that name (case-insensitive), or nullopt.
    std::optional<std::string> header(std::string_view name) const;
};

/// Why an exchange failed (besides an HTTP status, which is a successful exchange).
enum class Errc {
    invalid_url = 1,
    resolve_failed,
    connect_failed,
    tls_failed,              ///< handshake or certificate verification failed
    timeout,                 ///< the whole-exchange deadline passed
    connection_closed,       ///< the peer closed or reset before a complete response
    protocol_error,          ///< malformed HTTP (bad status line, bad chunked encoding, ...)
    body_too_large,          ///< the response body exceeded ClientOptions::max_body_bytes
    cancelled,               ///< the client was closed or the operation cancelled (shutdown)
    certificate_expired,     ///< the server's certificate (or one in its chain) expired or is not yet valid
    certificate_wrong_host,  ///< the server's certificate names another host
    certificate_untrusted,   ///< the server's certificate chains to no trusted CA (self-signed, ca_file missing)
};
const boost::system::error_category& error_category();
boost::system::error_code make_error_code(Errc e);
/// Short metric-label-friendly name: "timeout", "tls" (every TLS and certificate failure), "connect", ...
const char* reason_label(const boost::system::error_code& ec);

/// A failure value of a type that carries the HTTP status or the client's error beside its kind
/// (collectors::FailureReason, exporters::SendFailure: `Failure(kind)`, `http_status`, `error`).
template <class Failure>
Failure failure_with_status(typename Failure::Kind kind, unsigned status)
{
    Failure failure(kind);
    failure.http_status = status;
    return failure;
}
template <class Failure>
Failure failure_with_error(typename Failure::Kind kind, boost::system::error_code error)
{
    Failure failure(kind);
    failure.error = error;
    return failure;
}

struct ClientOptions {
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};  ///< per whole exchange
    int max_connections = 4;                 ///< concurrent exchanges; further ones wait their turn
    std::size_t max_body_bytes = 64u << 20;  ///< larger responses fail with Errc::body_too_large
    std::string ca_file;                     ///< extra PEM trust anchor besides the system store
    std::string user_agent = "c4c-alm-collector";
    /// A keep-alive connection idle this long is closed, not reused: a page or a batch follows the last
    /// within milliseconds, a poll every minute or more finds it too old to trust anyway (servers close
    /// idle connections after 5-60 s), and over https one holds ~100 KiB while it waits.
    std::chrono::milliseconds idle_limit{std::chrono::seconds(10)};
};

/// One client per peer group (a C4C tenant, or a Cloud ALM endpoint). Redirects are never followed.
/// Adds the system's trust to `store`: OpenSSL's hashed certificate directory (SSL_CERT_DIR, else
/// /usr/lib/ssl/certs, Debian's /etc/ssl/certs), which reads a CA only when a chain first needs it; and the
/// bundle file (SSL_CERT_FILE, else /usr/lib/ssl/cert.pem), parsed whole, only when SSL_CERT_FILE names one
/// or the directory holds no hashed names. A missing bundle is no error (as OpenSSL's default paths).
/// False, with OpenSSL's error queue set, only when the lookups cannot be made.
bool add_system_trust(X509_STORE* store);

/// A store of the system's trust (add_system_trust), made once and shared by every client without a
/// ca_file while any of them holds it. The whole bundle parsed costs ~0.95 MiB each time (30 MiB for ten
/// tenants' clients when each parsed its own). nullptr with `ec` set when it cannot be made. Thread-safe.
std::shared_ptr<X509_STORE> shared_system_store(boost::system::error_code& ec);

class Client {
public:
    /// Throws std::runtime_error when `ca_file` cannot be loaded (start-up only).
    Client(boost::asio::any_io_executor executor, ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Performs one exchange. Any HTTP status is a success; errors are Errc values. A stale pooled
    /// connection that the peer closed is retried once on a fresh connection (requests are idempotent
    /// from the daemon's point of view). Waits for a free slot when max_connections are busy (the wait
    /// counts against the deadline).
    boost::asio::awaitable<boost::system::result<Response>> send(Request request);

    /// Closes idle connections and makes pending and future sends fail with Errc::cancelled.
    void close();

    /// Closes the keep-alive connections idle for `idle_limit` or longer, which a send would not reuse.
    /// Sends do this themselves; a client that sends nothing for a while (a source polled every minute)
    /// keeps them until this is called.
    void drop_idle();

    const ClientOptions& options() const;

private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;
};

/// "Basic base64(user:password)".
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace c4c::infra::http

namespace boost::system {
template <>
struct is_error_code_enum<c4c::infra::http::Errc> : std::true_type {};
}  // namespace boost::system
