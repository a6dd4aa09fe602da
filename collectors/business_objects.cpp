#include "collectors/business_objects.hpp"

#include "collectors/c4c_request.hpp"
#include "collectors/tenant_clock.hpp"
#include "infra/config_reader.hpp"
#include "infra/time.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

// GCC 12 reports a false -Wmismatched-new-delete for poll_collection()'s awaitable frame once it is
// co_spawned from poll() (the frame's class-specific operator new and delete do match).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace c4c::collectors {

namespace asio = boost::asio;

namespace {

constexpr std::int64_t k_ns_per_ms = 1'000'000;
constexpr std::size_t k_collection_lanes = 2;  // see BusinessObjectsCollector::poll

// The row members an event is made of. A row is scanned once into these slots (rather than looked up
// member by member): at a few hundred thousand rows a second, the lookups were a tenth of the time.
enum Slot : std::uint8_t {
    object_id,
    id,
    changed_on,
    creation_time,
    name,
    created_by,
    last_changed_by,
    life_cycle_status,
    life_cycle_status_text,
    service_request_status,
    service_request_status_text,
    status,
    status_text,
    amount_value,
    currency_code,
    expected_revenue,
    expected_revenue_currency,
    net_amount,
    net_amount_currency,
    total_net_amount,
    total_net_amount_currency,
    service_priority,
    priority,
    processing_type,
    k_slot_count,
};

struct SlotName {
    std::string_view name;
    Slot slot;
};

constexpr std::array k_slot_names{
    SlotName{"ObjectID", object_id},
    SlotName{"ID", id},
    SlotName{"EntityLastChangedOn", changed_on},
    SlotName{"CreationDateTime", creation_time},
    SlotName{"Name", name},
    SlotName{"CreatedBy", created_by},
    SlotName{"LastChangedBy", last_changed_by},
    SlotName{"LifeCycleStatusCode", life_cycle_status},
    SlotName{"LifeCycleStatusCodeText", life_cycle_status_text},
    SlotName{"ServiceRequestLifeCycleStatusCode", service_request_status},
    SlotName{"ServiceRequestLifeCycleStatusCodeText", service_request_status_text},
    SlotName{"StatusCode", status},
    SlotName{"StatusCodeText", status_text},
    SlotName{"AmountValue", amount_value},
    SlotName{"CurrencyCode", currency_code},
    SlotName{"ExpectedRevenueAmount", expected_revenue},
    SlotName{"ExpectedRevenueAmountCurrencyCode", expected_revenue_currency},
    SlotName{"NetAmount", net_amount},
    SlotName{"NetAmountCurrencyCode", net_amount_currency},
    SlotName{"TotalNetAmount", total_net_amount},
    SlotName{"TotalNetAmountCurrencyCode", total_net_amount_currency},
    SlotName{"ServicePriorityCode", service_priority},
    SlotName{"PriorityCode", priority},
    SlotName{"ProcessingTypeCode", processing_type},
};
static_assert(k_slot_names.size() == k_slot_count);

struct SlotPair {
    Slot first;
    Slot second;
};

// Where collections keep their status: most in LifeCycleStatusCode, tickets in their own field.
constexpr std::array k_status_slots{
    SlotPair{life_cycle_status, life_cycle_status_text},
    SlotPair{service_request_status, service_request_status_text},
    SlotPair{status, status_text},
};

constexpr std::array k_amount_slots{
    SlotPair{amount_value, currency_code},
    SlotPair{expected_revenue, expected_revenue_currency},
    SlotPair{net_amount, net_amount_currency},
    SlotPair{total_net_amount, total_net_amount_currency},
};

struct RowFields {
    std::array<std::string_view, k_slot_count> value{};
    std::array<bool, k_slot_count> present{};
};

RowFields extract_fields(const ODataRow& row)
{
    RowFields fields;
    row.for_each([&fields](std::string_view member, std::string_view value) {
        for (const auto& slot : k_slot_names) {
            if (slot.name.size() == member.size() && slot.name == member) {
                fields.value[slot.slot] = value;  // of duplicate members the last one counts, as in ODataRow::get
                fields.present[slot.slot] = true;
                return;
            }
        }
    });
    return fields;
}

struct RowProblem {
    QuarantineReason reason;
    std::string text;
};

std::optional<RowProblem> row_problem(std::string_view collection, const RowFields& fields)
{
    const std::string which =
        fields.value[id].empty() ? std::string("a row without ID") : fmt::format("row ID '{}'", fields.value[id]);
    if (fields.value[object_id].empty()) {
        return RowProblem{QuarantineReason::missing_key, fmt::format("{}: {} has no ObjectID", collection, which)};
    }
    if (!fields.present[changed_on]) {
        return RowProblem{QuarantineReason::invalid_time, fmt::format("{}: {} (ObjectID {}) has no EntityLastChangedOn",
                                                                      collection, which, fields.value[object_id])};
    }
    if (!parse_odata_date(fields.value[changed_on])) {
        return RowProblem{QuarantineReason::invalid_time,
                          fmt::format("{}: {} (ObjectID {}) has an unreadable EntityLastChangedOn '{}'", collection,
                                      which, fields.value[object_id], fields.value[changed_on])};
    }
    return std::nullopt;
}

std::optional<std::int64_t> checkpoint_time_ns(std::optional<std::int64_t> checkpoint_ms)
{
    if (!checkpoint_ms) {
        return std::nullopt;
    }
    return *checkpoint_ms * k_ns_per_ms;
}

void add_string(Event& event, std::string_view key, std::string_view value)
{
    if (!value.empty()) {
        // Built in place (clang 14 has no parenthesized aggregate initialization, and GCC 12 warns about
        // a moved variant's uninitialized alternatives).
        Attribute& attribute = event.attributes.emplace_back();
        attribute.key = key;
        attribute.value.emplace<std::string>(value);
    }
}

Event normalize_fields(std::string_view tenant, std::string_view collection, const RowFields& fields,
                       std::int64_t changed_ms, std::int64_t observed_unix_nano)
{
    const std::string_view object = fields.value[object_id];
    const std::int64_t changed_ns = changed_ms * k_ns_per_ms;

    Event event;
    event.id = make_event_id(tenant, k_source_business_objects, collection, object, changed_ns);
    event.source = k_source_business_objects;
    event.object_type = std::string(collection);
    event.object_id = std::string(object);
    event.time_unix_nano = changed_ns;
    event.observed_unix_nano = observed_unix_nano;
    event.severity = Severity::info;

    std::string_view status_code;
    std::string_view status_text;
    for (const auto& pair : k_status_slots) {
        if (!fields.value[pair.first].empty()) {
            status_code = fields.value[pair.first];
            status_text = fields.value[pair.second];
            break;
        }
    }
    // (Not an optional: GCC 12 warns about a maybe-uninitialized optional<int64_t> here.)
    std::int64_t created_ms = 0;
    bool has_created = false;
    if (auto parsed = parse_odata_date(fields.value[creation_time])) {
        created_ms = *parsed;
        has_created = true;
    }

    // Appended piece by piece: fmt::format's general path is a measurable share of the per-record budget.
    const std::string_view business_id = fields.value[id];
    std::string& body = event.body;
    body.reserve(64);
    body = business_object_name(collection);
    body += ' ';
    body += business_id.empty() ? object : business_id;
    body += has_created && created_ms == changed_ms ? " created" : " changed";
    if (!status_code.empty()) {
        body += ": status ";
        body += status_code;
        if (!status_text.empty()) {
            body += " (";
            body += status_text;
            body += ')';
        }
    }

    event.attributes.reserve(11);
    add_string(event, "sap.c4c.id", business_id);
    add_string(event, "sap.c4c.status_code", status_code);
    add_string(event, "sap.c4c.status_text", status_text);
    add_string(event, "sap.c4c.name", fields.value[name]);
    add_string(event, "sap.c4c.created_by", fields.value[created_by]);
    add_string(event, "sap.c4c.last_changed_by", fields.value[last_changed_by]);
    if (has_created) {
        Attribute& attribute = event.attributes.emplace_back();
        attribute.key = "sap.c4c.creation_time";
        attribute.value = format_datetimeoffset(created_ms);
    }
    for (const auto& pair : k_amount_slots) {
        if (!fields.value[pair.first].empty()) {
            add_string(event, "sap.c4c.amount", fields.value[pair.first]);
            const auto currency = fields.value[pair.second];
            add_string(event, "sap.c4c.currency", currency.empty() ? fields.value[currency_code] : currency);
            break;
        }
    }
    add_string(event, "sap.c4c.priority_code",
               fields.value[service_priority].empty() ? fields.value[priority] : fields.value[service_priority]);
    add_string(event, "sap.c4c.processing_type_code", fields.value[processing_type]);
    return event;
}

// Walks one collection; returns a failed outcome, or nullopt when the collection was read to its end.
asio::awaitable<std::optional<PollOutcome>> poll_collection(PollContext& context, const std::string& collection,
                                                            PollOutcome& outcome)
{
    const auto& source = context.source;
    const auto& settings = source.settings.get<BusinessObjectsSettings>();
    const std::size_t page_size = static_cast<std::size_t>(std::max(1, source.page_size));

    const std::string stored_checkpoint = context.store.checkpoint(collection);
    std::optional<std::int64_t> committed = parse_business_objects_checkpoint(stored_checkpoint);
    if (!stored_checkpoint.empty() && !committed) {
        spdlog::warn("tenant {} source {}: stored checkpoint '{}' of {} is unreadable; reading from now - lookback",
                     context.tenant, source.name, stored_checkpoint, collection);
    }
    // A checkpoint ahead of the clock (the clock went back) counts as now, or nothing would be read until
    // the clock caught up. Change times are the tenant's, so "now" is too.
    const std::int64_t now_ms = infra::unix_millis(tenant_now(context));
    std::int64_t lower =
        committed ? std::min(*committed, now_ms) - source.overlap.count() : now_ms - source.lookback.count();
    // A backfill window: from its cursor (rows at it are read again, and dropped by the job's store), else
    // from its start; rows changed at or after its end are not the window's.
    const std::optional<std::int64_t> window_end =
        context.window ? std::optional<std::int64_t>(infra::unix_millis(context.window->to)) : std::nullopt;
    if (context.window) {
        lower = committed ? *committed : infra::unix_millis(context.window->from);
    }

    KeysetWalk walk(lower, page_size);
    const std::size_t page_cap = business_objects_page_cap(page_size);
    std::vector<RowFields> fields;    // views into the current page's rows
    std::vector<std::size_t> usable;  // indexes of the rows that can be normalized
    std::vector<KeysetWalk::Key> keys;
    std::vector<bool> fresh;
    std::vector<Event> events;
    std::vector<QuarantinedRecord> bad;

    for (std::size_t page_number = 1; !walk.done(); ++page_number) {
        const std::string where = fmt::format("{} page {}", collection, page_number);
        if (page_number > page_cap) {
            co_return with_progress(
                parse_failure(context, where,
                              fmt::format("more than {} pages in one poll: rows change faster than they can be "
                                          "read, or the tenant ignores $filter; paging stopped",
                                          page_cap)),
                outcome);
        }
        if (!context.store.accepting()) {
            co_return with_progress(commit_failure(context, CommitStatus::outbox_full), outcome);
        }

        infra::http::Request request;
        request.method = infra::http::Method::get;
        request.url = business_objects_url(context.c4c.url, settings.service, collection, walk.query(), page_size);
        request.headers = {{"Accept", "application/json"}};
        auto reply = co_await c4c_request(context, std::move(request));
        if (!reply.ok) {
            std::string detail;
            if (reply.response.status >= 400 && !reply.response.body.empty()) {
                // C4C explains a refused query (unknown collection or property) in an OData error object.
                auto error = parse_odata_page(reply.response.body);
                if (!error && error.error().kind == ODataError::Kind::service) {
                    detail = fmt::format(": {}", error.error().message);
                }
            }
            reply.message += fmt::format(" ({}{})", where, detail);
            co_return with_progress(failed_outcome(context, reply), outcome);
        }

        auto parsed = parse_odata_page(reply.response.body);
        if (!parsed) {
            co_return with_progress(parse_failure(context, where, parsed.error().message), outcome);
        }
        const ODataPage& page = *parsed;

        // A row that cannot be normalized is quarantined with its text as sent; the walk goes on over the
        // others (a row without its key or change time gives it no position anyway).
        keys.clear();
        keys.reserve(page.rows.size());
        fields.clear();
        fields.reserve(page.rows.size());
        usable.clear();
        bad.clear();
        bool past_window = false;
        for (std::size_t i = 0; i < page.rows.size(); ++i) {
            fields.push_back(extract_fields(page.rows[i]));
            const RowFields& row_fields = fields.back();
            if (auto problem = row_problem(collection, row_fields)) {
                const ODataRow& row = page.rows[i];
                bad.push_back(QuarantinedRecord{problem->reason, std::string(row_fields.value[object_id]),
                                                std::move(problem->text),
                                                reply.response.body.substr(row.raw_offset(), row.raw_size())});
                continue;
            }
            const std::int64_t changed = *parse_odata_date(row_fields.value[changed_on]);  // checked just above
            if (window_end && changed >= *window_end) {
                // Rows come in ascending change time: this one and every later one are past the window.
                past_window = true;
                continue;
            }
            usable.push_back(i);
            keys.push_back(KeysetWalk::Key{row_fields.value[object_id], changed});
        }
        reply.response.body = std::string();
        const bool more = !past_window && (page.next.has_value() || page.rows.size() >= page_size);
        if (keys.empty() && more) {
            co_return with_progress(
                parse_failure(context, where,
                              fmt::format("all {} rows of the page were quarantined, so the walk has no position to "
                                          "continue from; raise page_size",
                                          page.rows.size())),
                outcome);
        }
        if (auto problem = walk.accept(keys, more, fresh); !problem.empty()) {
            co_return with_progress(parse_failure(context, where, problem), outcome);
        }

        const std::int64_t observed = infra::unix_nanos(std::chrono::system_clock::now());
        events.clear();
        events.reserve(keys.size());
        std::optional<std::int64_t> page_max;
        for (std::size_t k = 0; k < keys.size(); ++k) {
            page_max = std::max(page_max.value_or(keys[k].time_ms), keys[k].time_ms);
            if (fresh[k]) {
                events.push_back(
                    normalize_fields(context.tenant, collection, fields[usable[k]], keys[k].time_ms, observed));
            }
        }
        outcome.records += events.size() + bad.size();

        // Every row changed before page_max is stored once this page is: earlier pages and this one
        // covered [lower, page_max] in change-time order. A change time after the start of this poll on the
        // tenant's clock (a bogus date far in the future) would carry the checkpoint past rows still to
        // come; it is held at the poll's start instead, and the rows after it are read again (and dropped
        // by event.id) until the clock passes them.
        std::optional<std::int64_t> checkpoint = committed;
        if (page_max) {
            const std::int64_t candidate = window_end ? *page_max : std::min(*page_max, now_ms);
            if (!checkpoint || candidate > *checkpoint) {
                checkpoint = candidate;
            }
        }
        if (events.empty() && bad.empty() && checkpoint == committed) {
            continue;
        }
        std::size_t stored = 0;
        const std::string checkpoint_text = checkpoint ? std::to_string(*checkpoint) : stored_checkpoint;
        const auto status = context.store.commit(
            collection, FeedPage{events, bad, checkpoint_text, checkpoint_time_ns(checkpoint)}, stored);
        if (status != CommitStatus::committed) {
            co_return with_progress(commit_failure(context, status), outcome);
        }
        committed = checkpoint;
        outcome.stored += stored;
        spdlog::debug("tenant {} source {}: {}: {} rows, {} new events, checkpoint {}", context.tenant, source.name,
                      where, page.rows.size(), stored, checkpoint_text);
    }
    co_return std::nullopt;
}

// The collections of a poll side by side: each lane reads its share of them one after the other.
struct PollLanes {
    const std::vector<std::string>& collections;
    std::vector<PollOutcome> progress = std::vector<PollOutcome>(collections.size());
    std::vector<std::optional<PollOutcome>> failures = std::vector<std::optional<PollOutcome>>(collections.size());
    bool failed = false;  ///< once a collection failed, no lane starts another (a 401 or a dead tenant fails all)
};

asio::awaitable<void> poll_lane(PollContext& context, PollLanes& lanes, std::size_t first, std::size_t stride)
{
    for (std::size_t i = first; i < lanes.collections.size() && !lanes.failed; i += stride) {
        lanes.failures[i] = co_await poll_collection(context, lanes.collections[i], lanes.progress[i]);
        lanes.failed = lanes.failed || lanes.failures[i].has_value();
    }
}

}  // namespace

