#include "exporters/cloud_alm.hpp"

#include "exporters/batcher.hpp"
#include "exporters/otlp_json.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace c4c::exporters {

namespace asio = boost::asio;

namespace {

PostOutcome::Kind classify(unsigned status)
{
    if (status >= 200 && status < 300) {
        return PostOutcome::Kind::accepted;
    }
    if (status == 400 || status == 413 || status == 422) {
        return PostOutcome::Kind::refused;
    }
    if (status == 401 || status == 403) {
        return PostOutcome::Kind::unauthorized;
    }
    if (status == 408 || status == 429 || status >= 500) {
        return PostOutcome::Kind::transient;
    }
    // A 404 or a redirect says nothing about the records: moving them aside would empty the outbox
    // into the rejected table because of a wrong URL. They wait instead.
    return PostOutcome::Kind::endpoint_error;
}

}  // namespace

std::string format_wait(std::chrono::milliseconds wait)
{
    const auto ms = wait.count();
    if (ms < 1000) {
        return fmt::format("{} ms", ms);
    }
    if (ms < 120'000) {
        return fmt::format("{:g} s", std::round(static_cast<double>(ms) / 100.0) / 10.0);
    }
    return fmt::format("{:g} min", std::round(static_cast<double>(ms) / 6000.0) / 10.0);
}

// --- AlmPoster

AlmPoster::AlmPoster(const EndpointConfig& endpoint, infra::http::Client& client, DeliveryObserver& observer,
                     const DeliveryOptions& options)
    : m_url(endpoint.url),
      m_host(url_host(endpoint.url)),
      m_label(fmt::format("{} ({})", endpoint.use_case, url_host(endpoint.url))),
      m_gzip(endpoint.gzip),
      m_client(client),
      m_observer(observer),
      m_retry_after_cap(options.retry_after_cap),
      m_excerpt_chars(options.answer_excerpt_chars),
      m_auth(client, endpoint, options.token)
{}

asio::awaitable<PostOutcome> AlmPoster::post(std::string_view json_body)
{
    // Level 1: on OTLP JSON it compresses 12:1 instead of 14:1 at level 6, at 2.5 times the speed (about
    // 230 MB/s against 95 MB/s); at level 6 compression was a fifth of the daemon's CPU per delivered event.
    // (A local, not a temporary in the co_await: GCC 12 destroys temporaries of a conditional there twice.)
    std::string body = m_gzip ? gzip_compress(json_body, 1) : std::string(json_body);
    co_return co_await post_body(std::move(body));
}

asio::awaitable<PostOutcome> AlmPoster::post_gzipped(std::string gzip_body)
{
    co_return co_await post_body(std::move(gzip_body));
}

asio::awaitable<PostOutcome> AlmPoster::post_body(std::string body)
{
    PostOutcome outcome = co_await post_once(body);
    // A token may be revoked or expire early: one fresh token, at once, before pausing the endpoint.
    // (status 0 means the token endpoint itself refused the client; a new attempt would not help.)
    if (outcome.kind == PostOutcome::Kind::unauthorized && outcome.status != 0 && m_auth.invalidate()) {
        const auto first_elapsed = outcome.elapsed;
        outcome = co_await post_once(body);
        outcome.elapsed += first_elapsed;
    }
    co_return outcome;
}

