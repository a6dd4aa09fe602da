// GCC 12 reports -Wnull-dereference inside Asio's scheduler (a false positive in system headers that
// the usual system-header suppression misses once the code is inlined); the pragma has to come before
// every include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "infra/http/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace c4c::infra::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto k_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t k_header_limit = 64 * 1024;

using Message = bhttp::request<bhttp::string_body>;

// boost::system::error_category's destructor is protected and non-virtual by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class Category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "c4c.http"; }
    std::string message(int value) const override
    {
        switch (static_cast<Errc>(value)) {
        case Errc::invalid_url:
            return "invalid URL (an absolute http:// or https:// URL is expected)";
        case Errc::resolve_failed:
            return "host name could not be resolved";
        case Errc::connect_failed:
            return "could not connect to the host";
        case Errc::tls_failed:
            return "TLS handshake or certificate verification failed";
        case Errc::timeout:
            return "the exchange did not complete within the timeout";
        case Errc::connection_closed:
            return "the connection closed before a complete response";
        case Errc::protocol_error:
            return "malformed HTTP response";
        case Errc::body_too_large:
            return "response body exceeds the configured limit";
        case Errc::cancelled:
            return "cancelled (the client was closed)";
        case Errc::certificate_expired:
            return "TLS certificate rejected: certificate has expired or is not yet valid; nothing was sent";
        case Errc::certificate_wrong_host:
            return "TLS certificate rejected: certificate does not match the host name; nothing was sent";
        case Errc::certificate_untrusted:
            return "TLS certificate rejected: certificate is not trusted (self-signed or unknown CA; ca_file names "
                   "an extra CA); nothing was sent";
        }
        return "unknown HTTP client error";
    }
};
#pragma GCC diagnostic pop

/// Where a request goes, taken from its URL.
struct Endpoint {
    bool tls = false;
    std::string host;         ///< without IPv6 brackets: for the resolver, SNI and certificate checks
    bool host_is_ip = false;  ///< no resolver, no SNI
    std::uint16_t port = 0;
    std::string host_header;  ///< as in the URL, with ":port" when not the scheme's default
    std::string target;       ///< path and query, as encoded in the URL

    std::string origin() const { return (tls ? "https://" : "http://") + host_header; }
};

struct PoolKey {
    bool tls = false;
    std::string host;
    std::uint16_t port = 0;
    auto operator<=>(const PoolKey&) const = default;
};

boost::system::result<Endpoint> parse_endpoint(std::string_view url)
{
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) {
        return make_error_code(Errc::invalid_url);
    }
    const boost::urls::url_view& u = *parsed;
    Endpoint e;
    if (u.scheme_id() == boost::urls::scheme::https) {
        e.tls = true;
    } else if (u.scheme_id() != boost::urls::scheme::http) {
        return make_error_code(Errc::invalid_url);
    }
    switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
        e.host = u.host_ipv4_address().to_string();
        e.host_is_ip = true;
        break;
    case boost::urls::host_type::ipv6:
        e.host = u.host_ipv6_address().to_string();
        e.host_is_ip = true;
        break;
    case boost::urls::host_type::name:
        e.host = u.host_name();
        break;
    default:
        return make_error_code(Errc::invalid_url);
    }
    if (e.host.empty()) {
        return make_error_code(Errc::invalid_url);
    }
    const std::uint16_t default_port = e.tls ? 443 : 80;
    e.port = default_port;
    if (u.has_port() && !u.port().empty()) {
        const std::string_view digits = u.port();
        unsigned port = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        if (ec != std::errc{} || end != digits.data() + digits.size() || port == 0 || port > 65535) {
            return make_error_code(Errc::invalid_url);
        }
        e.port = static_cast<std::uint16_t>(port);
    }
    e.host_header = std::string(u.encoded_host());
    if (e.port != default_port) {
        e.host_header += ":" + std::to_string(e.port);
    }
    e.target = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
    if (u.has_query()) {
        e.target += "?";
        e.target += u.encoded_query();
    }
    return e;
}

