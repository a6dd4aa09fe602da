#pragma once

// Delivery to one Cloud ALM endpoint (CONTRACT.md sections 4 and 5): a batch is read from the outbox,
// POSTed as OTLP/HTTP JSON (gzip when configured), and removed only after a 2xx. While the endpoint
// accepts, two batches are in flight (the next body is built and sent while Cloud ALM works on the
// previous one) and acknowledged in sending order (a batch accepted while the one before it is still in
// flight when a stop or reload cancels delivery is taken out at once, so it is never sent again); after
// any failure a single batch probes. 429/5xx/timeouts are retried (same rows) after Retry-After or
// exponential backoff with jitter; 400/413 split the batch down to single rows; 401/403 pause the
// endpoint at a slow pace.
//
// A row refused on its own is moved aside only once the endpoint accepted another request since it was
// first refused (proof that the endpoint works and the row is the problem). Until then it is a suspect:
// it stays in the outbox, delivery goes on with the rows behind it, and once a request is accepted it
// is sent alone once more and moved aside if still refused. When k_refused_alone_before_pause rows in a
// row are refused alone with nothing accepted in between, the endpoint refuses requests (a wrong
// serviceId, a broken deployment): it is paused with backoff (one log line, endpoint_up 0, nothing moved
// aside), each retry sends the one row behind the suspects (the oldest suspect when there is none), and
// the queue goes once one is accepted.
//
// Executor model: everything here runs on the daemon's single event-loop thread (the executor of the
// http::Client and of the constructor's `executor`); not thread-safe, no locks.

#include "exporters/auth.hpp"
#include "exporters/batcher.hpp"
#include "exporters/endpoint_config.hpp"
#include "exporters/exporter.hpp"
#include "infra/backoff.hpp"
#include "infra/http/client.hpp"
#include "infra/logging.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace c4c::exporters {

/// Pacing of an exporter; defaults are production values, tests shrink them.
struct DeliveryOptions {
    std::chrono::milliseconds backoff_base{std::chrono::seconds(1)};   ///< first transient retry (jittered)
    std::chrono::milliseconds backoff_max{std::chrono::minutes(5)};    ///< transient retry ceiling
    std::chrono::milliseconds retry_after_cap{std::chrono::hours(1)};  ///< longest Retry-After honoured
    std::chrono::milliseconds pause_base{std::chrono::seconds(60)};    ///< first retry while paused (401/403)
    std::chrono::milliseconds pause_max{std::chrono::minutes(10)};     ///< paused retry ceiling (doubling)
    std::chrono::milliseconds idle_wake{std::chrono::seconds(5)};      ///< re-check an empty outbox this often
    std::chrono::milliseconds log_interval{std::chrono::minutes(1)};   ///< repeated log lines: one per interval
    std::size_t answer_excerpt_chars = 200;                            ///< of a refusal, kept with a rejected row
    TokenSourceOptions token;
};

/// A wait for log lines: "250 ms", "1.5 s", "10 min".
std::string format_wait(std::chrono::milliseconds wait);

/// What one POST to Cloud ALM came to.
struct PostOutcome {
    enum class Kind {
        accepted,        ///< 2xx
        refused,         ///< 400, 413, 422: the content was refused (split the batch, move a single row aside)
        unauthorized,    ///< 401/403 (after one token refresh with oauth2), or the token endpoint refused the client
        transient,       ///< 408, 429, 5xx, network, timeout, token endpoint unreachable: retry after a wait
        endpoint_error,  ///< any other status (3xx, 404, 405, ...): the URL is probably wrong; retried slowly
        cancelled,       ///< shutdown
    };
    Kind kind = Kind::transient;
    unsigned status = 0;  ///< HTTP status when one arrived, else 0
    SendFailure reason;   ///< of a failure (its label(): "http_503", "timeout", "auth", ...)
    std::string detail;   ///< one line for logs: "HTTP 503: <answer>", or the network/token error
    std::string answer;   ///< first answer_excerpt_chars of the answer body, made one line
    std::optional<std::chrono::milliseconds> retry_after;  ///< parsed Retry-After (capped), when sent
    std::chrono::duration<double> elapsed{};               ///< of the exchange(s)
};