asio::awaitable<PostOutcome> AlmPoster::post_once(const std::string& body)
{
    PostOutcome outcome;
    const auto started = std::chrono::steady_clock::now();
    auto header = co_await m_auth.header();
    if (!header) {
        const AuthFailure& failure = header.error();
        outcome.kind = failure.cancelled   ? PostOutcome::Kind::cancelled
                       : failure.transient ? PostOutcome::Kind::transient
                                           : PostOutcome::Kind::unauthorized;
        outcome.reason = failure.reason;
        outcome.detail = failure.message;
        outcome.elapsed = std::chrono::steady_clock::now() - started;
        if (!failure.cancelled) {
            m_observer.failed(outcome.reason);
        }
        co_return outcome;
    }

    infra::http::Request request;
    request.method = infra::http::Method::post;
    request.url = m_url;
    request.headers.emplace_back("Content-Type", "application/json");
    if (m_gzip) {
        request.headers.emplace_back("Content-Encoding", "gzip");
    }
    std::string authorization = std::move(header).value();  // checked above; value() has no null path
    if (!authorization.empty()) {
        request.headers.emplace_back("Authorization", std::move(authorization));
    }
    request.body = body;

    auto reply = co_await m_client.send(std::move(request));
    outcome.elapsed = std::chrono::steady_clock::now() - started;
    if (!reply) {
        const auto& ec = reply.error();
        if (ec == infra::http::Errc::cancelled) {
            outcome.kind = PostOutcome::Kind::cancelled;
            outcome.reason = SendFailure::Kind::cancelled;
            outcome.detail = "cancelled";
            co_return outcome;
        }
        outcome.kind = PostOutcome::Kind::transient;
        outcome.reason = SendFailure::network(ec);
        outcome.detail = ec.message();
        m_observer.failed(outcome.reason);
        co_return outcome;
    }

    const infra::http::Response& response = *reply;
    outcome.status = response.status;
    outcome.kind = classify(response.status);
    if (outcome.kind == PostOutcome::Kind::accepted) {
        co_return outcome;
    }
    outcome.reason = SendFailure::http(response.status);
    outcome.answer = log_excerpt(response.body, m_excerpt_chars);
    outcome.detail = outcome.answer.empty() ? fmt::format("HTTP {}", response.status)
                                            : fmt::format("HTTP {}: {}", response.status, outcome.answer);
    if (auto value = response.header("Retry-After")) {
        if (auto wait = infra::parse_retry_after(*value, std::chrono::system_clock::now())) {
            outcome.retry_after = std::min(*wait, m_retry_after_cap);
        }
    }
    m_observer.failed(outcome.reason);
    co_return outcome;
}

// --- CloudAlmExporter

CloudAlmExporter::CloudAlmExporter(const asio::any_io_executor& executor, const EndpointConfig& endpoint,
                                   ResourceInfo resource, infra::http::Client& client, Outbox& outbox,
                                   DeliveryObserver& observer, DeliveryOptions options)
    : m_resource(std::move(resource)),
      m_prefix(logs_envelope_prefix(m_resource)),
      m_envelope_bytes(m_prefix.size() + logs_envelope_suffix().size()),
      m_max_events(static_cast<std::size_t>(std::max(endpoint.max_batch_events, 1))),
      m_max_bytes(endpoint.max_batch_bytes),
      m_gzip(endpoint.gzip),
      m_gzip_envelope(endpoint.gzip ? gzip_envelope(m_prefix) : GzipEnvelope{}),
      m_outbox(outbox),
      m_observer(observer),
      m_options(options),
      m_poster(endpoint, client, observer, m_options),
      m_backoff(m_options.backoff_base, m_options.backoff_max),
      m_wake(executor),
      m_turn(executor, std::chrono::steady_clock::time_point::max()),
      m_pause_delay(m_options.pause_base),
      m_failure_log(m_options.log_interval),
      m_reject_log(m_options.log_interval, 10),
      m_pause_log(m_options.log_interval)
{}

CloudAlmExporter::~CloudAlmExporter() = default;

void CloudAlmExporter::notify()
{
    m_notified = true;
    m_wake.cancel();
}

asio::awaitable<void> CloudAlmExporter::run()
{
    for (;;) {
        const Round round = co_await deliver_next();
        switch (round.step) {
        case Step::progressed:
            m_backoff.reset();
            break;
        case Step::empty:
            if (!co_await wait_for_rows()) {
                co_return;
            }
            break;
        case Step::transient:
        case Step::store_failed:
            if (!co_await sleep(round.wait)) {
                co_return;
            }
            break;
        case Step::paused:
            if (!co_await sleep(pause_wait())) {
                co_return;
            }
            break;
        case Step::cancelled:
            co_return;
        }
    }
}

