#include "collectors/c4c_request.hpp"

#include "collectors/tenant_clock.hpp"
#include "infra/backoff.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace c4c::collectors {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr int k_max_attempts = 5;

bool retryable(unsigned status)
{
    return status == 429 || status == 503;
}

std::optional<std::chrono::system_clock::time_point>
observe_clock(PollContext& context, const infra::http::Response& response, std::chrono::system_clock::time_point sent)
{
    const auto date = response.header("Date");
    if (context.clock == nullptr || !date) {
        return std::nullopt;
    }
    auto tenant_sent = context.clock->observe(*date, sent, std::chrono::system_clock::now());
    // Below 2 s a skew is the Date header's one-second resolution, not a clock problem.
    const std::chrono::milliseconds limit = std::max<std::chrono::milliseconds>(context.source.overlap / 2, 2s);
    if (tenant_sent && context.clock->warn_beyond(limit)) {
        const auto skew = std::chrono::duration<double>(*context.clock->skew()).count();
        spdlog::warn("tenant {}: its clock is {:.0f} s {} this host's (HTTP Date of {}), more than half the overlap "
                     "of source {} ({} s); query bounds follow the tenant's clock, but check time "
                     "synchronization (NTP) on this host",
                     context.tenant, std::abs(skew), skew < 0 ? "behind" : "ahead of", context.c4c.url,
                     context.source.name,
                     std::chrono::duration_cast<std::chrono::seconds>(context.source.overlap).count());
    }
    return tenant_sent;
}

}  // namespace

asio::awaitable<C4cReply> c4c_request(PollContext& context, infra::http::Request request)
{
    request.headers.emplace_back("Authorization",
                                 infra::http::basic_authorization(context.c4c.user, context.c4c.password.reveal()));
    infra::Backoff backoff(std::chrono::seconds(1), std::chrono::seconds(60));
    C4cReply reply;
    for (int attempt = 1;; ++attempt) {
        const auto started = std::chrono::steady_clock::now();
        const auto sent = std::chrono::system_clock::now();
        auto result = co_await context.http.send(request);
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;

        if (!result) {
            reply = C4cReply{};
            reply.reason = FailureReason::network(result.error());
            reply.message = fmt::format("request to {} failed: {}", context.c4c.url, result.error().message());
            context.observer.request_done(elapsed, reply.reason.label());
            co_return reply;
        }
        reply.response = std::move(*result);
        reply.tenant_sent = observe_clock(context, reply.response, sent);
        const unsigned status = reply.response.status;
        if (status >= 200 && status < 300) {
            reply.ok = true;
            reply.reason = {};
            reply.message.clear();
            context.observer.request_done(elapsed, {});
            co_return reply;
        }
        reply.ok = false;
        reply.reason = FailureReason::http(status);
        reply.auth_failed = status == 401 || status == 403;
        reply.message = reply.auth_failed
                            ? fmt::format("C4C answered HTTP {}: user '{}' was refused; check the user, its "
                                          "password and the communication arrangement",
                                          status, context.c4c.user)
                            : fmt::format("C4C answered HTTP {}", status);
        context.observer.request_done(elapsed, reply.reason.label());
        if (!retryable(status) || attempt >= k_max_attempts) {
            co_return reply;
        }
        auto wait = backoff.next();
        if (auto header = reply.response.header("Retry-After")) {
            if (auto parsed = infra::parse_retry_after(*header, std::chrono::system_clock::now())) {
                wait = *parsed;
            }
        }
        // A Retry-After beyond the poll interval is better served by the next poll.
        if (wait > context.source.interval) {
            reply.message += fmt::format(" (Retry-After {} s: retrying at the next interval)",
                                         std::chrono::duration_cast<std::chrono::seconds>(wait).count());
            co_return reply;
        }
        asio::steady_timer timer(co_await asio::this_coro::executor, wait);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            reply.reason = FailureReason::Kind::cancelled;
            co_return reply;
        }
    }
}

PollOutcome failed_outcome(const PollContext& context, const C4cReply& reply)
{
    PollOutcome outcome;
    outcome.ok = false;
    outcome.reason = reply.reason;
    outcome.auth_failed = reply.auth_failed;
    outcome.message = fmt::format("tenant {} source {}: {}", context.tenant, context.source.name, reply.message);
    return outcome;
}

PollOutcome parse_failure(const PollContext& context, std::string_view where, std::string_view what)
{
    PollOutcome outcome;
    outcome.ok = false;
    outcome.reason = FailureReason::Kind::parse;
    outcome.message = fmt::format("tenant {} source {}: unreadable answer from {}: {}; nothing from this page "
                                  "was stored, the poll is retried",
                                  context.tenant, context.source.name, where, what);
    return outcome;
}

PollOutcome commit_failure(const PollContext& context, CommitStatus status)
{
    PollOutcome outcome;
    outcome.ok = false;
    if (status == CommitStatus::outbox_full) {
        outcome.reason = FailureReason::Kind::outbox_full;
        outcome.message = fmt::format("tenant {} source {}: outbox of endpoint {} is full; not advancing (C4C "
                                      "still holds the data)",
                                      context.tenant, context.source.name, context.source.use_case);
    } else {
        outcome.reason = FailureReason::Kind::store;
        outcome.message = fmt::format("tenant {} source {}: the state store failed; see the previous error",
                                      context.tenant, context.source.name);
    }
    return outcome;
}

PollOutcome with_progress(PollOutcome failure, const PollOutcome& progress)
{
    failure.records = progress.records;
    failure.stored = progress.stored;
    failure.failed_messages = progress.failed_messages;
    return failure;
}

}  // namespace c4c::collectors