/// Sends request bodies to one endpoint: Content-Type application/json, gzip + Content-Encoding when
/// configured, the Authorization header of its auth kind; with oauth2 a 401/403 invalidates the token
/// and the request is repeated once at once. Every failed exchange is reported to `observer.failed`.
class AlmPoster {
public:
    /// `client` and `observer` must outlive the poster. Copies what it needs from `endpoint`.
    AlmPoster(const EndpointConfig& endpoint, infra::http::Client& client, DeliveryObserver& observer,
              const DeliveryOptions& options);
    /// POSTs `json_body` (uncompressed). Never throws except on cancellation.
    boost::asio::awaitable<PostOutcome> post(std::string_view json_body);
    /// POSTs a body that is gzip already (configured gzip only; gzip_members_body). Never throws except on
    /// cancellation.
    boost::asio::awaitable<PostOutcome> post_gzipped(std::string gzip_body);
    /// "use_case (host)", for log lines.
    const std::string& label() const { return m_label; }
    const std::string& host() const { return m_host; }
    Authorizer& authorizer() { return m_auth; }

private:
    boost::asio::awaitable<PostOutcome> post_body(std::string body);
    boost::asio::awaitable<PostOutcome> post_once(const std::string& body);

    std::string m_url;
    std::string m_host;
    std::string m_label;
    bool m_gzip;
    infra::http::Client& m_client;
    DeliveryObserver& m_observer;
    std::chrono::milliseconds m_retry_after_cap;
    std::size_t m_excerpt_chars;
    Authorizer m_auth;
};

/// Rows refused alone, with nothing accepted in between, that make an endpoint count as refusing requests.
inline constexpr std::size_t k_refused_alone_before_pause = 3;
/// Suspects kept at most; beyond, a refused probe row is not recorded (and is probed again).
inline constexpr std::size_t k_max_suspects = 1000;

/// Drains one endpoint's outbox (exporter.hpp). One CloudAlmExporter per endpoint; run() and drain()
/// must not run at the same time.
class CloudAlmExporter final : public Exporter {
public:
    /// `executor`: the event loop (for the idle timer). `client`, `outbox` and `observer` must outlive
    /// the exporter; `endpoint` is copied. `resource` describes every batch (use_case = endpoint's).
    CloudAlmExporter(const boost::asio::any_io_executor& executor, const EndpointConfig& endpoint,
                     ResourceInfo resource, infra::http::Client& client, Outbox& outbox, DeliveryObserver& observer,
                     DeliveryOptions options = {});
    ~CloudAlmExporter() override;

    /// Delivers until cancelled; returns (or throws operation_aborted) promptly on cancellation. Rows
    /// not acknowledged stay in the outbox.
    boost::asio::awaitable<void> run() override;
    /// Delivers what is queued within `budget`: true when the outbox is empty and no row was moved
    /// aside during this call; false at once when paused (401/403), when a suspect row stays queued
    /// (refused alone, nothing accepted since), or when transient failures or refusals outlast the
    /// budget. A send already under way may overrun the budget by up to the endpoint's timeout.
    boost::asio::awaitable<bool> drain(std::chrono::milliseconds budget) override;
    /// Wakes run(); call on the event-loop thread.
    void notify() override;

    /// True while 401/403 pause the endpoint, or while it refuses every request.
    bool paused() const { return m_paused; }
    /// True while the endpoint refuses every request (paused() is true too).
    bool refusing() const { return m_refusing; }
    /// Rows refused alone and still queued, waiting for the endpoint to accept another request.
    std::size_t suspects() const { return m_suspects.size(); }

private:
    enum class Step { progressed, empty, transient, paused, store_failed, cancelled };
    struct Round {
        Step step = Step::empty;
        std::chrono::milliseconds wait{0};  ///< transient, store_failed: before the next attempt
    };

    /// A batch refused or failed while another was in flight, handled on its own after the round.
    struct Failure {
        std::vector<OutboxRow> rows;
        PostOutcome outcome;
        std::uint64_t accepted = 0;  ///< m_accepted when it settled (before the batches sent after it)
        bool members = false;        ///< it went as whole chunks (a body of several gzip members)
    };
    /// Whether the endpoint reads a body of several gzip members: unproven until one is answered. One
    /// accepted proves it; see settle_members() for the other way.
    enum class Members { unproven, read, unread };
    Members m_members = Members::unproven;
    bool m_one_member_next = false;  ///< a body of several members was not accepted: the next batch is one member
    /// One round of two batches in flight at a time (lanes), acknowledged in the order they were sent.
    struct Pipeline {
        std::int64_t claimed = 0;   ///< highest seq sent this round: the next batch starts behind it
        std::uint64_t sent = 0;     ///< batches sent, numbering them in sending order
        std::uint64_t settled = 0;  ///< batches acknowledged or given up, in sending order
        std::size_t accepted = 0;
        bool stop = false;  ///< a batch was not accepted: no new ones this round
        bool store_failed = false;
        std::optional<Failure> failure;  ///< the first batch not accepted
    };

    /// A row refused alone, kept queued until the endpoint accepts another request.
    struct Suspect {
        OutboxRow row;
        std::uint64_t accepted_before = 0;  ///< m_accepted when it was first refused
    };