Message build_message(Request& request, const Endpoint& endpoint, const ClientOptions& options)
{
    Message m{request.method == Method::post ? bhttp::verb::post : bhttp::verb::get, endpoint.target, 11};
    m.set(bhttp::field::host, endpoint.host_header);
    m.set(bhttp::field::user_agent, options.user_agent);
    m.set(bhttp::field::connection, "keep-alive");
    for (const auto& [name, value] : request.headers) {
        const auto field = bhttp::string_to_field(name);
        if (field == bhttp::field::host || field == bhttp::field::user_agent || field == bhttp::field::connection) {
            m.set(name, value);
        } else {
            m.insert(name, value);
        }
    }
    m.body() = std::move(request.body);
    m.prepare_payload();  // Content-Length for every POST (0 included), none for a bodiless GET
    return m;
}

/// The step an error happened in decides what it means.
enum class Step { resolve, connect, handshake, exchange };

Errc classify(const error_code& ec, Step step)
{
    if (ec == beast::error::timeout) {
        return Errc::timeout;
    }
    if (ec == asio::error::operation_aborted) {
        return Errc::cancelled;
    }
    switch (step) {
    case Step::resolve:
        return Errc::resolve_failed;
    case Step::connect:
        return Errc::connect_failed;
    case Step::handshake:
        return Errc::tls_failed;
    case Step::exchange:
        break;
    }
    if (ec == bhttp::error::body_limit) {
        return Errc::body_too_large;
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
        return Errc::connection_closed;
    }
    if (ec.category() == make_error_code(bhttp::error::end_of_stream).category()) {
        return Errc::protocol_error;  // bad status line, bad chunk, header_limit, ...
    }
    return Errc::connection_closed;  // eof, reset, broken pipe, TLS record errors
}

/// A certificate verification error (X509_V_ERR_*) as the Errc that tells the operator what to fix.
Errc certificate_failure(int x509_error)
{
    switch (x509_error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
        return Errc::certificate_expired;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return Errc::certificate_untrusted;
    default:
        return Errc::tls_failed;
    }
}

// The peer closed an idle keep-alive connection just as we reused it: worth one more try.
bool is_stale_connection(const error_code& ec)
{
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
           ec == ssl::error::stream_truncated;
}

/// A FIFO counting semaphore for coroutines on one executor.
class Slots {
public:
    explicit Slots(int count) : m_free(std::max(count, 1)) {}

    /// Empty on success; Errc::timeout at the deadline; Errc::cancelled after cancel_all().
    asio::awaitable<error_code> acquire(Clock::time_point deadline)
    {
        if (m_cancelled) {
            co_return Errc::cancelled;
        }
        if (m_free > 0 && m_waiters.empty()) {
            --m_free;
            co_return error_code{};
        }
        Waiter waiter(*this, co_await asio::this_coro::executor, deadline);
        auto [ec] = co_await waiter.timer.async_wait(k_nothrow);
        if (waiter.granted) {
            co_return error_code{};
        }
        co_return ec ? Errc::cancelled : Errc::timeout;
    }

    /// Hands the slot to the longest waiter, if any.
    void release()
    {
        if (m_waiters.empty()) {
            ++m_free;
            return;
        }
        Waiter* next = m_waiters.front();
        m_waiters.pop_front();
        next->granted = true;
        next->timer.cancel();
    }

    void cancel_all()
    {
        m_cancelled = true;
        for (Waiter* waiter : std::exchange(m_waiters, {})) {
            waiter->timer.cancel();
        }
    }

private:
    // Queued while alive, so that a coroutine frame destroyed mid-wait (io_context teardown) leaves
    // no dangling entry behind.
    struct Waiter {
        Waiter(Slots& owner, const asio::any_io_executor& executor, Clock::time_point deadline)
            : slots(owner), timer(executor, deadline)
        {
            slots.m_waiters.push_back(this);
        }
        ~Waiter() { std::erase(slots.m_waiters, this); }
        Waiter(const Waiter&) = delete;
        Waiter& operator=(const Waiter&) = delete;

        Slots& slots;
        asio::steady_timer timer;
        bool granted = false;
    };
    int m_free;
    std::deque<Waiter*> m_waiters;
    bool m_cancelled = false;
};

class SlotLease {
public:
    explicit SlotLease(Slots& slots) : m_slots(slots) {}
    ~SlotLease() { m_slots.release(); }
    SlotLease(const SlotLease&) = delete;
    SlotLease& operator=(const SlotLease&) = delete;

private:
    Slots& m_slots;
};