std::string business_object_name(std::string_view collection)
{
    if (collection == "OpportunityCollection") {
        return "Opportunity";
    }
    if (collection == "SalesOrderCollection") {
        return "Sales order";
    }
    if (collection == "LeadCollection") {
        return "Lead";
    }
    if (collection == "ServiceRequestCollection") {
        return "Ticket";
    }
    constexpr std::string_view k_suffix = "Collection";
    if (collection.size() > k_suffix.size() && collection.ends_with(k_suffix)) {
        collection.remove_suffix(k_suffix.size());
    }
    return std::string(collection);
}

Event normalize_business_object(std::string_view tenant, std::string_view collection, const ODataRow& row,
                                std::int64_t observed_unix_nano)
{
    const RowFields fields = extract_fields(row);
    return normalize_fields(tenant, collection, fields, parse_odata_date(fields.value[changed_on]).value_or(0),
                            observed_unix_nano);
}

std::string business_object_row_problem(std::string_view collection, const ODataRow& row)
{
    auto problem = row_problem(collection, extract_fields(row));
    return problem ? std::move(problem->text) : std::string();
}

Normalized normalize_business_object_raw(std::string_view tenant, std::string_view collection, std::string_view raw,
                                         std::int64_t observed_unix_nano)
{
    // The row's object, as one page holding it: the same parser and checks as the page path.
    std::string page_text = "{\"d\":{\"results\":[";
    page_text += raw;
    page_text += "]}}";
    const auto page = parse_odata_page(page_text);
    if (!page || page->rows.size() != 1 || page->rows[0].raw_size() != raw.size()) {
        return QuarantinedRecord{QuarantineReason::invalid_value,
                                 {},
                                 fmt::format("{}: the record is not one JSON object", collection),
                                 std::string(raw)};
    }
    const RowFields fields = extract_fields(page->rows[0]);
    if (auto problem = row_problem(collection, fields)) {
        return QuarantinedRecord{problem->reason, std::string(fields.value[object_id]), std::move(problem->text),
                                 std::string(raw)};
    }
    return normalize_fields(tenant, collection, fields, *parse_odata_date(fields.value[changed_on]),
                            observed_unix_nano);
}