asio::awaitable<bool> CloudAlmExporter::drain(std::chrono::milliseconds budget)
{
    const auto deadline = std::chrono::steady_clock::now() + budget;
    m_rejected_since_drain = 0;
    for (;;) {
        const Round round = co_await deliver_next();
        switch (round.step) {
        case Step::progressed:
            m_backoff.reset();
            if (std::chrono::steady_clock::now() >= deadline) {
                co_return m_outbox.size() == 0 && m_rejected_since_drain == 0;
            }
            break;
        case Step::empty:
            co_return m_rejected_since_drain == 0 && m_suspects.empty();
        case Step::transient:
        case Step::store_failed:
            if (std::chrono::steady_clock::now() + round.wait > deadline || !co_await sleep(round.wait)) {
                co_return false;
            }
            break;
        case Step::paused:
        case Step::cancelled:
            co_return false;
        }
    }
}

asio::awaitable<CloudAlmExporter::Round> CloudAlmExporter::deliver_next()
{
    if (std::any_of(m_suspects.begin(), m_suspects.end(),
                    [this](const Suspect& suspect) { return m_accepted > suspect.accepted_before; })) {
        const Round retried = co_await retry_suspects();
        if (retried.step != Step::progressed) {
            m_flowing = false;
            co_return retried;
        }
    }
    const Round round = m_flowing ? co_await deliver_pipelined() : co_await deliver_one();
    m_flowing = round.step == Step::progressed && !m_paused;
    co_return round;
}

asio::awaitable<CloudAlmExporter::Round> CloudAlmExporter::deliver_pipelined()
{
    using namespace asio::experimental::awaitable_operators;
    m_pipeline = Pipeline{};
    m_pipeline.claimed = suspect_floor();
    co_await (lane() && lane());
    if (m_pipeline.failure) {
        const Failure failure = std::move(*m_pipeline.failure);
        if (failure.members) {
            co_return co_await settle_members(failure.rows, failure.outcome, failure.accepted);
        }
        co_return co_await settle(failure.rows, failure.outcome, failure.accepted);
    }
    if (m_pipeline.store_failed) {
        co_return store_failed("could not remove delivered events from the outbox (they will be sent again)");
    }
    co_return Round{m_pipeline.accepted > 0 ? Step::progressed : Step::empty};
}

// Sends batches behind the other lane's until the outbox is empty or a batch is not accepted. Batches are
// acknowledged in sending order, so that the store moves its watermark over whole batches; a batch
// accepted behind one that failed is still taken out (sending it again would duplicate it).
asio::awaitable<void> CloudAlmExporter::lane()
{
    while (!m_pipeline.stop) {
        Batch batch = next_lane_batch(m_pipeline.claimed);
        if (batch.empty()) {
            co_return;
        }
        m_pipeline.claimed = batch.last_seq();
        const std::uint64_t ticket = m_pipeline.sent++;
        PostOutcome outcome = co_await send(batch);
        while (m_pipeline.settled != ticket) {
            if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
                // Stop or reload. Cloud ALM has this batch already: it leaves the queue now, ahead of the
                // one still in flight (the store records the gap), or the restart would send it again. A
                // batch not accepted stays queued and goes again after the restart.
                if (outcome.kind == PostOutcome::Kind::accepted) {
                    acknowledge(batch, outcome);
                }
                co_return;
            }
            // Woken by cancel() (the other lane settled) or by cancellation (checked above).
            co_await m_turn.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        if (outcome.kind == PostOutcome::Kind::accepted) {
            if (acknowledge(batch, outcome)) {
                ++m_pipeline.accepted;
            } else {
                m_pipeline.store_failed = true;
                m_pipeline.stop = true;
            }
        } else {
            m_pipeline.stop = true;
            if (!m_pipeline.failure) {
                std::vector<OutboxRow> rows = batch.compressed ? read_back(*batch.compressed) : std::move(batch.rows);
                if (rows.empty()) {
                    m_pipeline.store_failed = true;
                } else {
                    m_pipeline.failure =
                        Failure{std::move(rows), std::move(outcome), m_accepted, batch.compressed.has_value()};
                }
            }
        }
        ++m_pipeline.settled;
        m_turn.cancel();
    }
}

asio::awaitable<PostOutcome> CloudAlmExporter::send(const Batch& batch)
{
    if (batch.compressed) {
        co_return co_await m_poster.post_gzipped(gzip_members_body(m_gzip_envelope, batch.compressed->members));
    }
    co_return co_await m_poster.post(build_logs_body(m_prefix, batch.rows));
}

