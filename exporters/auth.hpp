#pragma once

// Credentials for Cloud ALM endpoints (CONTRACT.md section 4): HTTP Basic, or OAuth2 client
// credentials with a cached token. Runs on the event loop of the http::Client it is given; not
// thread-safe. Never logs or formats a token, password or client secret.

#include "exporters/endpoint_config.hpp"
#include "exporters/exporter.hpp"
#include "infra/http/client.hpp"
#include "infra/http/url.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace c4c::exporters {

/// Why no Authorization header could be produced.
struct AuthFailure {
    AuthFailure() = default;  // not an aggregate, so that result<std::string, AuthFailure> converts from a string
    SendFailure reason;       ///< auth, token_status (token_http_<code>), network or cancelled
    std::string message;      ///< one line naming the use case and token_url host; never a secret
    bool transient = false;   ///< worth retrying soon (network, 408/429/5xx); otherwise credentials or config are wrong
    bool cancelled = false;   ///< the request was cancelled (shutdown)
};

/// For result<T, AuthFailure>::value(): throws std::runtime_error(message).
[[noreturn]] void throw_exception_from_error(const AuthFailure& failure, const boost::source_location& location);

/// An Authorization header value, or why there is none.
using AuthResult = boost::system::result<std::string, AuthFailure>;

/// What a token endpoint granted.
struct TokenAnswer {
    std::string access_token;                  ///< never empty
    std::chrono::duration<double> lifetime{};  ///< expires_in, within [0 s, 1e9 s]
};

/// Reads a token endpoint's answer (RFC 6749 sections 5.1 and 5.2) from its HTTP `status` and `body`,
/// without the exchange. `expires_in` may be a number or a numeric string; `default_lifetime` when it is
/// absent or unreadable. Failures as TokenSource::authorization() reports them: auth (the client was
/// refused, or a 2xx without a JSON object, an access_token or a bearer token_type) or token_status
/// ("token_http_<code>", transient for 408, 429, 5xx); their message is the part after "OAuth2 token
/// request to <host> " and names `client_id` when the client was refused. One line, never the token.
/// Never throws.
boost::system::result<TokenAnswer, AuthFailure> parse_token_response(unsigned status, std::string_view body,
                                                                     std::string_view client_id,
                                                                     std::chrono::duration<double> default_lifetime);

struct TokenSourceOptions {
    std::chrono::seconds refresh_margin{60};  ///< refresh this long before expires_in (half the lifetime when shorter)
    std::chrono::seconds default_lifetime{3600};  ///< when the answer has no expires_in
};

/// OAuth2 client credentials (RFC 6749 section 4.4) for one endpoint: POST token_url with
/// `grant_type=client_credentials` and HTTP Basic client_id:client_secret (each form-urlencoded first,
/// section 2.3.1, announced to UAA/XSUAA with `X-CF-ENCODED-CREDENTIALS: true`). The token is cached
/// until `refresh_margin` before it expires.
class TokenSource {
public:
    /// Copies what it needs from `endpoint` (token_url, client_id, client_secret, use_case). `client`
    /// must outlive this object; it reaches the token host with its own keep-alive connection.
    TokenSource(infra::http::Client& client, const EndpointConfig& endpoint, TokenSourceOptions options = {});
    ~TokenSource();
    TokenSource(const TokenSource&) = delete;
    TokenSource& operator=(const TokenSource&) = delete;

    /// "Bearer <token>": the cached token, or a fresh one. Concurrent callers share one in-flight token
    /// request. Failures: token endpoint refused the client (401/403/400 invalid_client: reason "auth"),
    /// other HTTP status ("token_http_<code>"), an answer without access_token or not JSON ("auth"),
    /// network (reason_label of the error). Never throws except on cancellation.
    boost::asio::awaitable<AuthResult> authorization();

    /// Forgets the cached token (after the endpoint answered 401/403) so the next call fetches one.
    void invalidate();

    /// Token requests made so far (answered or not).
    std::size_t fetch_count() const { return m_fetches; }

private:
    struct Flight;
    boost::asio::awaitable<AuthResult> fetch();
    AuthFailure failure(SendFailure reason, std::string what, bool transient) const;

    infra::http::Client& m_client;
    std::string m_use_case;
    std::string m_token_url;
    std::string m_token_host;
    std::string m_client_id;
    infra::Secret m_client_secret;
    TokenSourceOptions m_options;
    std::string m_token;
    std::chrono::steady_clock::time_point m_refresh_at{};
    std::shared_ptr<Flight> m_flight;
    std::size_t m_fetches = 0;
};

/// The Authorization header of one endpoint, whatever its `auth` kind.
class Authorizer {
public:
    Authorizer(infra::http::Client& client, const EndpointConfig& endpoint, TokenSourceOptions options = {});

    /// "Basic ..." (basic), "Bearer ..." (oauth2, see TokenSource::authorization), "" (none).
    boost::asio::awaitable<AuthResult> header();

    /// After a 401/403: drops a cached token. True when the next header() may differ (oauth2).
    bool invalidate();

    AuthKind kind() const { return m_kind; }
    /// The endpoint's token source (oauth2), else nullptr.
    TokenSource* token_source() { return m_token.get(); }

private:
    AuthKind m_kind;
    std::string m_basic;
    std::unique_ptr<TokenSource> m_token;
};

/// Text from a peer (an answer body, an OAuth error) made fit for one log line: control characters
/// become spaces; at most `limit` bytes, cut on a UTF-8 character boundary.
std::string log_excerpt(std::string_view text, std::size_t limit = 200);

/// application/x-www-form-urlencoded encoding of one value (RFC 6749 appendix B): unreserved
/// characters stay, space becomes '+', every other byte %XX.
using infra::http::form_url_encode;

/// The host (and port, when given) of an absolute URL, without user info; the input when unparsable.
std::string url_host(std::string_view url);

}  // namespace c4c::exporters