// The resolver runs getaddrinfo on a helper thread that cannot be interrupted, so the exchange waits
// on a timer instead and abandons a lookup that outlives the deadline; this state outlives both.
struct ResolveWait {
    ResolveWait(const asio::any_io_executor& executor, Clock::time_point deadline)
        : resolver(executor), timer(executor, deadline)
    {}
    tcp::resolver resolver;
    asio::steady_timer timer;
    bool done = false;
    error_code ec;
    tcp::resolver::results_type results;
};

struct RoundTrip {
    error_code ec;
    bool nothing_received = true;  ///< on failure: not a byte of the response arrived
    bool reusable = false;         ///< on success: the connection may serve another request
    Response response;
};

/// One TCP (or TLS over TCP) connection to one endpoint.
class Connection {
public:
    Connection(const asio::any_io_executor& executor, ssl::context& tls, const Endpoint& endpoint)
        : key{endpoint.tls, endpoint.host, endpoint.port}
    {
        if (endpoint.tls) {
            m_secure.emplace(executor, tls);
        } else {
            m_plain.emplace(executor);
        }
    }

    const PoolKey key;
    Clock::time_point idle_since{};

    beast::tcp_stream& tcp() { return m_secure ? beast::get_lowest_layer(*m_secure) : *m_plain; }

    /// Calls `operation` with the TLS or the plain stream; both branches yield the same awaitable type.
    template <class Operation>
    auto with_stream(Operation&& operation)
    {
        return m_secure ? operation(*m_secure) : operation(*m_plain);
    }

    /// Resolves, connects and (for https) handshakes, all before `deadline`. Returns an Errc.
    asio::awaitable<error_code> open(const Endpoint& endpoint, Clock::time_point deadline)
    {
        std::vector<tcp::endpoint> addresses;
        if (endpoint.host_is_ip) {
            error_code ec;
            const auto address = asio::ip::make_address(endpoint.host, ec);
            if (ec) {
                co_return Errc::invalid_url;
            }
            addresses.emplace_back(address, endpoint.port);
        } else {
            auto resolved = co_await resolve(endpoint, deadline);
            if (!resolved) {
                co_return resolved.error();
            }
            addresses = std::move(*resolved);
        }

        tcp().expires_at(deadline);
        if (auto [ec, connected] = co_await tcp().async_connect(addresses, k_nothrow); ec) {
            spdlog::debug("http: connect to {} failed: {}", endpoint.origin(), ec.message());
            co_return classify(ec, Step::connect);
        }
        error_code ignored;
        tcp().socket().set_option(tcp::no_delay(true), ignored);
        if (!m_secure) {
            co_return error_code{};
        }

        if (!endpoint.host_is_ip && SSL_set_tlsext_host_name(m_secure->native_handle(), endpoint.host.c_str()) != 1) {
            co_return Errc::tls_failed;
        }
        m_secure->set_verify_mode(ssl::verify_peer);
        m_secure->set_verify_callback(
            [this, check = ssl::host_name_verification(endpoint.host)](bool preverified, ssl::verify_context& ctx) {
                if (!preverified) {
                    const int error = X509_STORE_CTX_get_error(ctx.native_handle());
                    m_verify_error = X509_verify_cert_error_string(error);
                    m_rejected = certificate_failure(error);
                    return false;
                }
                if (!check(preverified, ctx)) {
                    m_verify_error = "certificate does not match the host name";
                    m_rejected = Errc::certificate_wrong_host;
                    return false;
                }
                return true;
            });
        if (auto [ec] = co_await m_secure->async_handshake(ssl::stream_base::client, k_nothrow); ec) {
            spdlog::debug("http: TLS handshake with {} failed: {}{}{}", endpoint.origin(), ec.message(),
                          m_verify_error.empty() ? "" : ": ", m_verify_error);
            // The verification failure says what to fix; the handshake error itself does not.
            if (m_rejected && ec != beast::error::timeout && ec != asio::error::operation_aborted) {
                co_return *m_rejected;
            }
            co_return classify(ec, Step::handshake);
        }
        co_return error_code{};
    }