// Splitting, suspects and moving aside work on rows: whole chunks that were not accepted are read back.
std::vector<OutboxRow> CloudAlmExporter::read_back(const CompressedRows& compressed)
{
    return m_outbox.peek(compressed.events, static_cast<std::size_t>(-1), compressed.first_seq - 1);
}

CloudAlmExporter::Batch CloudAlmExporter::next_lane_batch(std::int64_t after)
{
    if (m_gzip && m_members != Members::unread && !m_one_member_next) {
        // The common case, whole chunks behind the previous batch: sent as they are stored.
        if (auto compressed = m_outbox.peek_compressed(m_max_events, payload_budget(), after)) {
            return Batch{{}, std::move(compressed)};
        }
    }
    return Batch{next_batch(after), std::nullopt};
}

std::size_t CloudAlmExporter::payload_budget() const
{
    return BatchLimits{m_max_events, m_max_bytes, m_envelope_bytes}.payload_budget();
}

std::vector<OutboxRow> CloudAlmExporter::next_batch(std::int64_t after)
{
    // peek() budgets payload bytes only; the envelope and the commas are accounted for by the batcher.
    std::vector<OutboxRow> rows = m_outbox.peek(m_max_events, payload_budget(), after);
    rows.resize(first_batch_length(rows, BatchLimits{m_max_events, m_max_bytes, m_envelope_bytes}));
    if (m_gzip && rows.size() > 1) {
        // Ends before a chunk that can go whole, so that the batches behind this one are whole chunks again
        // (after a restart, a split or a gap).
        const std::int64_t end = m_outbox.aligned_end(rows.front().seq, rows.back().seq);
        std::erase_if(rows, [end](const OutboxRow& row) { return row.seq > end; });
    }
    return rows;
}

std::int64_t CloudAlmExporter::suspect_floor() const
{
    return m_suspects.empty() ? 0 : m_suspects.back().row.seq;
}

asio::awaitable<CloudAlmExporter::Round> CloudAlmExporter::deliver_one()
{
    if (!m_refusing) {
        // The first batch after a wake-up: whole chunks go as they are stored here too (a page's first
        // batch was otherwise inflated, built and compressed again, and was the peak of the memory).
        Batch batch = next_lane_batch(suspect_floor());
        if (batch.empty()) {
            co_return Round{Step::empty};
        }
        if (!batch.compressed) {
            co_return co_await deliver(batch.rows);
        }
        const PostOutcome outcome = co_await send(batch);
        if (outcome.kind == PostOutcome::Kind::accepted) {
            if (!acknowledge(batch, outcome)) {
                co_return store_failed("could not remove delivered events from the outbox (they will be sent again)");
            }
            co_return Round{Step::progressed};
        }
        const std::vector<OutboxRow> rows = read_back(*batch.compressed);
        if (rows.empty()) {
            co_return store_failed("could not read back a batch that was not accepted");
        }
        co_return co_await settle_members(rows, outcome, std::nullopt);
    }
    std::vector<OutboxRow> rows = next_batch(suspect_floor());
    if (m_refusing) {
        // A probe: one request. A refused row becomes a suspect, so the next probe moves on; with only
        // suspects left, the oldest one probes (nothing else would tell when the endpoint is back).
        rows.resize(std::min<std::size_t>(rows.size(), 1));
        if (rows.empty() && !m_suspects.empty()) {
            rows.push_back(m_suspects.front().row);
        }
    }
    if (rows.empty()) {
        co_return Round{Step::empty};
    }
    co_return co_await deliver(rows);
}