std::optional<std::int64_t> parse_business_objects_checkpoint(std::string_view checkpoint)
{
    std::int64_t ms = 0;
    auto [end, ec] = std::from_chars(checkpoint.data(), checkpoint.data() + checkpoint.size(), ms);
    if (checkpoint.empty() || ec != std::errc{} || end != checkpoint.data() + checkpoint.size()) {
        return std::nullopt;
    }
    return ms;
}

// ---------------------------------------------------------------------------------------------------------
// KeysetWalk

KeysetWalk::KeysetWalk(std::int64_t lower_bound_ms, std::size_t page_size)
    : m_page_size(std::max<std::size_t>(1, page_size))
{
    m_query.time_ms = lower_bound_ms;
    m_seen_time = std::numeric_limits<std::int64_t>::min();
}

void KeysetWalk::remember(std::int64_t time_ms, std::string_view object_id)
{
    if (time_ms != m_seen_time) {
        m_seen.clear();
        m_seen_time = time_ms;
    }
    m_seen.emplace(object_id);
}

std::string KeysetWalk::accept(std::span<const Key> rows, bool has_next, std::vector<bool>& fresh)
{
    fresh.assign(rows.size(), true);
    const bool more = has_next || rows.size() >= m_page_size;
    const auto seen = [this](const Key& key) {
        return key.time_ms == m_seen_time && m_seen.contains(std::string(key.object_id));
    };

    if (m_query.instant) {
        const std::int64_t instant = m_query.time_ms;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (rows[i].time_ms != instant) {
                return fmt::format("row ObjectID {} changed at {} lies outside the instant {} that was asked for",
                                   rows[i].object_id, format_datetimeoffset(rows[i].time_ms),
                                   format_datetimeoffset(instant));
            }
            fresh[i] = !seen(rows[i]);
            remember(instant, rows[i].object_id);
        }
        if (more && !rows.empty()) {
            const std::string_view last = rows.back().object_id;
            if (m_query.after_object_id && last <= *m_query.after_object_id) {
                return fmt::format("no progress inside instant {}: the page ends at ObjectID {}, not after {}",
                                   format_datetimeoffset(instant), last, *m_query.after_object_id);
            }
            m_query.after_object_id = std::string(last);
        } else {
            // The instant is read to its end; nothing at it can be returned again.
            m_query = Query{false, instant + 1, std::nullopt};
            m_seen.clear();
        }
        return {};
    }

    const std::int64_t lower = m_query.time_ms;
    if (rows.empty()) {
        m_done = true;
        return {};
    }
    std::int64_t previous = lower;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (rows[i].time_ms < previous) {
            return rows[i].time_ms < lower
                       ? fmt::format("row ObjectID {} changed at {}, before the $filter's lower bound {}",
                                     rows[i].object_id, format_datetimeoffset(rows[i].time_ms),
                                     format_datetimeoffset(lower))
                       : fmt::format("rows are not in ascending EntityLastChangedOn order (ObjectID {} at {} "
                                     "after {})",
                                     rows[i].object_id, format_datetimeoffset(rows[i].time_ms),
                                     format_datetimeoffset(previous));
        }
        previous = rows[i].time_ms;
        fresh[i] = !seen(rows[i]);
    }
    // Rows are in ascending order, so the last one holds the greatest change time; only rows at it can
    // come again with the next query.
    const std::int64_t greatest = rows.back().time_ms;
    for (auto it = rows.rbegin(); it != rows.rend() && it->time_ms == greatest; ++it) {
        remember(greatest, it->object_id);
    }
    if (!more) {
        m_done = true;
    } else if (rows.front().time_ms == greatest) {
        m_query = Query{true, greatest, std::nullopt};
    } else {
        m_query = Query{false, greatest, std::nullopt};
    }
    return {};
}