    /// Writes the request and reads the whole response under the deadline set by the caller.
    asio::awaitable<RoundTrip> round_trip(const Message& message, std::size_t max_body_bytes)
    {
        RoundTrip result;
        auto [write_ec, written] =
            co_await with_stream([&](auto& stream) { return bhttp::async_write(stream, message, k_nothrow); });
        if (write_ec) {
            result.ec = write_ec;
            co_return result;
        }

        bhttp::response_parser<bhttp::string_body> parser;
        parser.header_limit(k_header_limit);
        parser.body_limit(max_body_bytes);
        // Beast reads at most the buffer's free capacity (at least 512 bytes) per call: a 1 MB page took some
        // 700 reads, each with a timer update and an epoll round trip; 16 KiB takes 64. Released again below
        // while the connection is idle, so that hundreds of pooled connections cost nothing.
        m_buffer.reserve(std::size_t{16} * 1024);
        auto [read_ec, read] =
            co_await with_stream([&](auto& stream) { return bhttp::async_read(stream, m_buffer, parser, k_nothrow); });
        if (m_buffer.size() == 0) {
            m_buffer.shrink_to_fit();
        }
        if (read_ec) {
            result.ec = read_ec;
            result.nothing_received = !parser.got_some() && m_buffer.size() == 0;
            co_return result;
        }

        auto response = parser.release();
        // Bytes beyond the response are something we did not ask for: start afresh next time.
        result.reusable = !response.need_eof() && m_buffer.size() == 0;
        result.response.status = response.result_int();
        for (const auto& field : response) {
            result.response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        result.response.body = std::move(response.body());
        co_return result;
    }

    /// Makes the pending operation, if any, fail now (close()).
    void interrupt()
    {
        if (m_resolving) {
            m_resolving->timer.cancel();
        }
        tcp().close();
    }

private:
    asio::awaitable<boost::system::result<std::vector<tcp::endpoint>>> resolve(const Endpoint& endpoint,
                                                                               Clock::time_point deadline)
    {
        auto wait = std::make_shared<ResolveWait>(co_await asio::this_coro::executor, deadline);
        wait->resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), tcp::resolver::numeric_service,
                                     [wait](const error_code& ec, tcp::resolver::results_type results) {
                                         wait->done = true;
                                         wait->ec = ec;
                                         wait->results = std::move(results);
                                         wait->timer.cancel();
                                     });
        m_resolving = wait;
        auto [timer_ec] = co_await wait->timer.async_wait(k_nothrow);
        m_resolving.reset();
        if (!wait->done) {
            wait->resolver.cancel();
            co_return make_error_code(timer_ec ? Errc::cancelled : Errc::timeout);
        }
        if (wait->ec) {
            spdlog::debug("http: resolving {} failed: {}", endpoint.host, wait->ec.message());
            co_return make_error_code(classify(wait->ec, Step::resolve));
        }
        std::vector<tcp::endpoint> addresses;
        for (const auto& entry : wait->results) {
            addresses.push_back(entry.endpoint());
        }
        co_return addresses;
    }

    std::optional<beast::tcp_stream> m_plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> m_secure;
    beast::flat_buffer m_buffer;
    std::shared_ptr<ResolveWait> m_resolving;
    std::string m_verify_error;
    std::optional<Errc> m_rejected;  ///< why the certificate was refused, when it was
};

/// Idle keep-alive connections per (scheme, host, port), dropped after ClientOptions::idle_limit.
class Pool {
public:
    explicit Pool(Clock::duration idle_limit) : m_idle_limit(idle_limit) {}

    std::unique_ptr<Connection> take(const PoolKey& key)
    {
        prune();
        auto found = m_idle.find(key);
        if (found == m_idle.end() || found->second.empty()) {
            return nullptr;
        }
        auto connection = std::move(found->second.back());  // the most recently used is the least likely stale
        found->second.pop_back();
        return connection;
    }

    void put(std::unique_ptr<Connection> connection)
    {
        connection->tcp().expires_never();
        connection->idle_since = Clock::now();
        auto& list = m_idle[connection->key];
        list.push_back(std::move(connection));
        prune();
    }

    void clear() { m_idle.clear(); }

    /// Drops the connections idle for the limit or longer.
    void prune()
    {
        const auto oldest = Clock::now() - m_idle_limit;
        for (auto it = m_idle.begin(); it != m_idle.end();) {
            std::erase_if(it->second, [&](const auto& c) { return c->idle_since < oldest; });
            it = it->second.empty() ? m_idle.erase(it) : std::next(it);
        }
    }

