#pragma once

// The extension point for C4C feeds. A collector turns one feed of one tenant into normalized events
// (infra/event.hpp) and hands them, page by page, to a FeedStore together with the feed's new
// checkpoint. Each feed is a CollectorKind (below), defined beside its collector; the kinds that exist
// are listed in one table, collectors/registry.cpp.

#include "collectors/c4c_config.hpp"
#include "collectors/source_config.hpp"
#include "infra/event.hpp"
#include "infra/http/client.hpp"
#include "infra/units.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::collectors {

// The normalized event is infra's (exporters read it too); collectors make it.
using infra::Attribute;
using infra::Event;
using infra::make_event_id;
using infra::Severity;

enum class CommitStatus {
    committed,    ///< events (minus already-seen ids) and checkpoint are durable
    outbox_full,  ///< nothing stored: the endpoint's outbox is at its limit; stop and retry next interval
    failed,       ///< nothing stored: the state store failed (logged by the store)
};

/// Why a C4C record could not be normalized (CONTRACT.md section 3). quarantine_label() is the `reason`
/// label of source_records_quarantined_total.
enum class QuarantineReason {
    unknown_timezone,  ///< an RTA CTIMESTAMP in an SAP time-zone code that is not mapped (or customer-defined)
    missing_key,       ///< no ObjectID, no BusinessDocumentMessageID
    invalid_time,      ///< a change or creation time missing, unparsable or out of range
    invalid_value,     ///< another field unusable: a key figure or status that is no number, a row that is no object
};
inline constexpr QuarantineReason k_quarantine_reasons[] = {
    QuarantineReason::unknown_timezone, QuarantineReason::missing_key, QuarantineReason::invalid_time,
    QuarantineReason::invalid_value};
/// "unknown_timezone", "missing_key", "invalid_time", "invalid_value".
const char* quarantine_label(QuarantineReason reason);

/// A C4C record that cannot be normalized. It is stored instead of an event (with its page and checkpoint),
/// so one bad record never stops a feed; `raw` is what a later `quarantine retry` normalizes again with
/// the normalize_*_raw() entry point of its collector.
struct QuarantinedRecord {
    QuarantineReason reason = QuarantineReason::invalid_value;
    std::string object_key;  ///< the record's key when it has one (ObjectID, BusinessDocumentMessageID, CSTEP_ID)
    std::string detail;      ///< one line for the operator: what is wrong, naming the field; never a user ID
    std::string raw;         ///< the record as C4C sent it: a row's JSON object, a message's XML element
};

/// Only reached through result::value() on a quarantined record; throws std::runtime_error with its detail.
[[noreturn]] void throw_exception_from_error(const QuarantinedRecord& record, const boost::source_location& location);

/// What one record's raw text normalizes to: its event, or why it is quarantined.
using Normalized = boost::system::result<Event, QuarantinedRecord>;

/// One page of a feed, for FeedStore::commit.
struct FeedPage {
    std::span<const Event> events;
    std::span<const QuarantinedRecord> quarantined;  ///< the page's records that could not be normalized
    std::string_view checkpoint;                     ///< the feed's new checkpoint
    /// The instant `checkpoint` stands for, ns since the epoch on the tenant's clock: the feed's next poll
    /// reads from it minus overlap, so no record before that can be read again (the store forgets
    /// event ids by it). nullopt while the checkpoint is empty (the next poll reads from now - lookback).
    std::optional<std::int64_t> checkpoint_time_ns;
};

/// Durable state of one source, implemented by the daemon on top of the state store.
/// All members run synchronously on the event loop and never throw.
class FeedStore {
public:
    virtual ~FeedStore() = default;
    /// The checkpoint last committed for `feed` (a collector-chosen key, e.g. a collection name),
    /// or an empty string when there is none yet.
    virtual std::string checkpoint(std::string_view feed) = 0;
    /// Stores the page's events whose event.id was never stored before, its quarantined records (those
    /// not quarantined before are counted and logged once) and the feed's new checkpoint, in one
    /// transaction. Returns the number of events newly stored through `stored` (may be 0).
    virtual CommitStatus commit(std::string_view feed, const FeedPage& page, std::size_t& stored) = 0;
    /// False while the endpoint this source feeds is at its outbox limit.
    virtual bool accepting() = 0;
};