// A body of several gzip members (whole chunks) that an endpoint not yet known to read them did not accept
// goes again as one member: at once when its content was refused (400, 413, 422), else after the usual wait
// (Retry-After, backoff). If the one member is accepted, the endpoint is taken to read only a body's first
// member (a decoder that stops at the first member's end, which RFC 1952 does not allow but some do): whole
// chunks are then sent like any other batch, inflated and gzipped again. (After a 5xx that was a mere blip
// this costs speed, never events.) Otherwise the answer is the events' own and is settled as any other.
asio::awaitable<CloudAlmExporter::Round> CloudAlmExporter::settle_members(std::span<const OutboxRow> rows,
                                                                          const PostOutcome& outcome,
                                                                          std::optional<std::uint64_t> accepted)
{
    const bool answered = outcome.status != 0 && outcome.kind != PostOutcome::Kind::unauthorized &&
                          outcome.kind != PostOutcome::Kind::cancelled;
    if (m_members != Members::unproven || !answered) {
        co_return co_await settle(rows, outcome, accepted);
    }
    if (outcome.kind != PostOutcome::Kind::refused) {
        m_one_member_next = true;  // the next attempt, after the wait, is one member
        co_return co_await settle(rows, outcome, accepted);
    }
    const PostOutcome single = co_await m_poster.post(build_logs_body(m_prefix, rows));
    // Accepted as one member: acknowledge() draws the conclusion. Refused again: the events are the
    // problem, not the members, and they are split as any other batch.
    m_one_member_next = single.kind == PostOutcome::Kind::accepted;
    co_return co_await settle(rows, single);
}

asio::awaitable<CloudAlmExporter::Round> CloudAlmExporter::retry_suspects()
{
    std::vector<OutboxRow> proven;
    for (const Suspect& suspect : m_suspects) {
        if (m_accepted > suspect.accepted_before) {
            proven.push_back(suspect.row);
        }
    }
    for (const OutboxRow& row : proven) {
        const Round round = co_await deliver(std::span<const OutboxRow>(&row, 1));
        if (round.step != Step::progressed) {
            co_return round;
        }
    }
    co_return Round{Step::progressed};
}

asio::awaitable<CloudAlmExporter::Round> CloudAlmExporter::deliver(std::span<const OutboxRow> rows)
{
    const PostOutcome outcome = co_await m_poster.post(build_logs_body(m_prefix, rows));
    co_return co_await settle(rows, outcome);
}

bool CloudAlmExporter::acknowledge(const Batch& batch, const PostOutcome& outcome)
{
    if (!batch.compressed) {
        return acknowledge(batch.rows, outcome);
    }
    // A lane's batches start behind every suspect (suspect_floor): none is among these rows.
    m_members = Members::read;
    ++m_accepted;
    set_up(true);
    if (!m_outbox.remove_compressed(*batch.compressed)) {
        return false;
    }
    m_observer.sent(batch.compressed->events, outcome.elapsed);
    leave_pause();
    return true;
}

bool CloudAlmExporter::acknowledge(std::span<const OutboxRow> rows, const PostOutcome& outcome)
{
    if (std::exchange(m_one_member_next, false) && m_members == Members::unproven) {
        m_members = Members::unread;
        spdlog::warn("tenant {} endpoint {}: Cloud ALM did not accept a gzip body of several members and accepted "
                     "the same events as one member; every body is one gzip member from now on",
                     m_resource.tenant, m_poster.label());
    }
    ++m_accepted;
    set_up(true);
    if (!m_suspects.empty()) {
        std::erase_if(m_suspects, [&](const Suspect& suspect) {
            return std::any_of(rows.begin(), rows.end(),
                               [&](const OutboxRow& row) { return row.seq == suspect.row.seq; });
        });
    }
    if (!m_outbox.remove(rows)) {
        return false;
    }
    m_observer.sent(rows.size(), outcome.elapsed);
    leave_pause();
    return true;
}

asio::awaitable<CloudAlmExporter::Round> CloudAlmExporter::settle(std::span<const OutboxRow> rows,
                                                                  const PostOutcome& outcome,
                                                                  std::optional<std::uint64_t> accepted)
{
    switch (outcome.kind) {
    case PostOutcome::Kind::accepted:
        if (!acknowledge(rows, outcome)) {
            co_return store_failed("could not remove delivered events from the outbox (they will be sent again)");
        }
        co_return Round{Step::progressed};
    case PostOutcome::Kind::refused:
        if (rows.size() > 1) {
            spdlog::debug("tenant {} endpoint {}: {} for a batch of {} events; splitting it", m_resource.tenant,
                          m_poster.label(), outcome.detail, rows.size());
            const std::size_t half = rows.size() / 2;
            const Round first = co_await deliver(rows.first(half));
            if (first.step != Step::progressed) {
                co_return first;
            }
            co_return co_await deliver(rows.subspan(half));
        }
        co_return refused_alone(rows.front(), outcome, accepted.value_or(m_accepted));
    case PostOutcome::Kind::unauthorized:
        set_up(false);
        enter_pause(outcome);
        co_return Round{Step::paused};
    case PostOutcome::Kind::transient:
    case PostOutcome::Kind::endpoint_error:
        co_return retry_later(outcome);
    case PostOutcome::Kind::cancelled:
        break;
    }
    co_return Round{Step::cancelled};
}