    std::map<PoolKey, std::vector<std::unique_ptr<Connection>>> m_idle;
    Clock::duration m_idle_limit;
};

std::string base64(std::string_view in)
{
    static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const auto n = (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8) |
                       std::uint8_t(in[i + 2]);
        out += k_alphabet[(n >> 18) & 63];
        out += k_alphabet[(n >> 12) & 63];
        out += k_alphabet[(n >> 6) & 63];
        out += k_alphabet[n & 63];
    }
    if (const std::size_t rest = in.size() - i; rest > 0) {
        std::uint32_t n = std::uint32_t(std::uint8_t(in[i])) << 16;
        if (rest == 2) {
            n |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
        }
        out += k_alphabet[(n >> 18) & 63];
        out += k_alphabet[(n >> 12) & 63];
        out += rest == 2 ? k_alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

}  // namespace

namespace {

/// OpenSSL's last error, or "not enough memory" when it recorded none (its allocations fail silently).
error_code last_ssl_error()
{
    const error_code ec(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
    return ec ? ec : make_error_code(boost::system::errc::not_enough_memory);
}

/// Whether one of the directories of `dirs` (':'-separated, as OpenSSL reads SSL_CERT_DIR) holds a
/// certificate under its subject hash ("5ad8a5d6.0"), as c_rehash and update-ca-certificates name them.
bool has_hashed_certificates(std::string_view dirs)
{
    while (!dirs.empty()) {
        const auto colon = dirs.find(':');
        const std::filesystem::path dir(dirs.substr(0, colon));
        dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            const auto dot = name.find('.');
            if (dot == 8 && name.size() > 9 &&
                std::all_of(name.begin(), name.begin() + 8,
                            [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }) &&
                std::all_of(name.begin() + 9, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
                return true;
            }
        }
    }
    return false;
}

}  // namespace

bool add_system_trust(X509_STORE* store)
{
    // OpenSSL's default paths, but the bundle file only when it is asked for or needed: parsed whole, it
    // is ~0.95 MiB of heap (some 150 CAs) for the one or two CAs a daemon's peers chain to, while the
    // hashed directory reads a CA when a chain first needs it (and keeps it in the store).
    const char* file = std::getenv(X509_get_default_cert_file_env());
    const char* dirs = std::getenv(X509_get_default_cert_dir_env());
    if (dirs == nullptr || *dirs == '\0') {
        dirs = X509_get_default_cert_dir();
    }
    X509_LOOKUP* by_dir = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
    if (by_dir == nullptr || X509_LOOKUP_add_dir(by_dir, dirs, X509_FILETYPE_PEM) != 1) {
        return false;
    }
    if ((file != nullptr && *file != '\0') || !has_hashed_certificates(dirs)) {
        X509_LOOKUP* by_file = X509_STORE_add_lookup(store, X509_LOOKUP_file());
        if (by_file == nullptr) {
            return false;
        }
        // As X509_STORE_set_default_paths: a missing or unreadable bundle leaves the directory alone.
        X509_LOOKUP_load_file(by_file, nullptr, X509_FILETYPE_DEFAULT);
        spdlog::debug("http: system trust: the bundle {} and the directory {}",
                      file != nullptr ? file : X509_get_default_cert_file(), dirs);
    } else {
        spdlog::debug("http: system trust: the hashed directory {}, each CA read when a chain first needs it", dirs);
    }
    ::ERR_clear_error();
    return true;
}

std::shared_ptr<X509_STORE> shared_system_store(boost::system::error_code& ec)
{
    static std::mutex mutex;
    static std::weak_ptr<X509_STORE> shared;
    const std::lock_guard lock(mutex);
    if (auto store = shared.lock()) {
        return store;
    }
    std::shared_ptr<X509_STORE> store(X509_STORE_new(), &X509_STORE_free);
    if (!store || !add_system_trust(store.get())) {
        ec = last_ssl_error();
        return nullptr;
    }
    shared = store;
    return store;
}

namespace {

/// The TLS context of a client: the peer's certificate is verified; TLS 1.2 at least.
std::unique_ptr<ssl::context> make_client_context()
{
    auto tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    tls->set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    return tls;
}

/// Clients without a ca_file have the same TLS settings and trust the same store: one context serves
/// them all (OpenSSL's context is ~14 KiB, and a daemon has some forty clients). The store is set at
/// the first https connection of any of them, once.
struct SharedTls {
    std::unique_ptr<ssl::context> context = make_client_context();
    std::once_flag store_once;
    std::shared_ptr<X509_STORE> store;