/// Why a C4C request or a poll failed. `kind` is what the daemon acts on (an outbox_full poll blocks its
/// source without marking it down); label() is the `reason` label of source_errors_total.
struct FailureReason {
    enum class Kind {
        none,              ///< no failure
        network,           ///< the exchange did not complete: `error` says how (timeout, connect, tls, ...)
        http_status,       ///< C4C answered a status other than 2xx: `http_status`
        cancelled,         ///< shutdown cancelled the wait before a retry
        parse,             ///< an answer could not be read (or its paging made no progress)
        soap_fault,        ///< a SOAP Fault, or a query the tenant's log reports as refused
        outbox_full,       ///< nothing stored: the endpoint's outbox is at its limit
        store,             ///< nothing stored: the state store failed
        timezone,          ///< the tz database could not be read for an SAP time zone (an unknown code is quarantined)
        pseudonymization,  ///< the pseudonymization key could not be loaded or created
        paging,            ///< a data source did not end within the page cap
        internal,          ///< an unexpected exception inside the collector (or escaping it: daemon/scheduler)
    };
    Kind kind = Kind::none;
    unsigned http_status = 0;         ///< Kind::http_status only
    boost::system::error_code error;  ///< Kind::network only: what the HTTP client reported

    FailureReason() = default;
    FailureReason(Kind failure) : kind(failure) {}  // implicit: `outcome.reason = Kind::parse` says it all
    /// C4C answered `status`.
    static FailureReason http(unsigned status);
    /// The HTTP client failed with `error`.
    static FailureReason network(boost::system::error_code error);

    bool operator==(Kind other) const { return kind == other; }
    /// The metric label: "" for none, "http_<status>", the client's reason_label for network ("timeout",
    /// "connect", "tls", ...), else the kind's name ("parse", "soap_fault", "outbox_full", ...).
    std::string label() const;
};

/// Receives one call per C4C request, for source_request_duration_seconds and source_errors_total.
class RequestObserver {
public:
    virtual ~RequestObserver() = default;
    /// `error_reason` is empty on success, else a metric label ("timeout", "http_503", "parse", ...).
    virtual void request_done(std::chrono::duration<double> elapsed, std::string_view error_reason) = 0;
};

class TenantClock;

/// An explicit window of change times for a backfill (the operator's `backfill`): the poll reads the
/// records whose change time is in [from, to) with the same paging rules as a regular poll, instead of
/// those since the checkpoint. Its FeedStore is the job's: FeedStore::checkpoint() is the window's own
/// cursor ("" at the start of the window: read from `from`; else resume from it), and each commit carries
/// the cursor on. No overlap, no lookback and no cap at the poll's start apply; the source's regular
/// checkpoint is neither read nor moved. How each collector resumes is said at its poll().
struct PollWindow {
    std::chrono::system_clock::time_point from;  ///< inclusive, on the tenant's clock
    std::chrono::system_clock::time_point to;    ///< exclusive; the caller keeps it at most the tenant's now
};

/// Everything a poll may use. Owned by the daemon; valid for the duration of one poll.
struct PollContext {
    std::string_view tenant;
    const C4cConfig& c4c;
    const SourceConfig& source;
    infra::http::Client& http;  ///< the tenant's client (bounded by c4c.max_connections)
    FeedStore& store;
    RequestObserver& observer;
    std::filesystem::path state_dir;            ///< for per-installation keys (pseudonymization)
    std::chrono::system_clock::time_point now;  ///< start of this poll, on the host's clock
    TenantClock* clock = nullptr;               ///< the tenant's clock (collectors/tenant_clock.hpp); null: the host's
    bool dry_run = false;  ///< `--once --dry-run`: the poll creates and changes no file (not even state_dir)
    std::optional<PollWindow> window =
        std::nullopt;  ///< set for a backfill: read this window, not since the checkpoint
};