    /// One batch of a lane: rows read from the outbox, or whole chunks sent as they are stored.
    struct Batch {
        std::vector<OutboxRow> rows;               ///< when not compressed
        std::optional<CompressedRows> compressed;  ///< whole chunks (gzip on, the common case)
        bool empty() const { return !compressed && rows.empty(); }
        std::int64_t last_seq() const { return compressed ? compressed->last_seq : rows.back().seq; }
    };

    /// The oldest rows behind seq `after` that make one batch within the limits (none when none are queued);
    /// with gzip, ending before a chunk that can be sent whole.
    std::vector<OutboxRow> next_batch(std::int64_t after);
    /// The next batch of a lane: whole chunks as they are stored when the rows behind `after` start some
    /// that fit, else next_batch().
    Batch next_lane_batch(std::int64_t after);
    /// POSTs a batch: whole chunks as stored gzip members, rows as a body built (and gzipped) now.
    boost::asio::awaitable<PostOutcome> send(const Batch& batch);
    /// The rows of whole chunks that were not accepted, for splitting, suspects and moving aside (empty when
    /// the store cannot read them).
    std::vector<OutboxRow> read_back(const CompressedRows& compressed);
    /// Bytes of payloads and commas a batch may have (max_bytes less the envelope).
    std::size_t payload_budget() const;
    /// The seq behind which batches start: the last suspect's (0 without suspects).
    std::int64_t suspect_floor() const;
    /// Sends each suspect that has its proof (a request accepted since) alone once more.
    boost::asio::awaitable<Round> retry_suspects();
    /// settle() for a batch of whole chunks that was not accepted.
    boost::asio::awaitable<Round> settle_members(std::span<const OutboxRow> rows, const PostOutcome& outcome,
                                                 std::optional<std::uint64_t> accepted);
    boost::asio::awaitable<Round> deliver_next();
    boost::asio::awaitable<Round> deliver_one();
    boost::asio::awaitable<Round> deliver_pipelined();
    boost::asio::awaitable<void> lane();
    boost::asio::awaitable<Round> deliver(std::span<const OutboxRow> rows);
    /// `accepted`: m_accepted when the answer came (default: now), the baseline of a row refused alone.
    boost::asio::awaitable<Round> settle(std::span<const OutboxRow> rows, const PostOutcome& outcome,
                                         std::optional<std::uint64_t> accepted = std::nullopt);
    bool acknowledge(std::span<const OutboxRow> rows, const PostOutcome& outcome);
    bool acknowledge(const Batch& batch, const PostOutcome& outcome);
    Round refused_alone(const OutboxRow& row, const PostOutcome& outcome, std::uint64_t accepted);
    Round reject_row(const OutboxRow& row, const PostOutcome& outcome);
    Round enter_refusing(const PostOutcome& outcome);
    void set_up(bool up);
    Round retry_later(const PostOutcome& outcome);
    Round store_failed(std::string_view what);
    void enter_pause(const PostOutcome& outcome);
    void leave_pause();
    std::chrono::milliseconds pause_wait();
    boost::asio::awaitable<bool> sleep(std::chrono::milliseconds wait);
    boost::asio::awaitable<bool> wait_for_rows();

    ResourceInfo m_resource;
    std::string m_prefix;
    std::size_t m_envelope_bytes;
    std::size_t m_max_events;
    std::size_t m_max_bytes;
    bool m_gzip;
    GzipEnvelope m_gzip_envelope;  ///< when m_gzip
    Outbox& m_outbox;
    DeliveryObserver& m_observer;
    DeliveryOptions m_options;
    AlmPoster m_poster;
    infra::Backoff m_backoff;
    boost::asio::steady_timer m_wake;
    boost::asio::steady_timer m_turn;  ///< never expires; cancel() wakes a lane waiting to acknowledge
    Pipeline m_pipeline;
    bool m_flowing = false;  ///< the last round progressed: send two batches at a time, else one probes
    bool m_notified = false;
    bool m_paused = false;
    bool m_refusing = false;  ///< paused because every request is refused (m_paused is set too)
    bool m_up = true;
    std::uint64_t m_accepted = 0;     ///< requests the endpoint accepted
    std::vector<Suspect> m_suspects;  ///< in seq order
    std::chrono::milliseconds m_pause_delay;
    std::size_t m_rejected_since_drain = 0;
    infra::LogLimiter m_failure_log;
    infra::LogLimiter m_reject_log;
    infra::LogLimiter m_pause_log;
};

/// The log endpoint of each use case a collector feeds: a CloudAlmExporter on the endpoint's outbox (the
/// row of the exporter table, exporters/registry.cpp).
extern const ExporterKind k_logs_exporter_kind;

}  // namespace c4c::exporters