    /// The shared one while any client holds it. Thread-safe.
    static std::shared_ptr<SharedTls> get()
    {
        static std::mutex mutex;
        static std::weak_ptr<SharedTls> shared;
        const std::lock_guard lock(mutex);
        auto tls = shared.lock();
        if (!tls) {
            tls = std::make_shared<SharedTls>();
            shared = tls;
        }
        return tls;
    }
};

}  // namespace

struct Client::Impl {
    Impl(asio::any_io_executor executor, ClientOptions options)
        : m_executor(std::move(executor)),
          m_options(std::move(options)),
          m_slots(m_options.max_connections),
          m_pool(m_options.idle_limit)
    {
        if (m_options.ca_file.empty()) {
            m_shared_tls = SharedTls::get();
            m_tls = m_shared_tls->context.get();
            return;
        }
        m_own_tls = make_client_context();
        m_tls = m_own_tls.get();
        error_code ec;
        m_tls->load_verify_file(m_options.ca_file, ec);
        if (ec) {
            throw std::runtime_error("cannot load CA file '" + m_options.ca_file + "': " + ec.message() +
                                     " (a PEM file with one or more certificates is expected)");
        }
    }

    asio::awaitable<boost::system::result<Response>> send(Request request)
    {
        const auto deadline = Clock::now() + m_options.timeout;
        if (m_closed) {
            co_return make_error_code(Errc::cancelled);
        }
        auto endpoint = parse_endpoint(request.url);
        if (!endpoint) {
            spdlog::debug("http: invalid URL '{}'", request.url);
            co_return endpoint.error();
        }
        const Message message = build_message(request, *endpoint, m_options);

        if (auto ec = co_await m_slots.acquire(deadline)) {
            co_return ec;
        }
        SlotLease lease{m_slots};
        if (Clock::now() >= deadline) {
            co_return make_error_code(Errc::timeout);
        }
        co_return co_await exchange(*endpoint, message, deadline);
    }

    asio::awaitable<boost::system::result<Response>> exchange(const Endpoint& endpoint, const Message& message,
                                                              Clock::time_point deadline)
    {
        const PoolKey key{endpoint.tls, endpoint.host, endpoint.port};
        for (bool retried = false;; retried = true) {
            if (m_closed) {
                co_return make_error_code(Errc::cancelled);
            }
            auto connection = retried ? nullptr : m_pool.take(key);
            const bool reused = connection != nullptr;
            if (!connection) {
                if (endpoint.tls) {
                    load_system_store();
                }
                connection = std::make_unique<Connection>(m_executor, *m_tls, endpoint);
            }
            Busy busy{*this, *connection};

            if (!reused) {
                if (auto ec = co_await connection->open(endpoint, deadline)) {
                    co_return failure(ec, deadline);
                }
            }
            connection->tcp().expires_at(deadline);
            auto outcome = co_await connection->round_trip(message, m_options.max_body_bytes);
            if (!outcome.ec) {
                if (outcome.reusable && !m_closed) {
                    m_pool.put(std::move(connection));
                }
                co_return std::move(outcome.response);
            }
            if (reused && !retried && outcome.nothing_received && is_stale_connection(outcome.ec) && !m_closed &&
                Clock::now() < deadline) {
                spdlog::debug("http: idle connection to {} was closed by the peer ({}); retrying on a new one",
                              endpoint.origin(), outcome.ec.message());
                continue;
            }
            spdlog::debug("http: {} {}{} failed: {}", message.method_string(), endpoint.origin(), message.target(),
                          outcome.ec.message());
            co_return failure(classify(outcome.ec, Step::exchange), deadline);
        }
    }