/// How a poll ended.
struct PollOutcome {
    bool ok = true;
    FailureReason reason;               ///< when !ok: what went wrong (reason.label() is the metric label)
    std::string message;                ///< one line for the operator: what failed, where, what to do
    bool auth_failed = false;           ///< 401/403: the source is down until the next interval
    std::uint64_t records = 0;          ///< records read from C4C in this poll
    std::uint64_t stored = 0;           ///< events newly stored in the outbox
    std::uint64_t failed_messages = 0;  ///< web-service messages seen in status Failed (health metric)
};

class Collector {
public:
    virtual ~Collector() = default;
    /// One poll: reads every page since the checkpoint (minus overlap), committing each page with its
    /// checkpoint as it goes; with PollContext::window, the window's pages from its cursor on instead.
    /// Runs on the event loop; never throws; on error the checkpoint stays where the last committed page
    /// left it.
    virtual boost::asio::awaitable<PollOutcome> poll(PollContext& context) = 0;
};

/// The defaults of the keys every feed has, for one kind of feed.
struct SourceDefaults {
    infra::Duration interval;
    int page_size;
    infra::Duration lookback;
    infra::Duration overlap;
};

/// A count of items that a feed sees failed upstream (PollOutcome::failed_messages): counted in
/// c4c_alm_collector_source_failed_messages_total and pushed to Health Monitoring under `name`.
struct FailedItemsMetric {
    std::string_view name;  ///< the Health Monitoring metric, e.g. "c4c.webservice_messages.failed"
    std::string_view description;
    std::string_view unit;
};

/// Everything a `quarantine retry` may use to normalize a quarantined record of a feed again.
struct RenormalizeContext {
    std::string_view tenant;
    const SourceConfig& source;  ///< the source's configuration as it is now
    std::string_view feed;       ///< the feed the record was read from (a collection name, "rta", "messages")
    std::filesystem::path state_dir;
    std::int64_t observed_unix_nano = 0;  ///< the event's observedTimeUnixNano
};

/// What the current code makes of a quarantined record's raw text.
struct Renormalized {
    /// Its event, or why it is still quarantined; nullopt when it could not be tried (`error` says why: an
    /// installation problem such as an unreadable pseudonymization key, not one of the record).
    std::optional<Normalized> record;
    std::string error;
};

/// One row of the collector table: everything the configuration and the daemon know of a kind of feed.
struct CollectorKind {
    std::string_view name;      ///< [tenants.sources.<name>], the `source` metrics label, `sap.c4c.source`
    std::string_view use_case;  ///< the Cloud ALM endpoint it feeds: [tenants.endpoints.<use_case>]
    SourceDefaults defaults;
    /// Reads the feed's own keys from its table (the common ones are read already) into its settings
    /// struct, the struct's defaults where a key is absent; reports problems through `reader`, at their
    /// positions. nullptr: the feed has no keys of its own.
    SourceSettings (*read_settings)(infra::ConfigReader& reader, infra::ConfigSection& section);
    /// A collector for one source of one tenant. Never throws.
    std::unique_ptr<Collector> (*make)(const SourceConfig& config);
    /// Set when the feed counts failed items upstream.
    std::optional<FailedItemsMetric> failed_items;
    /// The instant a stored checkpoint of this feed stands for (each collector writes its own text), for
    /// the operator's `status`; nullopt when it is empty or unreadable.
    std::optional<std::chrono::system_clock::time_point> (*checkpoint_instant)(std::string_view checkpoint) = nullptr;
    /// Normalizes a quarantined record's raw text (QuarantinedRecord::raw of this feed) again with the current
    /// code, for `quarantine retry`: the same verdict and event as the page path for the same record. Runs
    /// synchronously, on any thread; never throws.
    Renormalized (*renormalize)(const RenormalizeContext& context, std::string_view raw) = nullptr;
};

/// Every collector that exists, in one place (collectors/registry.cpp), in the order messages list them.
std::span<const CollectorKind* const> collector_kinds();

/// The kind named `name` among `kinds`, or nullptr.
const CollectorKind* find_collector_kind(std::span<const CollectorKind* const> kinds, std::string_view name);

}  // namespace c4c::collectors
