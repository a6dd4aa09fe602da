#include "exporters/auth.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <stdexcept>

namespace c4c::exporters {

namespace asio = boost::asio;

namespace {

AuthResult auth_error(AuthFailure failure)
{
    return AuthResult(boost::system::in_place_error, std::move(failure));
}

bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

// expires_in is a number in RFC 6749, but some servers send it as a string.
std::optional<double> lifetime_seconds(const nlohmann::json& value)
{
    if (value.is_number()) {
        return value.get<double>();
    }
    if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        double seconds = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
        if (ec == std::errc{} && ptr == text.data() + text.size()) {
            return seconds;
        }
    }
    return std::nullopt;
}

// "error" and "error_description" of an RFC 6749 section 5.2 answer, for the operator.
std::string oauth_error_text(std::string_view body)
{
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
        return {};
    }
    std::string text;
    if (auto it = json.find("error"); it != json.end() && it->is_string()) {
        text = log_excerpt(it->get_ref<const std::string&>(), 80);
    }
    if (auto it = json.find("error_description"); it != json.end() && it->is_string()) {
        text += (text.empty() ? "" : ": ") + log_excerpt(it->get_ref<const std::string&>(), 160);
    }
    return text;
}

}  // namespace

void throw_exception_from_error(const AuthFailure& failure, const boost::source_location&)
{
    throw std::runtime_error(failure.message);
}

boost::system::result<TokenAnswer, AuthFailure> parse_token_response(unsigned status, std::string_view body,
                                                                     std::string_view client_id,
                                                                     std::chrono::duration<double> default_lifetime)
{
    auto refused = [](SendFailure reason, std::string message, bool transient) {
        AuthFailure f;
        f.reason = reason;
        f.message = std::move(message);
        f.transient = transient;
        return boost::system::result<TokenAnswer, AuthFailure>(boost::system::in_place_error, std::move(f));
    };
    if (status < 200 || status >= 300) {
        const std::string oauth_error = oauth_error_text(body);
        const std::string detail = oauth_error.empty() ? "" : fmt::format(" ({})", oauth_error);
        const bool client_refused = status == 401 || status == 403 ||
                                    (status == 400 && (oauth_error.starts_with("invalid_client") ||
                                                       oauth_error.starts_with("unauthorized_client")));
        if (client_refused) {
            return refused(SendFailure::Kind::auth,
                           fmt::format("was refused with HTTP {}{}: check client_id '{}' and the client secret", status,
                                       detail, client_id),
                           false);
        }
        const bool transient = status == 408 || status == 429 || status >= 500;
        return refused(SendFailure::token_http(status),
                       fmt::format("answered HTTP {}{}{}", status, detail, transient ? "" : ": check token_url"),
                       transient);
    }

    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
        return refused(SendFailure::Kind::auth,
                       "answered with something that is not a JSON object: check that token_url is the /oauth/token "
                       "URL of the service key",
                       false);
    }
    auto token = json.find("access_token");
    if (token == json.end() || !token->is_string() || token->get_ref<const std::string&>().empty()) {
        return refused(SendFailure::Kind::auth, "answered without an access_token: check token_url", false);
    }
    if (auto type = json.find("token_type"); type != json.end()) {
        if (!type->is_string() || !iequals(type->get_ref<const std::string&>(), "bearer")) {
            return refused(
                SendFailure::Kind::auth,
                fmt::format("answered with token_type {}, only bearer is supported", log_excerpt(type->dump(), 40)),
                false);
        }
    }

    TokenAnswer answer;
    answer.access_token = token->get<std::string>();
    answer.lifetime = default_lifetime;
    if (auto expires = json.find("expires_in"); expires != json.end()) {
        if (auto seconds = lifetime_seconds(*expires)) {
            answer.lifetime = std::chrono::duration<double>(std::max(0.0, std::min(*seconds, 1e9)));
        }
    }
    return answer;
}

std::string log_excerpt(std::string_view text, std::size_t limit)
{
    if (text.size() > limit) {
        std::size_t cut = limit;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
            --cut;
        }
        text = text.substr(0, cut);
    }
    std::string out(text);
    for (char& c : out) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            c = ' ';
        }
    }
    return out;
}

std::string url_host(std::string_view url)
{
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) {
        return std::string(url);
    }
    std::string_view rest = url.substr(scheme + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        rest.remove_prefix(at + 1);
    }
    return std::string(rest);
}

// One token request shared by every caller that asks while it is in flight: they wait on `done`, which
// the fetching caller cancels once `outcome` is set.
struct TokenSource::Flight {
    explicit Flight(const asio::any_io_executor& executor) : done(executor, asio::steady_timer::time_point::max()) {}
    asio::steady_timer done;
    std::optional<AuthResult> outcome;
};

