#pragma once

// The business-object feed (CONTRACT.md section 3, "business_objects" -> business_process_monitoring):
// changed C4C business objects (opportunities, sales orders, leads, tickets, ...) read from the C4C
// OData API, `{c4c.url}/sap/c4c/odata/v1/{service}/{Collection}`, one collection after the other.
//
// Records keep changing while a walk is in progress and a changed record moves to the end of the
// `EntityLastChangedOn` ordering, so position-based paging ($skip, $skiptoken) would skip records. The
// walk is KEYSET paged instead (KeysetWalk below): every request is a new query whose lower bound is the
// greatest change time already read. `__next` is only used as a "more rows exist" signal.
//
// Feed key (FeedStore): the collection name. Checkpoint: the greatest EntityLastChangedOn committed so
// far, as decimal unix milliseconds ("1795654682037"): every row changed before it is in the outbox
// (rows AT it may not be yet: the next poll re-reads from checkpoint - overlap, and event.id drops what
// was stored). It never moves backwards, and never beyond the start of the poll that commits it (a row
// dated in the future must not make the feed skip what is changed until then). The next poll reads from
// min(checkpoint, now) - overlap. First run (or an unreadable checkpoint, logged): now - lookback.
//
// No $select: C4C collections name their fields differently (ServiceRequestCollection has
// ServiceRequestLifeCycleStatusCode, not LifeCycleStatusCode) and selecting a property a collection lacks
// is an HTTP 400, which would stop the feed for every collection the daemon does not know field by field.
// Navigation links and __metadata cost bandwidth only: the parser drops them as they stream past.

#include "collectors/collector.hpp"
#include "collectors/odata.hpp"
#include "infra/event.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace c4c::collectors {

/// The feed's name: its config key, metrics label and `sap.c4c.source`.
inline constexpr const char* k_source_business_objects = "business_objects";

/// The feed's own keys of [tenants.sources.business_objects].
struct BusinessObjectsSettings {
    std::string service = "c4codataapi";
    std::vector<std::string> collections{"OpportunityCollection", "SalesOrderCollection", "LeadCollection",
                                         "ServiceRequestCollection"};

    friend bool operator==(const BusinessObjectsSettings&, const BusinessObjectsSettings&) = default;
};

/// The collection's object name in event bodies: OpportunityCollection -> "Opportunity",
/// SalesOrderCollection -> "Sales order", LeadCollection -> "Lead", ServiceRequestCollection -> "Ticket",
/// any other collection its name without the "Collection" suffix.
std::string business_object_name(std::string_view collection);

/// One row state as an event. event.id = make_event_id(tenant, "business_objects", collection, ObjectID,
/// EntityLastChangedOn in ns); object_type = collection; object_id = ObjectID; time = EntityLastChangedOn;
/// severity INFO; body "<Object> <ID> changed: status <code> (<text>)" ("created" when CreationDateTime
/// equals EntityLastChangedOn; the status part only when the row has one). String attributes, each
/// omitted when absent or empty, in this order: sap.c4c.id (ID), sap.c4c.status_code, sap.c4c.status_text
/// (LifeCycleStatusCode[Text], else ServiceRequestLifeCycleStatusCode[Text], else StatusCode[Text]),
/// sap.c4c.name (Name), sap.c4c.created_by, sap.c4c.last_changed_by, sap.c4c.creation_time (ISO 8601 UTC),
/// sap.c4c.amount + sap.c4c.currency (AmountValue/CurrencyCode, ExpectedRevenueAmount/...CurrencyCode,
/// NetAmount/...CurrencyCode, TotalNetAmount/...CurrencyCode: the first present), sap.c4c.priority_code
/// (ServicePriorityCode, else PriorityCode), sap.c4c.processing_type_code (ProcessingTypeCode).
/// Precondition: the row has an ObjectID and a parseable EntityLastChangedOn (the collector quarantines a
/// row that has not; see business_object_row_problem). Pure; never throws.
Event normalize_business_object(std::string_view tenant, std::string_view collection, const ODataRow& row,
                                std::int64_t observed_unix_nano);

/// Empty when the row can be normalized, else why not (names the collection and the row's ID).
std::string business_object_row_problem(std::string_view collection, const ODataRow& row);

/// The event of one row from its JSON object's text alone (QuarantinedRecord::raw of this source), or why it
/// is quarantined (missing_key without ObjectID, invalid_time without a readable EntityLastChangedOn,
/// invalid_value for a text that is not one JSON object): for a `quarantine retry`. The same event as the
/// page path for the same row.
Normalized normalize_business_object_raw(std::string_view tenant, std::string_view collection, std::string_view raw,
                                         std::int64_t observed_unix_nano);

/// Parses a stored checkpoint (decimal unix ms); nullopt when empty or unreadable.
std::optional<std::int64_t> parse_business_objects_checkpoint(std::string_view checkpoint);