std::string business_objects_url(std::string_view c4c_url, std::string_view service, std::string_view collection,
                                 const KeysetWalk::Query& query, std::size_t page_size)
{
    while (c4c_url.ends_with('/')) {
        c4c_url.remove_suffix(1);
    }
    std::string url = fmt::format("{}/sap/c4c/odata/v1/{}/{}?$format=json&$filter=", c4c_url, service, collection);
    if (!query.instant) {
        url +=
            url_encode(fmt::format("EntityLastChangedOn ge datetimeoffset'{}'", format_datetimeoffset(query.time_ms)));
        url += "&$orderby=";
        url += url_encode("EntityLastChangedOn asc");
        url += fmt::format("&$top={}&$inlinecount=allpages", page_size);
        return url;
    }
    std::string filter =
        fmt::format("EntityLastChangedOn ge datetimeoffset'{}' and EntityLastChangedOn lt datetimeoffset'{}'",
                    format_datetimeoffset(query.time_ms), format_datetimeoffset(query.time_ms + 1));
    if (query.after_object_id) {
        filter += " and ObjectID gt ";
        filter += odata_string_literal(*query.after_object_id);
    }
    url += url_encode(filter);
    url += "&$orderby=";
    url += url_encode("ObjectID asc");
    url += fmt::format("&$top={}", page_size);
    return url;
}