// A refusal of one row alone says something about the row only if the endpoint accepts other requests.
CloudAlmExporter::Round CloudAlmExporter::refused_alone(const OutboxRow& row, const PostOutcome& outcome,
                                                        std::uint64_t accepted)
{
    const auto known = std::find_if(m_suspects.begin(), m_suspects.end(),
                                    [&](const Suspect& suspect) { return suspect.row.seq == row.seq; });
    if (known != m_suspects.end() && m_accepted > known->accepted_before) {
        m_suspects.erase(known);
        return reject_row(row, outcome);
    }
    if (known == m_suspects.end()) {
        if (m_accepted > accepted) {
            return reject_row(row, outcome);  // a batch sent beside it was accepted meanwhile
        }
        if (m_suspects.size() < k_max_suspects) {
            m_suspects.push_back(Suspect{row, m_accepted});
        }
    }
    const auto unproven =
        static_cast<std::size_t>(std::count_if(m_suspects.begin(), m_suspects.end(), [this](const Suspect& suspect) {
            return suspect.accepted_before == m_accepted;
        }));
    if (m_refusing || unproven >= k_refused_alone_before_pause) {
        return enter_refusing(outcome);
    }
    spdlog::debug("tenant {} endpoint {}: {} for event {} alone; it stays queued until the endpoint accepts another "
                  "request",
                  m_resource.tenant, m_poster.label(), outcome.detail, row.event_id);
    return Round{Step::progressed};
}

CloudAlmExporter::Round CloudAlmExporter::enter_refusing(const PostOutcome& outcome)
{
    set_up(false);
    if (!m_refusing) {
        m_refusing = true;
        if (!m_paused) {
            m_paused = true;
            m_observer.paused(true, "refuses every request: " + outcome.detail);
        }
        spdlog::error("tenant {} endpoint {}: Cloud ALM refuses every request ({}); check the endpoint url (its "
                      "serviceId) and the Cloud ALM service. Delivery is paused and retried with backoff; nothing is "
                      "moved aside, {} events wait in the outbox",
                      m_resource.tenant, m_poster.label(), outcome.detail, m_outbox.size());
    }
    return Round{Step::transient, m_backoff.next()};
}

void CloudAlmExporter::set_up(bool up)
{
    if (m_up != up) {
        m_up = up;
        m_observer.endpoint_up(up);
    }
}

CloudAlmExporter::Round CloudAlmExporter::reject_row(const OutboxRow& row, const PostOutcome& outcome)
{
    const std::string answer =
        outcome.status != 0 ? fmt::format("HTTP {}: {}", outcome.status, outcome.answer) : outcome.detail;
    if (!m_outbox.reject(row, answer)) {
        return store_failed(fmt::format("could not move refused event {} aside", row.event_id));
    }
    m_observer.rejected(1);
    ++m_rejected_since_drain;
    if (auto suppressed = m_reject_log.admit()) {
        spdlog::warn("tenant {} endpoint {}: Cloud ALM refused event {} for good ({}); it was moved aside to the "
                     "rejected table and delivery goes on{}",
                     m_resource.tenant, m_poster.label(), row.event_id, outcome.detail,
                     infra::suppressed_note(*suppressed));
    }
    return Round{Step::progressed};
}

