#include "collectors/c4c_request.hpp"

#include "infra/backoff.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>

#include <fmt/format.h>

namespace c4c::collectors {

namespace asio = boost::asio;

namespace {

constexpr int k_max_attempts = 5;

bool retryable(unsigned status)
{
    return status == 429 || status == 503;
}

} // namespace

asio::awaitable<C4cReply> c4c_request(PollContext& context, infra::http::Request request)
{
    request.headers.emplace_back("Authorization",
                                 infra::http::basic_authorization(context.c4c.user, context.c4c.password.reveal()));
    infra::Backoff backoff(std::chrono::seconds(1), std::chrono::seconds(60));
    C4cReply reply;
    for (int attempt = 1;; ++attempt) {
        const auto started = std::chrono::steady_clock::now();
        auto result = co_await context.http.send(request);
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;

        if (!result) {
            reply = C4cReply{};
            reply.reason = infra::http::reason_label(result.error());
            reply.message = fmt::format("request to {} failed: {}", context.c4c.url, result.error().message());
            context.observer.request_done(elapsed, reply.reason);
            co_return reply;
        }
        reply.response = std::move(*result);
        const unsigned status = reply.response.status;
        if (status >= 200 && status < 300) {
            reply.ok = true;
            reply.reason.clear();
            reply.message.clear();
            context.observer.request_done(elapsed, {});
            co_return reply;
        }
        reply.ok = false;
        reply.reason = fmt::format("http_{}", status);
        reply.auth_failed = status == 401 || status == 403;
        reply.message = reply.auth_failed
                            ? fmt::format("C4C answered HTTP {}: user '{}' was refused; check the user, its "
                                          "password and the communication arrangement",
                                          status, context.c4c.user)
                            : fmt::format("C4C answered HTTP {}", status);
        context.observer.request_done(elapsed, reply.reason);
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
            reply.reason = "cancelled";
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
    outcome.reason = "parse";
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
        outcome.reason = "outbox_full";
        outcome.message = fmt::format("tenant {} source {}: outbox of endpoint {} is full; not advancing (C4C "
                                      "still holds the data)",
                                      context.tenant, context.source.name, context.source.use_case);
    } else {
        outcome.reason = "store";
        outcome.message = fmt::format("tenant {} source {}: the state store failed; see the previous error",
                                      context.tenant, context.source.name);
    }
    return outcome;
}

} // namespace c4c::collectors
