#pragma once

// One request to a C4C tenant as every collector makes it: Basic auth, the tenant's deadline, 429/503
// retried after Retry-After (or exponential backoff with jitter) a bounded number of times, each
// attempt reported to the RequestObserver (so every failed attempt counts in source_errors_total
// before any retry), and a classified failure otherwise.

#include "collectors/collector.hpp"
#include "infra/http/client.hpp"
#include "infra/http/url.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace c4c::collectors {

struct C4cReply {
    bool ok = false;                 ///< a 2xx response arrived
    infra::http::Response response;  ///< valid when ok, or when the failure is an HTTP status
    FailureReason reason;            ///< when !ok: network, http_status or cancelled
    std::string message;             ///< operator-facing text (never contains credentials)
    bool auth_failed = false;        ///< 401/403
    /// The tenant's clock when the (last) request was sent, or a little earlier: its `Date` header minus
    /// the round trip. nullopt when the answer had no readable Date.
    std::optional<std::chrono::system_clock::time_point> tenant_sent;
};

/// Sends `request` to the tenant, adding Basic auth from `context.c4c`. 429/503 are retried up to 4
/// times within this call; other failures return at once. Every answer's `Date` goes to
/// `context.clock` (a warning when the tenant's clock is off by more than half the source's overlap, and
/// by 2 s at least).
/// Never throws.
boost::asio::awaitable<C4cReply> c4c_request(PollContext& context, infra::http::Request request);

/// Fills a failed PollOutcome from a reply, naming tenant, source and what to do.
PollOutcome failed_outcome(const PollContext& context, const C4cReply& reply);

/// A PollOutcome for a payload that could not be parsed (`where`: URL or page description).
PollOutcome parse_failure(const PollContext& context, std::string_view where, std::string_view what);

/// The outcome for a commit that did not happen (outbox full or store failure).
PollOutcome commit_failure(const PollContext& context, CommitStatus status);

/// `failure` with the counts (records, stored, failed messages) of the pages committed before it in
/// `progress`: a poll that fails part-way keeps what its earlier pages achieved.
PollOutcome with_progress(PollOutcome failure, const PollOutcome& progress);

/// Percent-encodes a query-parameter value (RFC 3986 unreserved characters stay as they are).
using infra::http::url_encode;

}  // namespace c4c::collectors