CloudAlmExporter::Round CloudAlmExporter::retry_later(const PostOutcome& outcome)
{
    const std::chrono::milliseconds wait =
        outcome.retry_after && outcome.retry_after->count() > 0 ? *outcome.retry_after : m_backoff.next();
    set_up(false);
    if (auto suppressed = m_failure_log.admit()) {
        const std::size_t waiting = m_outbox.size();
        if (outcome.kind == PostOutcome::Kind::endpoint_error) {
            spdlog::error("tenant {} endpoint {}: delivery failed ({}); check the endpoint url. {} events wait in "
                          "the outbox; retrying in {}{}",
                          m_resource.tenant, m_poster.label(), outcome.detail, waiting, format_wait(wait),
                          infra::suppressed_note(*suppressed));
        } else {
            spdlog::warn("tenant {} endpoint {}: delivery failed ({}); {} events wait in the outbox; retrying in "
                         "{}{}",
                         m_resource.tenant, m_poster.label(), outcome.detail, waiting, format_wait(wait),
                         infra::suppressed_note(*suppressed));
        }
    }
    return Round{Step::transient, wait};
}

CloudAlmExporter::Round CloudAlmExporter::store_failed(std::string_view what)
{
    const std::chrono::milliseconds wait = m_backoff.next();
    if (auto suppressed = m_failure_log.admit()) {
        spdlog::error("tenant {} endpoint {}: {}; the state store failed (see its error), retrying in {}{}",
                      m_resource.tenant, m_poster.label(), what, format_wait(wait),
                      infra::suppressed_note(*suppressed));
    }
    return Round{Step::store_failed, wait};
}

void CloudAlmExporter::enter_pause(const PostOutcome& outcome)
{
    if (!m_paused || m_refusing) {
        m_refusing = false;
        if (!m_paused) {
            m_paused = true;
            m_observer.paused(true, outcome.detail);
        }
        m_pause_log.admit();  // the reminder below comes one log_interval after this line at the earliest
        spdlog::error("tenant {} endpoint {}: Cloud ALM refused the credentials ({}); delivery is paused, check "
                      "credentials (auth, user/password or client_id/client_secret/token_url). Retrying after "
                      "{}, then less often up to every {}; events stay in the outbox",
                      m_resource.tenant, m_poster.label(), outcome.detail, format_wait(m_options.pause_base),
                      format_wait(m_options.pause_max));
    } else if (auto suppressed = m_pause_log.admit()) {
        spdlog::warn("tenant {} endpoint {}: still paused ({}); check credentials{}", m_resource.tenant,
                     m_poster.label(), outcome.detail, infra::suppressed_note(*suppressed));
    }
}

void CloudAlmExporter::leave_pause()
{
    if (m_paused) {
        m_paused = false;
        m_pause_delay = m_options.pause_base;
        m_observer.paused(false, {});
        if (std::exchange(m_refusing, false)) {
            spdlog::info("tenant {} endpoint {}: Cloud ALM accepts requests again, delivery resumed", m_resource.tenant,
                         m_poster.label());
        } else {
            spdlog::info("tenant {} endpoint {}: credentials accepted again, delivery resumed", m_resource.tenant,
                         m_poster.label());
        }
    }
}

std::chrono::milliseconds CloudAlmExporter::pause_wait()
{
    const auto wait = m_pause_delay;
    m_pause_delay = std::min(m_pause_delay * 2, m_options.pause_max);
    return wait;
}

asio::awaitable<bool> CloudAlmExporter::sleep(std::chrono::milliseconds wait)
{
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !ec;
}

asio::awaitable<bool> CloudAlmExporter::wait_for_rows()
{
    if (std::exchange(m_notified, false)) {
        co_return true;
    }
    // The periodic wake-up covers a notification lost between two steps (or rows added by another path).
    m_wake.expires_after(m_options.idle_wake);
    auto [ec] = co_await m_wake.async_wait(asio::as_tuple(asio::use_awaitable));
    m_notified = false;
    if (ec) {
        // notify() cancels the wait too; only a cancelled coroutine ends the loop.
        auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) {
            co_return false;
        }
    }
    co_return true;
}

namespace {

std::unique_ptr<Exporter> make_logs_exporter(const ExporterContext& context)
{
    return std::make_unique<CloudAlmExporter>(context.executor, context.endpoint, context.resource, context.client,
                                              *context.outbox, context.observer);
}

}  // namespace

const ExporterKind k_logs_exporter_kind{
    .name = "logs",
    .use_case = {},
    .feed = EndpointFeed::outbox,
    .own_keys = {},
    .read_settings = nullptr,
    .make = &make_logs_exporter,
};

}  // namespace c4c::exporters
