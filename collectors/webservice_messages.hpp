#pragma once

// The web-service message feed (CONTRACT.md section 3, "webservice_messages" -> integration_monitoring):
// queries C4C's business document message monitoring (SOAP, collectors/soap.hpp) for messages changed in
// [checkpoint - overlap, poll start] and turns each message state into one event.
//
// Both bounds are instants on the tenant's clock, never the host's alone (collectors/tenant_clock.hpp):
// the upper bound is the poll's start as the tenant's latest `Date` header shows it, and the checkpoint an
// interval leaves is no later than the tenant's clock when its first page was asked for, or, from a tenant
// that sends no Date, than the newest LastChangeDateTime it returned. A message the tenant changes after a
// poll therefore lies above that poll's checkpoint however far the two clocks disagree; `overlap` is for
// late commits only.
//
// Checkpoint (FeedStore feed "messages"): that end of the last interval read to its end, as
// `YYYY-MM-DDThh:mm:ss.fffZ` (UTC, milliseconds). LastReturnedObjectID pages in message-ID order within
// one query interval, so every page is committed with the old checkpoint and only the interval's last page
// (MoreHitsAvailableIndicator false) carries the new one; an interrupted walk re-reads the whole interval
// next time, and event.id de-duplicates what was already stored. First run: lower bound = now - lookback.
// An unreadable stored checkpoint is logged and treated like a first run.

#include "collectors/collector.hpp"
#include "collectors/soap.hpp"
#include "infra/event.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace c4c::collectors {

/// FeedStore key of this source's checkpoint.
inline constexpr std::string_view k_messages_feed = "messages";
/// sap.c4c.object_type of every event of this source.
inline constexpr std::string_view k_message_object_type = "BusinessDocumentMessage";
/// Upper bound of the sap.c4c.message.log attribute, in bytes (cut at a UTF-8 character boundary).
inline constexpr std::size_t k_message_log_max_bytes = 4096;

/// One message state as an event: event.id from (tenant, source, message ID, LastChangeDateTime); time =
/// LastChangeDateTime; severity ERROR for status Failed (4) or Cancelled (5) or an error log item, WARN for
/// a warning log item, else INFO; body "<interface> <direction> <sender> -> <receiver>: <status>[: <note>]"
/// with the first error note (else the first warning note); attributes sap.c4c.message.* (status_code,
/// status_text, direction, direction_code, service_interface, sender_system, receiver_system,
/// creation_time, max_log_severity (int), log), each omitted when empty. Pure; never throws.
Event normalize_message(std::string_view tenant, const soap::Message& message, std::int64_t observed_unix_nano);

/// The event of one message from its element's text alone (QuarantinedRecord::raw of this source), or why
/// it is quarantined: for a `quarantine retry`. The same as the page path for the same element.
Normalized normalize_message_raw(std::string_view tenant, std::string_view raw, std::int64_t observed_unix_nano);

/// The query interval of a poll: lower = checkpoint - overlap (or now - lookback without a checkpoint),
/// upper = now, both truncated to milliseconds (the precision sent to C4C and stored as checkpoint). A
/// checkpoint later than `now` (the clock went back) is treated as `now`. nullopt checkpoint = none.
struct QueryInterval {
    std::chrono::system_clock::time_point lower;
    std::chrono::system_clock::time_point upper;
};
QueryInterval query_interval(std::optional<std::chrono::system_clock::time_point> checkpoint,
                             std::chrono::system_clock::time_point now, std::chrono::milliseconds lookback,
                             std::chrono::milliseconds overlap);

/// The checkpoint an interval read to its end leaves: its upper bound, but no later than `tenant_sent`
/// (the tenant's clock when the interval's first page was asked for, C4cReply::tenant_sent) or, without
/// it, than `newest` (the newest LastChangeDateTime returned), truncated to milliseconds; nullopt (keep
/// the old checkpoint) when neither is known: nothing then tells where the tenant's clock stands.
std::optional<std::chrono::system_clock::time_point>
interval_checkpoint(const QueryInterval& interval, std::optional<std::chrono::system_clock::time_point> tenant_sent,
                    std::optional<std::chrono::system_clock::time_point> newest);

/// Parses a stored checkpoint (see above); nullopt when empty or unreadable.
std::optional<std::chrono::system_clock::time_point> parse_messages_checkpoint(std::string_view checkpoint);

/// A backfill window (PollContext::window) is queried as one interval [from, to] (messages changed at `to`
/// are dropped: the window excludes its end), paged by LastReturnedObjectID like a poll. Each page is
/// committed with the cursor "after=<LastReturnedObjectID>" (the last one with "end"), and a resumed
/// window sends the same query from that ID on. The LastReturnedObjectID of a cursor; nullopt for any
/// other text (the window's first page).
std::optional<std::string> parse_messages_window_cursor(std::string_view cursor);

/// The collector. Each poll POSTs `{c4c.url}{source.path}` (Content-Type text/xml, SOAPAction) page after
/// page through c4c_request(). A message that cannot be read (no BusinessDocumentMessageID, an unreadable
/// LastChangeDateTime, ...) is quarantined with its page. Outcome reasons besides those of c4c_request():
/// "soap_fault" (a SOAP Fault,
/// or an error in the response's own Log without any message), "parse" (malformed page, or a tenant that
/// pages without progress), "outbox_full", "store". Runs on the event loop; never throws.
class WebServiceMessagesCollector final : public Collector {
public:
    boost::asio::awaitable<PollOutcome> poll(PollContext& context) override;
};

/// The feed's name: its config key, metrics label and `sap.c4c.source`.
inline constexpr const char* k_source_webservice_messages = "webservice_messages";

/// The feed's own keys of [tenants.sources.webservice_messages].
struct WebserviceMessagesSettings {
    std::string path = "/sap/bc/srt/scs/sap/querybusinessdocumentmessagemoni";  ///< from the arrangement

    friend bool operator==(const WebserviceMessagesSettings&, const WebserviceMessagesSettings&) = default;
};

/// A collector for one tenant's webservice_messages source (the kind's factory).
std::unique_ptr<Collector> make_webservice_messages_collector(const SourceConfig& config);

/// The feed's row of the collector table (collectors/registry.cpp): -> integration_monitoring.
extern const CollectorKind k_webservice_messages_kind;

}  // namespace c4c::collectors