    // Parsing the system bundle takes tens of milliseconds: only clients that speak https pay for it.
    // Without a ca_file the client trusts exactly the system store, parsed once for the process and
    // shared (shared_system_store()), through the context it shares; with one, the file's certificates
    // and the system store's are one store of the client's own, as before.
    void load_system_store()
    {
        if (std::exchange(m_system_store_loaded, true)) {
            return;
        }
        error_code ec;
        if (m_shared_tls) {
            std::call_once(m_shared_tls->store_once, [&] {
                m_shared_tls->store = shared_system_store(ec);
                if (m_shared_tls->store) {
                    SSL_CTX_set1_cert_store(m_tls->native_handle(), m_shared_tls->store.get());
                }
            });
        } else if (!add_system_trust(SSL_CTX_get_cert_store(m_tls->native_handle()))) {
            ec = last_ssl_error();
        }
        if (ec) {
            spdlog::warn("http: the system certificate store could not be loaded: {}", ec.message());
        }
    }

    // Once the client is closed or the deadline has passed, whatever the socket reported is secondary.
    error_code failure(error_code ec, Clock::time_point deadline) const
    {
        if (m_closed) {
            return Errc::cancelled;
        }
        if (Clock::now() >= deadline) {
            return Errc::timeout;
        }
        return ec;
    }

    void drop_idle() { m_pool.prune(); }

    void close()
    {
        m_closed = true;
        m_slots.cancel_all();
        for (Connection* connection : m_busy) {
            connection->interrupt();
        }
        m_pool.clear();
    }

    /// Registers a connection in use, so that close() can interrupt it.
    class Busy {
    public:
        Busy(Impl& impl, Connection& connection) : m_impl(impl), m_connection(&connection)
        {
            m_impl.m_busy.insert(m_connection);
        }
        ~Busy() { m_impl.m_busy.erase(m_connection); }
        Busy(const Busy&) = delete;
        Busy& operator=(const Busy&) = delete;

    private:
        Impl& m_impl;
        Connection* m_connection;
    };

    asio::any_io_executor m_executor;
    ClientOptions m_options;
    std::shared_ptr<SharedTls> m_shared_tls;  ///< without a ca_file
    std::unique_ptr<ssl::context> m_own_tls;  ///< with one
    ssl::context* m_tls = nullptr;            ///< either
    Slots m_slots;
    Pool m_pool;
    std::set<Connection*> m_busy;
    bool m_system_store_loaded = false;
    bool m_closed = false;
};

const boost::system::error_category& error_category()
{
    static const Category k_category;
    return k_category;
}

boost::system::error_code make_error_code(Errc e)
{
    return {static_cast<int>(e), error_category()};
}

const char* reason_label(const boost::system::error_code& ec)
{
    if (ec.category() == error_category()) {
        switch (static_cast<Errc>(ec.value())) {
        case Errc::invalid_url:
            return "invalid_url";
        case Errc::resolve_failed:
            return "resolve";
        case Errc::connect_failed:
            return "connect";
        case Errc::tls_failed:
            return "tls";
        case Errc::timeout:
            return "timeout";
        case Errc::connection_closed:
            return "closed";
        case Errc::protocol_error:
            return "protocol";
        case Errc::body_too_large:
            return "body_too_large";
        case Errc::cancelled:
            return "cancelled";
        case Errc::certificate_expired:
        case Errc::certificate_wrong_host:
        case Errc::certificate_untrusted:
            return "tls";
        }
    }
    return "network";
}

std::optional<std::string> Response::header(std::string_view name) const
{
    for (const auto& [key, value] : headers) {
        if (beast::iequals(key, name)) {
            return value;
        }
    }
    return std::nullopt;
}

Client::Client(boost::asio::any_io_executor executor, ClientOptions options)
    : m_impl(std::make_shared<Impl>(std::move(executor), std::move(options)))
{}

// In-flight sends hold the Impl and finish (with Errc::cancelled) after the Client is gone.
Client::~Client()
{
    m_impl->close();
}

boost::asio::awaitable<boost::system::result<Response>> Client::send(Request request)
{
    auto impl = m_impl;  // keeps the pool, the TLS context and the semaphore alive while suspended
    co_return co_await impl->send(std::move(request));
}

void Client::close()
{
    m_impl->close();
}

void Client::drop_idle()
{
    m_impl->drop_idle();
}

const ClientOptions& Client::options() const
{
    return m_impl->m_options;
}

std::string basic_authorization(std::string_view user, std::string_view password)
{
    std::string credentials;
    credentials.reserve(user.size() + 1 + password.size());
    credentials.append(user).append(":").append(password);
    return "Basic " + base64(credentials);
}

}  // namespace c4c::infra::http