std::size_t business_objects_page_cap(std::size_t page_size)
{
    return std::max<std::size_t>(100, 10'000'000 / std::max<std::size_t>(1, page_size));
}

// The collections are independent feeds, each with its own checkpoint (and a backfill's cursor per feed):
// they are read side by side in k_collection_lanes lanes, so that one collection's round trip to C4C
// overlaps another's parsing and storing. Two lanes keep the event loop busy; more only add pages held in
// memory at once. Each commit is one synchronous transaction on the event loop, so pages of different
// collections never interleave inside one. The first failure in configuration order is the poll's, with
// the progress of all.
asio::awaitable<PollOutcome> BusinessObjectsCollector::poll(PollContext& context)
{
    PollLanes lanes{context.source.settings.get<BusinessObjectsSettings>().collections};
    const std::size_t count = std::min(k_collection_lanes, lanes.collections.size());
    if (count <= 1) {
        co_await poll_lane(context, lanes, 0, 1);
    } else {
        const auto executor = co_await asio::this_coro::executor;
        using Operation = decltype(asio::co_spawn(executor, std::declval<asio::awaitable<void>>(), asio::deferred));
        std::vector<Operation> operations;
        operations.reserve(count);
        for (std::size_t lane = 0; lane < count; ++lane) {
            operations.push_back(asio::co_spawn(executor, poll_lane(context, lanes, lane, count), asio::deferred));
        }
        auto [order, exceptions] = co_await asio::experimental::make_parallel_group(std::move(operations))
                                       .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
        for (const std::exception_ptr& exception : exceptions) {
            if (exception) {
                std::rethrow_exception(exception);  // the scheduler counts it as reason "internal"
            }
        }
    }
    PollOutcome outcome;
    for (const PollOutcome& part : lanes.progress) {
        outcome.records += part.records;
        outcome.stored += part.stored;
        outcome.failed_messages += part.failed_messages;
    }
    for (std::optional<PollOutcome>& failure : lanes.failures) {
        if (failure) {
            co_return with_progress(std::move(*failure), outcome);
        }
    }
    co_return outcome;
}