TokenSource::TokenSource(infra::http::Client& client, const EndpointConfig& endpoint, TokenSourceOptions options)
    : m_client(client),
      m_use_case(endpoint.use_case),
      m_token_url(endpoint.token_url),
      m_token_host(url_host(endpoint.token_url)),
      m_client_id(endpoint.client_id),
      m_client_secret(endpoint.client_secret),
      m_options(options)
{}

TokenSource::~TokenSource() = default;

AuthFailure TokenSource::failure(SendFailure reason, std::string what, bool transient) const
{
    AuthFailure f;
    f.reason = reason;
    f.message = fmt::format("endpoint {}: OAuth2 token request to {} {}", m_use_case, m_token_host, what);
    f.transient = transient;
    return f;
}

void TokenSource::invalidate()
{
    m_token.clear();
    m_refresh_at = {};
}

asio::awaitable<AuthResult> TokenSource::authorization()
{
    if (!m_token.empty() && std::chrono::steady_clock::now() < m_refresh_at) {
        co_return "Bearer " + m_token;
    }
    if (auto flight = m_flight) {
        co_await flight->done.async_wait(asio::as_tuple(asio::use_awaitable));
        if (flight->outcome) {
            co_return *flight->outcome;
        }
        AuthFailure cancelled = failure(SendFailure::Kind::cancelled, "was cancelled", true);
        cancelled.cancelled = true;
        co_return auth_error(std::move(cancelled));
    }

    auto flight = std::make_shared<Flight>(co_await asio::this_coro::executor);
    m_flight = flight;
    // Waiters must be released even when this coroutine is cancelled or destroyed mid-request.
    struct Release {
        TokenSource& self;
        std::shared_ptr<Flight> flight;
        ~Release()
        {
            if (self.m_flight == flight) {
                self.m_flight.reset();
            }
            flight->done.cancel();
        }
    } release{*this, flight};

    AuthResult outcome = co_await fetch();
    flight->outcome = outcome;
    co_return outcome;
}

asio::awaitable<AuthResult> TokenSource::fetch()
{
    ++m_fetches;
    infra::http::Request request;
    request.method = infra::http::Method::post;
    request.url = m_token_url;
    request.headers.emplace_back(
        "Authorization",
        infra::http::basic_authorization(form_url_encode(m_client_id), form_url_encode(m_client_secret.reveal())));
    // UAA/XSUAA (SAP BTP) decode form-encoded client credentials only when told so; without this header
    // a client secret with '+' or an id with '|' and '!' (every XSUAA id) would be refused in its
    // compatibility mode. Other servers ignore it.
    request.headers.emplace_back("X-CF-ENCODED-CREDENTIALS", "true");
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    request.headers.emplace_back("Accept", "application/json");
    request.body = "grant_type=client_credentials";

    const auto started = std::chrono::steady_clock::now();
    auto reply = co_await m_client.send(std::move(request));
    if (!reply) {
        const auto& ec = reply.error();
        if (ec == infra::http::Errc::cancelled) {
            AuthFailure cancelled = failure(SendFailure::Kind::cancelled, "was cancelled", true);
            cancelled.cancelled = true;
            co_return auth_error(std::move(cancelled));
        }
        co_return auth_error(failure(SendFailure::network(ec), fmt::format("failed: {}", ec.message()), true));
    }

    auto answer = parse_token_response(reply->status, reply->body, m_client_id, m_options.default_lifetime);
    if (!answer) {
        AuthFailure refused = answer.error();
        co_return auth_error(failure(refused.reason, std::move(refused.message), refused.transient));
    }
    const std::chrono::duration<double> lifetime = answer->lifetime;
    // Counted from when the request left, so that the token is never used past its real expiry.
    const std::chrono::duration<double> margin = lifetime > 2 * std::chrono::duration<double>(m_options.refresh_margin)
                                                     ? std::chrono::duration<double>(m_options.refresh_margin)
                                                     : lifetime / 2;
    m_token = std::move(answer->access_token);
    m_refresh_at = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(lifetime - margin);
    co_return "Bearer " + m_token;
}

Authorizer::Authorizer(infra::http::Client& client, const EndpointConfig& endpoint, TokenSourceOptions options)
    : m_kind(endpoint.auth)
{
    if (m_kind == AuthKind::basic) {
        m_basic = infra::http::basic_authorization(endpoint.user, endpoint.password.reveal());
    } else if (m_kind == AuthKind::oauth2) {
        m_token = std::make_unique<TokenSource>(client, endpoint, options);
    }
}

asio::awaitable<AuthResult> Authorizer::header()
{
    if (m_token) {
        co_return co_await m_token->authorization();
    }
    co_return m_basic;
}

bool Authorizer::invalidate()
{
    if (m_token) {
        m_token->invalidate();
        return true;
    }
    return false;
}

}  // namespace c4c::exporters