/// The keyset walk over one collection, without I/O: which query to send next, and what a page means.
///
/// Main query, lower bound L (the contract's request):
///   $filter=EntityLastChangedOn ge datetimeoffset'L'&$orderby=EntityLastChangedOn asc&$top=N&$inlinecount=allpages
/// After a page whose rows end at Tmax, while more rows exist (`__next`, or N rows), the next main query
/// starts at L = Tmax; rows at Tmax are read twice and the second copy dropped. A page ALL of one change
/// time T while more exist would make that loop forever: the walk then pages INSIDE that millisecond by
/// ObjectID,
///   $filter=EntityLastChangedOn ge datetimeoffset'T' and EntityLastChangedOn lt datetimeoffset'T+1ms'
///           [and ObjectID gt 'LAST']&$orderby=ObjectID asc&$top=N
/// until a page has fewer than N rows and no `__next`, and goes on with the main query at L = T + 1 ms.
/// (A millisecond range rather than `eq T`: C4C keeps EntityLastChangedOn to 100 ns but shows only
/// milliseconds, so `eq` would miss rows whose sub-millisecond digits are not zero.)
/// The walk ends after a main page with fewer than N rows and no `__next`.
///
/// Pages are checked so that a tenant that ignores $filter/$orderby (or rows that keep changing faster
/// than they can be read) cannot make the walk loop or skip: main rows must be at or after L and in
/// ascending change time, instant rows inside the millisecond, an instant page that asks for more must
/// end at a greater ObjectID than the previous one.
class KeysetWalk {
public:
    struct Query {
        bool instant = false;  ///< false: main query from `time_ms`; true: inside instant `time_ms`
        std::int64_t time_ms = 0;
        std::optional<std::string> after_object_id;  ///< instant only: `ObjectID gt` this
    };
    /// One row of a page as the walk sees it.
    struct Key {
        std::string_view object_id;
        std::int64_t time_ms = 0;
    };

    KeysetWalk(std::int64_t lower_bound_ms, std::size_t page_size);

    /// The query to send next (only while !done()).
    const Query& query() const { return m_query; }
    bool done() const { return m_done; }

    /// Takes the page answered to query(). `fresh[i]` is set to whether row i is new in this walk (false for
    /// a row read again at a page boundary). Returns an empty string, or what is wrong with the page (the
    /// walk must then stop). `has_next`: the page carried `__next`.
    std::string accept(std::span<const Key> rows, bool has_next, std::vector<bool>& fresh);

private:
    void remember(std::int64_t time_ms, std::string_view object_id);

    std::size_t m_page_size;
    Query m_query;
    bool m_done = false;
    // ObjectIDs read at m_seen_time: the only rows the next query can repeat. Within one change time an
    // ObjectID stands for exactly one event.id, so this is de-duplication by event.id.
    std::int64_t m_seen_time = 0;
    std::unordered_set<std::string> m_seen;
};

/// The URL of `query` for one collection: `{c4c_url}/sap/c4c/odata/v1/{service}/{collection}?$format=json&...`
/// as documented at KeysetWalk, with $filter and $orderby values percent-encoded (url_encode) and
/// `$format`, `$top`, ... literal.
std::string business_objects_url(std::string_view c4c_url, std::string_view service, std::string_view collection,
                                 const KeysetWalk::Query& query, std::size_t page_size);

/// Upper bound of pages in one walk of one collection: beyond it the poll fails with reason "parse" (rows
/// change faster than they can be read, or the tenant ignores the query). 10'000'000 rows' worth.
std::size_t business_objects_page_cap(std::size_t page_size);

/// The collector. For each configured collection in order: keyset walk (above), each page committed with
/// its events and checkpoint max(old, min(greatest change time of the page, poll start)); a page with
/// nothing new and no checkpoint to advance is not committed. A failure stops the poll with
/// that error; pages and collections committed before it stand. A row without ObjectID or a readable
/// EntityLastChangedOn is quarantined with its page (a page of nothing but such rows that asks for more
/// stops the walk: it gives no position to go on from). Outcome reasons besides those of c4c_request():
/// "parse" (unreadable page, an OData error object, a tenant that pages without progress), "outbox_full"
/// (checked before every request: no request is sent), "store". Runs on the event loop; never throws.
/// With PollContext::window (a backfill) each collection is walked from its window cursor (the greatest
/// change time committed, rows at it read again), else from the window's start, without overlap; rows
/// changed at or after the window's end end the walk, and the cursor is not capped at the poll's start.
class BusinessObjectsCollector final : public Collector {
public:
    boost::asio::awaitable<PollOutcome> poll(PollContext& context) override;
};

/// A collector for one tenant's business_objects source (the kind's factory). The poll reads its
/// settings from PollContext::source.
std::unique_ptr<Collector> make_business_objects_collector(const SourceConfig& config);

/// The feed's row of the collector table (collectors/registry.cpp): -> business_process_monitoring.
extern const CollectorKind k_business_objects_kind;

}  // namespace c4c::collectors