std::unique_ptr<Collector> make_business_objects_collector(const SourceConfig& /*config*/)
{
    return std::make_unique<BusinessObjectsCollector>();
}

namespace {

SourceSettings read_business_objects_settings(infra::ConfigReader& reader, infra::ConfigSection& section)
{
    using infra::checks::is_word;
    BusinessObjectsSettings settings;
    reader.read(section, "service", settings.service, infra::checks::word);
    reader.read(section, "collections", settings.collections, [](const std::vector<std::string>& collections) {
        if (collections.empty()) {
            return std::string("must name at least one collection");
        }
        if (!std::all_of(collections.begin(), collections.end(), is_word)) {
            return std::string("each collection must be non-empty and use only [A-Za-z0-9_]");
        }
        const std::set<std::string_view> unique(collections.begin(), collections.end());
        return unique.size() == collections.size() ? std::string() : "names a collection twice";
    });
    return settings;
}

}  // namespace

namespace {

std::optional<std::chrono::system_clock::time_point> business_objects_checkpoint_instant(std::string_view checkpoint)
{
    const auto ms = parse_business_objects_checkpoint(checkpoint);
    if (!ms || *ms < 0 || *ms / 1000 >= infra::k_max_unix_seconds) {
        return std::nullopt;
    }
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(*ms));
}

}  // namespace

namespace {

Renormalized renormalize_business_object(const RenormalizeContext& context, std::string_view raw)
{
    return Renormalized{normalize_business_object_raw(context.tenant, context.feed, raw, context.observed_unix_nano),
                        {}};
}

}  // namespace

const CollectorKind k_business_objects_kind{
    .name = k_source_business_objects,
    .use_case = "business_process_monitoring",
    .defaults = {.interval = std::chrono::seconds(60),
                 .page_size = 1000,
                 .lookback = std::chrono::hours(24),
                 .overlap = std::chrono::minutes(2)},
    .read_settings = &read_business_objects_settings,
    .make = &make_business_objects_collector,
    .failed_items = std::nullopt,
    .checkpoint_instant = &business_objects_checkpoint_instant,
    .renormalize = &renormalize_business_object,
};

}  // namespace c4c::collectors
