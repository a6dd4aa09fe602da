#include "collectors_support.hpp"

#include "collectors/business_objects.hpp"
#include "collectors/c4c_request.hpp"
#include "collectors/odata.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace c4c::collectors;
using namespace collector_tests;
using c4c::infra::http::ServerRequest;
using c4c::infra::http::ServerResponse;

namespace {

constexpr std::string_view k_tenant = "acme-prod";
constexpr std::string_view k_opportunities = "OpportunityCollection";
constexpr std::int64_t k_t0 = 1795654682037;  // EntityLastChangedOn of the opportunity sample's first row
constexpr std::int64_t k_now = k_t0 + 3'600'000;
constexpr std::int64_t k_overlap_ms = 120'000;

ODataRow make_row(std::initializer_list<std::pair<std::string_view, std::string_view>> fields)
{
    ODataRow row;
    for (const auto& [name, value] : fields) {
        row.add(name, value);
    }
    return row;
}

std::string encoded_iso(std::int64_t ms)
{
    std::string out;
    for (char c : format_datetimeoffset(ms)) {
        if (c == ':') {
            out += "%3A";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// -------------------------------------------------------------------------------------------------------
// A fake C4C OData service: collections in memory, queries evaluated the way C4C does ($filter with
// ge/gt/le/lt/eq/ne over EntityLastChangedOn and ObjectID joined by `and`, $orderby, $skip, $top,
// $inlinecount, __next when more rows match than were returned).

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int number(std::string_view text)
{
    int value = -1;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

/// "YYYY-MM-DDThh:mm:ss.fffZ" -> unix ms (the only form the collector sends).
std::optional<std::int64_t> parse_iso_ms(std::string_view s)
{
    if (s.size() != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
        s[23] != 'Z') {
        return std::nullopt;
    }
    const std::int64_t days = days_from_civil(number(s.substr(0, 4)), static_cast<unsigned>(number(s.substr(5, 2))),
                                              static_cast<unsigned>(number(s.substr(8, 2))));
    return days * 86'400'000 + number(s.substr(11, 2)) * 3'600'000LL + number(s.substr(14, 2)) * 60'000LL +
           number(s.substr(17, 2)) * 1000LL + number(s.substr(20, 3));
}

struct FakeRow {
    std::string object_id;
    std::string id;
    std::int64_t changed_ms = 0;
    std::uint64_t sequence = 0;    // order among rows of one change time: when it was (last) written
    bool unreadable_time = false;  // EntityLastChangedOn is sent as text no parser reads
};

struct Clause {
    std::string field;
    std::string op;
    bool is_time = false;
    std::int64_t time = 0;
    std::string text;
};

struct FakeQuery {
    std::string collection;
    std::map<std::string, std::string> params;  // decoded
    std::vector<Clause> filter;
    std::string error;
};

FakeQuery parse_target(std::string_view target)
{
    FakeQuery query;
    const auto question = target.find('?');
    const std::string_view path = target.substr(0, question);
    constexpr std::string_view k_prefix = "/sap/c4c/odata/v1/c4codataapi/";
    if (!path.starts_with(k_prefix)) {
        query.error = "unknown service";
        return query;
    }
    query.collection = std::string(path.substr(k_prefix.size()));
    query.params = query_of(target);
    std::string_view filter = query.params["$filter"];
    while (!filter.empty()) {
        const auto and_pos = filter.find(" and ");
        std::string_view clause_text = filter.substr(0, and_pos);
        filter = and_pos == std::string_view::npos ? std::string_view{} : filter.substr(and_pos + 5);
        const auto s1 = clause_text.find(' ');
        const auto s2 = clause_text.find(' ', s1 + 1);
        if (s1 == std::string_view::npos || s2 == std::string_view::npos) {
            query.error = fmt::format("malformed clause '{}'", clause_text);
            return query;
        }
        Clause clause;
        clause.field = std::string(clause_text.substr(0, s1));
        clause.op = std::string(clause_text.substr(s1 + 1, s2 - s1 - 1));
        std::string_view literal = clause_text.substr(s2 + 1);
        constexpr std::string_view k_dto = "datetimeoffset'";
        if (literal.starts_with(k_dto) && literal.ends_with('\'')) {
            auto ms = parse_iso_ms(literal.substr(k_dto.size(), literal.size() - k_dto.size() - 1));
            if (!ms) {
                query.error = fmt::format("bad datetimeoffset literal {}", literal);
                return query;
            }
            clause.is_time = true;
            clause.time = *ms;
        } else if (literal.size() >= 2 && literal.starts_with('\'') && literal.ends_with('\'')) {
            literal = literal.substr(1, literal.size() - 2);
            for (std::size_t i = 0; i < literal.size(); ++i) {
                clause.text.push_back(literal[i]);
                if (literal[i] == '\'') {
                    ++i;  // '' -> '
                }
            }
        } else {
            query.error = fmt::format("bad literal {}", literal);
            return query;
        }
        if (clause.field == "EntityLastChangedOn" ? !clause.is_time : (clause.field != "ObjectID" || clause.is_time)) {
            query.error = fmt::format("property {} cannot be compared with {}", clause.field, literal);
            return query;
        }
        static const std::set<std::string> k_ops{"eq", "ne", "gt", "ge", "lt", "le"};
        if (!k_ops.contains(clause.op)) {
            query.error = fmt::format("operator {} not supported", clause.op);
            return query;
        }
        query.filter.push_back(std::move(clause));
    }
    return query;
}

template <class T>
bool compare(const T& a, const std::string& op, const T& b)
{
    if (op == "eq")
        return a == b;
    if (op == "ne")
        return a != b;
    if (op == "gt")
        return a > b;
    if (op == "ge")
        return a >= b;
    if (op == "lt")
        return a < b;
    return a <= b;
}

std::string odata_error_body(std::string_view message)
{
    return fmt::format(R"({{"error":{{"code":"SY/530","message":{{"lang":"en","value":"{}"}}}}}})", message);
}

class FakeC4c {
public:
    std::map<std::string, std::vector<FakeRow>, std::less<>> collections;
    std::vector<std::string> targets;
    std::vector<std::string> authorizations;
    /// Called before request number `index` (0-based) is evaluated: rows may change here.
    std::function<void(std::size_t index, FakeC4c&)> before_request;
    /// Request number -> canned answer instead of a page.
    std::map<std::size_t, ServerResponse> scripted;
    /// Server-driven paging: at most this many rows per answer, whatever $top asks (then __next follows).
    std::size_t server_page_limit = std::numeric_limits<std::size_t>::max();

    void add(std::string_view collection, std::string object_id, std::string id, std::int64_t changed_ms)
    {
        collections[std::string(collection)].push_back(
            FakeRow{std::move(object_id), std::move(id), changed_ms, m_sequence++});
    }

    /// A user saves the record: it gets a new change time and moves behind every row already at that time.
    void change(std::string_view collection, std::string_view object_id, std::int64_t changed_ms)
    {
        for (auto& row : collections[std::string(collection)]) {
            if (row.object_id == object_id) {
                row.changed_ms = changed_ms;
                row.sequence = m_sequence++;
                return;
            }
        }
        FAIL("no such row " << object_id);
    }

    const FakeRow& row(std::string_view collection, std::size_t index)
    {
        return collections[std::string(collection)].at(index);
    }

    /// Every row matching the query's $filter, in $orderby order (before $skip/$top).
    std::vector<FakeRow> evaluate(const FakeQuery& query)
    {
        std::vector<FakeRow> matched;
        for (const auto& row : collections[query.collection]) {
            bool ok = true;
            for (const auto& clause : query.filter) {
                ok = ok && (clause.is_time ? compare(row.changed_ms, clause.op, clause.time)
                                           : compare(row.object_id, clause.op, clause.text));
            }
            if (ok) {
                matched.push_back(row);
            }
        }
        const std::string orderby = query.params.contains("$orderby") ? query.params.at("$orderby") : "";
        if (orderby == "ObjectID asc") {
            std::sort(matched.begin(), matched.end(),
                      [](const FakeRow& a, const FakeRow& b) { return a.object_id < b.object_id; });
        } else {
            // Ties keep the order in which the rows were written, which has nothing to do with ObjectID.
            std::sort(matched.begin(), matched.end(), [](const FakeRow& a, const FakeRow& b) {
                return std::pair(a.changed_ms, a.sequence) < std::pair(b.changed_ms, b.sequence);
            });
        }
        return matched;
    }

    /// The page for `query`: rows [skip, skip + top) of evaluate().
    std::vector<FakeRow> page(const FakeQuery& query, bool* more = nullptr)
    {
        auto matched = evaluate(query);
        const std::size_t skip = query.params.contains("$skip") ? std::stoul(query.params.at("$skip")) : 0;
        const std::size_t top = std::min<std::size_t>(
            server_page_limit, query.params.contains("$top") ? std::stoul(query.params.at("$top")) : 1000);
        std::vector<FakeRow> rows;
        for (std::size_t i = skip; i < matched.size() && i < skip + top; ++i) {
            rows.push_back(matched[i]);
        }
        if (more) {
            *more = matched.size() > skip + top;
        }
        return rows;
    }

    ServerResponse handle(const ServerRequest& request)
    {
        const std::size_t index = targets.size();
        targets.push_back(request.target);
        authorizations.push_back(request.header("Authorization").value_or(""));
        if (before_request) {
            before_request(index, *this);
        }
        if (auto it = scripted.find(index); it != scripted.end()) {
            return it->second;
        }
        ServerResponse response;
        response.content_type = "application/json";
        const FakeQuery query = parse_target(request.target);
        if (!query.error.empty() || !collections.contains(query.collection)) {
            response.status = 400;
            response.body = odata_error_body(query.error.empty() ? "Resource not found for segment" : query.error);
            return response;
        }
        bool more = false;
        const auto rows = page(query, &more);
        const std::size_t count = evaluate(query).size();
        std::string body = R"({"d":{)";
        if (query.params.contains("$inlinecount")) {
            body += fmt::format(R"("__count":"{}",)", count);
        }
        body += R"("results":[)";
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const auto& row = rows[i];
            const std::string uri =
                fmt::format("https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/{}('{}')", query.collection,
                            row.object_id);
            if (i > 0) {
                body += ',';
            }
            body += fmt::format(R"({{"__metadata":{{"uri":"{}","type":"c4codata.Opportunity"}},)", uri);
            if (!row.object_id.empty()) {
                body += fmt::format(R"("ObjectID":"{}",)", row.object_id);
            }
            // Both date forms C4C uses, and the JSON escape of the slash.
            const std::string changed =
                row.unreadable_time ? std::string("yesterday") : fmt::format("{}", row.changed_ms);
            body += fmt::format(
                R"("ID":"{}","Name":"Deal {}","LifeCycleStatusCode":"2","LifeCycleStatusCodeText":"In Process",)"
                R"("CreationDateTime":"\/Date({})\/","EntityLastChangedOn":"/Date({}{})/",)"
                R"("Notes":{{"__deferred":{{"uri":"{}/Notes"}}}}}})",
                row.id, row.id, k_t0 - 86'400'000, changed, i % 2 ? "+0000" : "", uri);
        }
        body += "]";
        if (more) {
            body += fmt::format(R"(,"__next":"{}?$skiptoken={}")", query.collection, rows.size());
        }
        body += "}}";
        response.body = std::move(body);
        return response;
    }

private:
    std::uint64_t m_sequence = 0;
};

// -------------------------------------------------------------------------------------------------------
// The fake on a real loopback server, a real client, and the collector, all on one io_context.

class Harness : public LoopbackHarness<FakeC4c> {
public:
    std::chrono::system_clock::time_point now{std::chrono::milliseconds(k_now)};

    Harness()
    {
        source.name = c4c::collectors::k_source_business_objects;
        source.settings = BusinessObjectsSettings{.collections = {std::string(k_opportunities)}};
        source.page_size = 1000;
        source.lookback = std::chrono::hours(24);
        source.overlap = std::chrono::milliseconds(k_overlap_ms);
    }

    PollOutcome poll(std::optional<c4c::collectors::PollWindow> window = std::nullopt)
    {
        auto collector = make_business_objects_collector(source);
        return run_poll(*collector, k_tenant, std::filesystem::temp_directory_path(), now, window);
    }
};

/// Whether a commit ever set a feed's checkpoint below the (readable) one before it.
bool checkpoint_went_back(const MemoryStore& store)
{
    for (const auto& commit : store.commits) {
        const auto old = parse_business_objects_checkpoint(commit.previous_checkpoint);
        if (old && std::stoll(commit.checkpoint) < *old) {
            return true;
        }
    }
    return false;
}

/// A 32-hex-digit ObjectID whose order has nothing to do with `i`.
std::string object_id(std::uint64_t i)
{
    std::uint64_t z = i + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return fmt::format("00163E{:016X}{:010X}", z, i);
}

/// `count` rows, three per second from `start` on: each page boundary falls inside a group of equal times.
std::vector<std::pair<std::string, std::int64_t>> add_rows(FakeC4c& fake, std::string_view collection,
                                                           std::size_t count, std::int64_t start, std::size_t first = 0)
{
    std::vector<std::pair<std::string, std::int64_t>> rows;
    for (std::size_t i = first; i < first + count; ++i) {
        const std::int64_t time = start + static_cast<std::int64_t>(i / 3) * 1000;
        fake.add(collection, object_id(i), std::to_string(10000 + i), time);
        rows.emplace_back(object_id(i), time);
    }
    return rows;
}

std::multiset<std::pair<std::string, std::int64_t>>
as_set(const std::vector<std::pair<std::string, std::int64_t>>& rows)
{
    return {rows.begin(), rows.end()};
}

using States = std::multiset<std::pair<std::string, std::int64_t>>;

/// What `actual` lacks and what it has too much, for a readable failure.
std::string difference(const States& actual, const States& expected)
{
    std::string out;
    std::size_t shown = 0;
    for (const auto& state : expected) {
        if (actual.count(state) < expected.count(state) && shown++ < 5) {
            out += fmt::format(" missing {}@{}", state.first, state.second);
        }
    }
    for (const auto& state : actual) {
        if (actual.count(state) > expected.count(state) && shown++ < 10) {
            out += fmt::format(" extra {}@{}", state.first, state.second);
        }
    }
    return out;
}

#define CHECK_STATES(actual, expected)                                                                                 \
    do {                                                                                                               \
        const States actual_states = (actual);                                                                         \
        const States expected_states = (expected);                                                                     \
        CHECK_MESSAGE(actual_states == expected_states, difference(actual_states, expected_states));                   \
    } while (false)

std::int64_t checkpoint_ms(MemoryStore& store, std::string_view feed)
{
    return std::stoll(store.checkpoint(feed));
}

}  // namespace

// =========================================================================================================
// Normalization

TEST_CASE("business_objects: normalization of the opportunity sample")
{
    const auto page = parse_odata_page(read_sample("odata-opportunity-page.json"));
    REQUIRE(page.has_value());
    const auto& row = page->rows.at(0);
    CHECK(business_object_row_problem(k_opportunities, row).empty());

    const Event event = normalize_business_object(k_tenant, k_opportunities, row, 42);
    CHECK(event.id.size() == 32);
    CHECK(event.source == "business_objects");
    CHECK(event.object_type == "OpportunityCollection");
    CHECK(event.object_id == "00163E83B7A6D120B381FCFB80E50404");
    CHECK(event.time_unix_nano == 1795654682037'000'000);
    CHECK(event.observed_unix_nano == 42);
    CHECK(event.severity == Severity::info);
    CHECK(event.body == "Opportunity 1004 changed: status 5 (Stopped)");

    std::vector<std::string> keys;
    for (const auto& a : event.attributes) {
        CHECK(std::holds_alternative<std::string>(a.value));
        keys.emplace_back(a.key);
    }
    CHECK(keys == std::vector<std::string>{"sap.c4c.id", "sap.c4c.status_code", "sap.c4c.status_text", "sap.c4c.name",
                                           "sap.c4c.created_by", "sap.c4c.last_changed_by", "sap.c4c.creation_time",
                                           "sap.c4c.amount", "sap.c4c.currency"});
    CHECK(string_attribute(event, "sap.c4c.id") == "1004");
    CHECK(string_attribute(event, "sap.c4c.status_code") == "5");
    CHECK(string_attribute(event, "sap.c4c.status_text") == "Stopped");
    CHECK(string_attribute(event, "sap.c4c.name") == "Opportunity 1004 \xE2\x80\x93 \xC3\x98stergaard A/S");
    CHECK(string_attribute(event, "sap.c4c.created_by") == "KENJI.SATO");
    CHECK(string_attribute(event, "sap.c4c.last_changed_by") == "ANNA.MUELLER");
    CHECK(string_attribute(event, "sap.c4c.creation_time") == format_datetimeoffset(1794034695520));
    CHECK(string_attribute(event, "sap.c4c.amount") == "37148.00");
    CHECK(string_attribute(event, "sap.c4c.currency") == "EUR");

    SUBCASE("the same state always yields the same id, a new state a new one")
    {
        CHECK(normalize_business_object(k_tenant, k_opportunities, row, 7).id == event.id);
        ODataRow changed = make_row(
            {{"ObjectID", "00163E83B7A6D120B381FCFB80E50404"}, {"EntityLastChangedOn", "/Date(1795654682038)/"}});
        CHECK(normalize_business_object(k_tenant, k_opportunities, changed, 42).id != event.id);
        ODataRow same_with_offset = make_row(
            {{"ObjectID", "00163E83B7A6D120B381FCFB80E50404"}, {"EntityLastChangedOn", "/Date(1795654682037+0000)/"}});
        CHECK(normalize_business_object(k_tenant, k_opportunities, same_with_offset, 42).id == event.id);
        CHECK(normalize_business_object("other-tenant", k_opportunities, row, 42).id != event.id);
        CHECK(normalize_business_object(k_tenant, "LeadCollection", row, 42).id != event.id);
        CHECK(normalize_business_object(k_tenant, k_opportunities, page->rows.at(1), 42).id != event.id);
    }
}

// Golden ids, computed once outside this code and never to be recomputed to make a change pass: a
// different id re-sends every record of the overlap window after an upgrade (see make_event_id in
// infra/event.hpp). Each comment gives the hashed input; \037 is the 0x1f separator.
TEST_CASE("business_objects: event.id is pinned (changing it is a breaking change)")
{
    const auto opportunities = parse_odata_page(read_sample("odata-opportunity-page.json"));
    REQUIRE(opportunities.has_value());
    //   in='acme-prod\037business_objects\037OpportunityCollection\03700163E83B7A6D120B381FCFB80E50404'
    //   printf "$in\0371795654682037000000" | sha256sum | cut -c1-32
    CHECK(normalize_business_object(k_tenant, k_opportunities, opportunities->rows.at(0), 42).id ==
          "fd2a545716323e5f21df05294363d7eb");

    // EntityLastChangedOn "/Date(1795663200494+0000)/": the offset suffix is not part of the instant.
    //   in='acme-prod\037business_objects\037LeadCollection\03700163E00BAF2807F225B8661E91AF1BC'
    //   printf "$in\0371795663200494000000" | sha256sum | cut -c1-32
    const auto leads = parse_odata_page(read_sample("odata-lead-page.json"));
    REQUIRE(leads.has_value());
    CHECK(normalize_business_object(k_tenant, "LeadCollection", leads->rows.at(0), 1).id ==
          "0d5e8d815cedfa8c24142d32a1ad158d");
}

TEST_CASE("business_objects: normalization of lead and ticket samples")
{
    const auto leads = parse_odata_page(read_sample("odata-lead-page.json"));
    REQUIRE(leads.has_value());
    const Event lead = normalize_business_object(k_tenant, "LeadCollection", leads->rows.at(0), 1);
    CHECK(lead.time_unix_nano == 1795663200494'000'000);
    CHECK(lead.body == "Lead 1003 changed: status 1 (Open)");
    CHECK(string_attribute(lead, "sap.c4c.amount") == "<absent>");
    CHECK(string_attribute(lead, "sap.c4c.priority_code") == "<absent>");

    const auto tickets = parse_odata_page(read_sample("odata-ticket-page.json"));
    REQUIRE(tickets.has_value());
    const Event ticket = normalize_business_object(k_tenant, "ServiceRequestCollection", tickets->rows.at(0), 1);
    CHECK(ticket.object_type == "ServiceRequestCollection");
    CHECK(ticket.body == "Ticket 1001 changed: status 1 (Open)");
    CHECK(string_attribute(ticket, "sap.c4c.status_code") == "1");
    CHECK(string_attribute(ticket, "sap.c4c.status_text") == "Open");
    CHECK(string_attribute(ticket, "sap.c4c.priority_code") == "2");
    CHECK(string_attribute(ticket, "sap.c4c.processing_type_code") == "SRRQ");
    CHECK(string_attribute(ticket, "sap.c4c.creation_time") == "2026-11-14T04:43:06.664Z");
}

TEST_CASE("business_objects: body forms")
{
    // The otlp-logs-example.json body.
    ODataRow row = make_row({{"ObjectID", "00163E83B7A6D120B381FCFB80E50404"},
                             {"ID", "1004"},
                             {"LifeCycleStatusCode", "2"},
                             {"LifeCycleStatusCodeText", "In Process"},
                             {"EntityLastChangedOn", "/Date(1795654682037)/"}});
    CHECK(normalize_business_object(k_tenant, k_opportunities, row, 0).body ==
          "Opportunity 1004 changed: status 2 (In Process)");

    ODataRow created = make_row({{"ObjectID", "A1"},
                                 {"ID", "77"},
                                 {"StatusCode", "1"},
                                 {"CreationDateTime", "/Date(1700000000000)/"},
                                 {"EntityLastChangedOn", "/Date(1700000000000+0000)/"},
                                 {"PriorityCode", "3"},
                                 {"NetAmount", "10.5"},
                                 {"NetAmountCurrencyCode", "USD"}});
    const Event event = normalize_business_object(k_tenant, "SalesOrderCollection", created, 0);
    CHECK(event.body == "Sales order 77 created: status 1");
    CHECK(string_attribute(event, "sap.c4c.status_text") == "<absent>");
    CHECK(string_attribute(event, "sap.c4c.priority_code") == "3");
    CHECK(string_attribute(event, "sap.c4c.amount") == "10.5");
    CHECK(string_attribute(event, "sap.c4c.currency") == "USD");

    ODataRow bare = make_row({{"ObjectID", "B2"}, {"ID", ""}, {"Name", ""}, {"EntityLastChangedOn", "/Date(5)/"}});
    const Event minimal = normalize_business_object(k_tenant, "AppointmentCollection", bare, 0);
    CHECK(minimal.body == "Appointment B2 changed");
    CHECK(minimal.attributes.empty());

    CHECK(business_object_name("OpportunityCollection") == "Opportunity");
    CHECK(business_object_name("SalesOrderCollection") == "Sales order");
    CHECK(business_object_name("LeadCollection") == "Lead");
    CHECK(business_object_name("ServiceRequestCollection") == "Ticket");
    CHECK(business_object_name("CorporateAccountCollection") == "CorporateAccount");
    CHECK(business_object_name("Collection") == "Collection");
    CHECK(business_object_name("Things") == "Things");
}

TEST_CASE("business_objects: rows that cannot be normalized")
{
    CHECK(business_object_row_problem(k_opportunities, make_row({{"ID", "5"}, {"EntityLastChangedOn", "/Date(1)/"}})) ==
          "OpportunityCollection: row ID '5' has no ObjectID");
    CHECK(business_object_row_problem(k_opportunities, make_row({{"ObjectID", ""}})) ==
          "OpportunityCollection: a row without ID has no ObjectID");
    CHECK(business_object_row_problem(k_opportunities, make_row({{"ObjectID", "X"}, {"ID", "6"}})) ==
          "OpportunityCollection: row ID '6' (ObjectID X) has no EntityLastChangedOn");
    CHECK(business_object_row_problem(
              k_opportunities, make_row({{"ObjectID", "X"}, {"ID", "7"}, {"EntityLastChangedOn", "2026-01-01"}})) ==
          "OpportunityCollection: row ID '7' (ObjectID X) has an unreadable EntityLastChangedOn '2026-01-01'");
}

TEST_CASE("business_objects: checkpoint format")
{
    CHECK(parse_business_objects_checkpoint("1795654682037") == 1795654682037);
    CHECK(parse_business_objects_checkpoint("0") == 0);
    CHECK_FALSE(parse_business_objects_checkpoint("").has_value());
    CHECK_FALSE(parse_business_objects_checkpoint("2026-11-26T00:58:02.037Z").has_value());
    CHECK_FALSE(parse_business_objects_checkpoint("12x").has_value());
}

// =========================================================================================================
// Request forms and the keyset walk without I/O

TEST_CASE("business_objects: request URLs")
{
    KeysetWalk::Query main{false, 1795571882037, std::nullopt};
    CHECK(business_objects_url("https://my123456.crm.ondemand.com", "c4codataapi", k_opportunities, main, 1000) ==
          "https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$format=json"
          "&$filter=EntityLastChangedOn%20ge%20datetimeoffset%272026-11-25T01%3A58%3A02.037Z%27"
          "&$orderby=EntityLastChangedOn%20asc&$top=1000&$inlinecount=allpages");

    KeysetWalk::Query instant{true, 1795654682037, std::nullopt};
    CHECK(business_objects_url("http://h:1/", "svc", "LeadCollection", instant, 50) ==
          "http://h:1/sap/c4c/odata/v1/svc/LeadCollection?$format=json"
          "&$filter=EntityLastChangedOn%20ge%20datetimeoffset%272026-11-26T00%3A58%3A02.037Z%27%20and%20"
          "EntityLastChangedOn%20lt%20datetimeoffset%272026-11-26T00%3A58%3A02.038Z%27"
          "&$orderby=ObjectID%20asc&$top=50");

    instant.after_object_id = "00163E'X";
    CHECK(business_objects_url("http://h:1", "svc", "LeadCollection", instant, 50) ==
          "http://h:1/sap/c4c/odata/v1/svc/LeadCollection?$format=json"
          "&$filter=EntityLastChangedOn%20ge%20datetimeoffset%272026-11-26T00%3A58%3A02.037Z%27%20and%20"
          "EntityLastChangedOn%20lt%20datetimeoffset%272026-11-26T00%3A58%3A02.038Z%27%20and%20"
          "ObjectID%20gt%20%2700163E%27%27X%27"
          "&$orderby=ObjectID%20asc&$top=50");

    CHECK(business_objects_page_cap(1000) == 10'000);
    CHECK(business_objects_page_cap(1'000'000) == 100);
}

TEST_CASE("business_objects: keyset walk transitions")
{
    using Key = KeysetWalk::Key;
    std::vector<bool> fresh;

    SUBCASE("boundary rows are read again and dropped; the walk ends on a short page")
    {
        KeysetWalk walk(100, 3);
        std::vector<Key> page1{{"A", 100}, {"B", 101}, {"C", 102}};
        CHECK(walk.accept(page1, false, fresh).empty());
        CHECK(fresh == std::vector<bool>{true, true, true});
        CHECK_FALSE(walk.done());
        CHECK_FALSE(walk.query().instant);
        CHECK(walk.query().time_ms == 102);
        std::vector<Key> page2{{"C", 102}, {"D", 102}};
        CHECK(walk.accept(page2, false, fresh).empty());
        CHECK(fresh == std::vector<bool>{false, true});
        CHECK(walk.done());
    }
    SUBCASE("a full page of one instant is walked inside that instant, then past it")
    {
        KeysetWalk walk(100, 2);
        std::vector<Key> page1{{"B", 100}, {"A", 100}};
        CHECK(walk.accept(page1, false, fresh).empty());
        REQUIRE(walk.query().instant);
        CHECK(walk.query().time_ms == 100);
        CHECK_FALSE(walk.query().after_object_id.has_value());
        std::vector<Key> page2{{"A", 100}, {"B", 100}};
        CHECK(walk.accept(page2, true, fresh).empty());
        CHECK(fresh == std::vector<bool>{false, false});
        CHECK(walk.query().after_object_id == "B");
        std::vector<Key> page3{{"C", 100}};
        CHECK(walk.accept(page3, false, fresh).empty());
        CHECK(fresh == std::vector<bool>{true});
        CHECK_FALSE(walk.query().instant);
        CHECK(walk.query().time_ms == 101);
        CHECK(walk.accept({}, false, fresh).empty());
        CHECK(walk.done());
    }
    SUBCASE("a tenant that ignores $filter or $orderby is caught, not looped on")
    {
        KeysetWalk walk(100, 2);
        std::vector<Key> early{{"A", 99}, {"B", 100}};
        CHECK(walk.accept(early, true, fresh).find("before the $filter's lower bound") != std::string::npos);

        KeysetWalk unordered(100, 2);
        std::vector<Key> page{{"A", 105}, {"B", 101}};
        CHECK(unordered.accept(page, true, fresh).find("not in ascending") != std::string::npos);

        KeysetWalk instant(100, 2);
        std::vector<Key> same{{"A", 100}, {"B", 100}};
        CHECK(instant.accept(same, true, fresh).empty());
        CHECK(instant.accept(same, true, fresh).empty());
        CHECK(instant.accept(same, true, fresh).find("no progress") != std::string::npos);

        KeysetWalk outside(100, 2);
        CHECK(outside.accept(same, true, fresh).empty());
        std::vector<Key> wrong{{"A", 100}, {"Z", 101}};
        CHECK(outside.accept(wrong, true, fresh).find("outside the instant") != std::string::npos);
    }
}

// =========================================================================================================
// poll() against a fake C4C on a real loopback server

TEST_CASE("business_objects: poll reads 2,500 rows in keyset pages, exactly once, then only the overlap")
{
    Harness h;
    const std::int64_t start = k_now - 3'600'000;
    const auto rows = add_rows(h.fake, k_opportunities, 2500, start);
    const std::int64_t greatest = rows.back().second;

    const PollOutcome outcome = h.poll();
    CHECK_MESSAGE(outcome.ok, outcome.message);
    CHECK(outcome.records == 2500);
    CHECK(outcome.stored == 2500);
    CHECK_STATES(h.store.states(k_opportunities), as_set(rows));
    CHECK(h.store.offered_again() == 0);  // boundary repeats were dropped by the collector itself
    CHECK_FALSE(checkpoint_went_back(h.store));
    CHECK(checkpoint_ms(h.store, k_opportunities) == greatest);

    // The contract's request form; each next page is a new keyset query, never $skip/$skiptoken.
    REQUIRE(h.fake.targets.size() == 3);
    CHECK(h.fake.targets[0] == "/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$format=json"
                               "&$filter=EntityLastChangedOn%20ge%20datetimeoffset%272026-11-25T01%3A58%3A02.037Z%27"
                               "&$orderby=EntityLastChangedOn%20asc&$top=1000&$inlinecount=allpages");
    const std::int64_t page1_max = rows[999].second;
    const std::int64_t page2_max = rows[1999].second;
    CHECK(h.fake.targets[1] == fmt::format("/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$format=json"
                                           "&$filter=EntityLastChangedOn%20ge%20datetimeoffset%27{}%27"
                                           "&$orderby=EntityLastChangedOn%20asc&$top=1000&$inlinecount=allpages",
                                           encoded_iso(page1_max)));
    CHECK(h.fake.targets[2].find(fmt::format("ge%20datetimeoffset%27{}%27", encoded_iso(page2_max))) !=
          std::string::npos);
    for (const auto& target : h.fake.targets) {
        CHECK(target.find("skip") == std::string::npos);
    }
    CHECK(h.fake.authorizations[0] == c4c::infra::http::basic_authorization("CRUN_USER", "s3cret"));
    CHECK(h.observer.reasons == std::vector<std::string>{"", "", ""});

    // Each page committed with the greatest change time it holds.
    REQUIRE(h.store.commits.size() == 3);
    CHECK(h.store.commits[0].checkpoint == std::to_string(page1_max));
    CHECK(h.store.commits[1].checkpoint == std::to_string(page2_max));
    CHECK(h.store.commits[2].checkpoint == std::to_string(greatest));
    CHECK(h.store.commits[0].feed == "OpportunityCollection");

    // Second poll: only the overlap window is read again, nothing new is stored.
    h.fake.targets.clear();
    h.now += 60s;
    const PollOutcome second = h.poll();
    CHECK_MESSAGE(second.ok, second.message);
    CHECK(second.stored == 0);
    const auto in_window =
        std::count_if(rows.begin(), rows.end(), [&](const auto& r) { return r.second >= greatest - k_overlap_ms; });
    CHECK(second.records == static_cast<std::uint64_t>(in_window));
    REQUIRE(h.fake.targets.size() == 1);
    CHECK(h.fake.targets[0].find(fmt::format("ge%20datetimeoffset%27{}%27", encoded_iso(greatest - k_overlap_ms))) !=
          std::string::npos);
    CHECK(h.store.events.size() == 2500);
    CHECK(checkpoint_ms(h.store, k_opportunities) == greatest);
    CHECK_FALSE(checkpoint_went_back(h.store));
}

TEST_CASE("business_objects: records that change during the walk are never skipped")
{
    Harness h;
    const std::int64_t start = k_now - 3'600'000;
    const auto rows = add_rows(h.fake, k_opportunities, 2500, start);
    const std::int64_t greatest = rows.back().second;

    // Between page 1 and page 2, five records are saved again: two already read on page 1, three not read yet.
    const std::vector<std::size_t> moved{10, 500, 1200, 1800, 2400};
    auto move_records = [&](FakeC4c& fake) {
        for (std::size_t k = 0; k < moved.size(); ++k) {
            fake.change(k_opportunities, rows[moved[k]].first, greatest + 1000 * static_cast<std::int64_t>(k + 1));
        }
    };
    h.fake.before_request = [&](std::size_t index, FakeC4c& fake) {
        if (index == 1) {
            move_records(fake);
        }
    };

    const PollOutcome outcome = h.poll();
    CHECK_MESSAGE(outcome.ok, outcome.message);

    // Every state that existed when it could be read: all unchanged rows, the page-1 states of the two rows
    // read before they changed, and the new state of all five.
    auto expected = as_set(rows);
    for (std::size_t k = 0; k < moved.size(); ++k) {
        if (moved[k] >= 1000) {
            expected.erase(expected.find(rows[moved[k]]));
        }
        expected.emplace(rows[moved[k]].first, greatest + 1000 * static_cast<std::int64_t>(k + 1));
    }
    CHECK(expected.size() == 2502);
    CHECK_STATES(h.store.states(k_opportunities), expected);
    CHECK(outcome.stored == 2502);
    CHECK(h.store.offered_again() == 0);
    CHECK_FALSE(checkpoint_went_back(h.store));
    CHECK(checkpoint_ms(h.store, k_opportunities) == greatest + 5000);

    // Control: position-based paging ($skip) over the same data and the same changes loses records.
    FakeC4c control;
    add_rows(control, k_opportunities, 2500, start);
    auto query = parse_target(fmt::format("/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?$filter="
                                          "EntityLastChangedOn%20ge%20datetimeoffset%27{}%27&$orderby="
                                          "EntityLastChangedOn%20asc&$top=1000",
                                          encoded_iso(k_now - 86'400'000)));
    std::multiset<std::pair<std::string, std::int64_t>> by_skip;
    for (std::size_t skip = 0;; skip += 1000) {
        if (skip == 1000) {
            move_records(control);
        }
        query.params["$skip"] = std::to_string(skip);
        bool more = false;
        for (const auto& row : control.page(query, &more)) {
            by_skip.emplace(row.object_id, row.changed_ms);
        }
        if (!more) {
            break;
        }
    }
    std::size_t skipped_by_position = 0;
    for (const auto& state : expected) {
        skipped_by_position += by_skip.contains(state) ? 0 : 1;
    }
    CHECK(skipped_by_position > 0);
}

TEST_CASE("business_objects: a full page of one change time is walked inside that instant")
{
    Harness h;
    const std::int64_t start = k_now - 3'600'000;
    const std::int64_t instant = start + 500'000;
    std::vector<std::pair<std::string, std::int64_t>> rows;
    for (std::size_t i = 0; i < 100; ++i) {
        rows.emplace_back(object_id(i), start + static_cast<std::int64_t>(i) * 1000);
    }
    for (std::size_t i = 100; i < 2400; ++i) {  // 2,300 rows saved in one millisecond (a mass update)
        rows.emplace_back(object_id(i), instant);
    }
    for (std::size_t i = 2400; i < 2900; ++i) {
        rows.emplace_back(object_id(i), instant + 1 + static_cast<std::int64_t>(i - 2400) * 7);
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
        h.fake.add(k_opportunities, rows[i].first, std::to_string(i), rows[i].second);
    }

    SUBCASE("all rows exactly once")
    {
        const PollOutcome outcome = h.poll();
        CHECK_MESSAGE(outcome.ok, outcome.message);
        CHECK(outcome.records == 2900);
        CHECK(outcome.stored == 2900);
        CHECK_STATES(h.store.states(k_opportunities), as_set(rows));
        CHECK(h.store.offered_again() == 0);
        CHECK_FALSE(checkpoint_went_back(h.store));
        CHECK(checkpoint_ms(h.store, k_opportunities) == rows.back().second);

        // main (100 + 900 at the instant), main from the instant (1000 at it), three pages inside the
        // instant by ObjectID (1000, 1000, 300), main after the instant (500).
        REQUIRE(h.fake.targets.size() == 6);
        const std::string inside =
            fmt::format("$filter=EntityLastChangedOn%20ge%20datetimeoffset%27{}%27%20and%20EntityLastChangedOn%20lt%20"
                        "datetimeoffset%27{}%27",
                        encoded_iso(instant), encoded_iso(instant + 1));
        CHECK(h.fake.targets[1].find(fmt::format("ge%20datetimeoffset%27{}%27&", encoded_iso(instant))) !=
              std::string::npos);
        CHECK(h.fake.targets[2].ends_with(inside + "&$orderby=ObjectID%20asc&$top=1000"));
        std::vector<std::string> by_id;
        for (std::size_t i = 100; i < 2400; ++i) {
            by_id.push_back(object_id(i));
        }
        std::sort(by_id.begin(), by_id.end());
        CHECK(h.fake.targets[3].ends_with(
            fmt::format("{}%20and%20ObjectID%20gt%20%27{}%27&$orderby=ObjectID%20asc&$top=1000", inside, by_id[999])));
        CHECK(h.fake.targets[4].find(fmt::format("ObjectID%20gt%20%27{}%27", by_id[1999])) != std::string::npos);
        CHECK(h.fake.targets[5].find(fmt::format("ge%20datetimeoffset%27{}%27&$orderby=EntityLastChangedOn%20asc",
                                                 encoded_iso(instant + 1))) != std::string::npos);
        for (const auto& commit : h.store.commits) {
            CHECK(std::stoll(commit.checkpoint) <= rows.back().second);
        }
    }
    SUBCASE("records leaving the instant while it is walked")
    {
        std::vector<std::string> by_id;
        for (std::size_t i = 100; i < 2400; ++i) {
            by_id.push_back(object_id(i));
        }
        std::sort(by_id.begin(), by_id.end());
        const std::int64_t later = rows.back().second + 10'000;
        // Before the second page inside the instant, three rows are saved again: one already read (on the
        // first page inside the instant), and two not read yet, one due on each of the next two pages inside
        // the instant (not among rows 100..1099 either, which the main pages read).
        auto unread_from = [&](std::size_t rank) {
            for (; rank < by_id.size(); ++rank) {
                const auto it =
                    std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.first == by_id[rank]; });
                if (it - rows.begin() >= 1100) {
                    return by_id[rank];
                }
            }
            FAIL("no unread row");
            return std::string();
        };
        const std::vector<std::string> moved{by_id[5], unread_from(1000), unread_from(2000)};
        h.fake.before_request = [&](std::size_t index, FakeC4c& fake) {
            if (index == 3) {
                for (std::size_t k = 0; k < moved.size(); ++k) {
                    fake.change(k_opportunities, moved[k], later + static_cast<std::int64_t>(k));
                }
            }
        };
        const PollOutcome outcome = h.poll();
        CHECK_MESSAGE(outcome.ok, outcome.message);
        auto expected = as_set(rows);
        expected.erase(expected.find({moved[1], instant}));
        expected.erase(expected.find({moved[2], instant}));
        for (std::size_t k = 0; k < moved.size(); ++k) {
            expected.emplace(moved[k], later + static_cast<std::int64_t>(k));
        }
        CHECK_STATES(h.store.states(k_opportunities), expected);
        CHECK(h.store.offered_again() == 0);
        CHECK(checkpoint_ms(h.store, k_opportunities) == later + 2);
    }
}

TEST_CASE("business_objects: failures")
{
    Harness h;
    const auto rows = add_rows(h.fake, k_opportunities, 2500, k_now - 3'600'000);

    SUBCASE("401 marks the source down and commits nothing")
    {
        ServerResponse refused;
        refused.status = 401;
        refused.body = "Unauthorized";
        h.fake.scripted[0] = refused;
        const PollOutcome outcome = h.poll();
        CHECK_FALSE(outcome.ok);
        CHECK(outcome.auth_failed);
        CHECK(outcome.reason.label() == "http_401");
        CHECK(outcome.message.find("OpportunityCollection page 1") != std::string::npos);
        CHECK(h.store.commits.empty());
        CHECK(h.fake.targets.size() == 1);
    }
    SUBCASE("outbox full: no request at all")
    {
        h.store.accepting_now = false;
        const PollOutcome outcome = h.poll();
        CHECK_FALSE(outcome.ok);
        CHECK(outcome.reason.label() == "outbox_full");
        CHECK(h.fake.targets.empty());
        CHECK(h.store.commits.empty());
    }
    SUBCASE("outbox full after the first page: that page stands")
    {
        h.fake.before_request = [&](std::size_t index, FakeC4c&) {
            if (index == 0) {
                h.store.accepting_now = false;
            }
        };
        const PollOutcome outcome = h.poll();
        CHECK(outcome.reason.label() == "outbox_full");
        CHECK(outcome.records == 1000);
        CHECK(outcome.stored == 1000);
        CHECK(h.fake.targets.size() == 1);
        CHECK(checkpoint_ms(h.store, k_opportunities) == rows[999].second);
    }
    SUBCASE("store failure")
    {
        h.store.status = CommitStatus::failed;
        const PollOutcome outcome = h.poll();
        CHECK_FALSE(outcome.ok);
        CHECK(outcome.reason.label() == "store");
        CHECK(h.fake.targets.size() == 1);
    }
    SUBCASE("a garbage page: reason parse, nothing from it committed, earlier pages stand")
    {
        ServerResponse garbage;
        garbage.content_type = "application/json";
        garbage.body = R"({"d":{"results":[{"ObjectID":"00163E)";
        h.fake.scripted[1] = garbage;
        const PollOutcome outcome = h.poll();
        CHECK_FALSE(outcome.ok);
        CHECK(outcome.reason.label() == "parse");
        CHECK(outcome.message.find("OpportunityCollection page 2") != std::string::npos);
        CHECK(outcome.message.find("invalid JSON") != std::string::npos);
        CHECK(outcome.records == 1000);
        REQUIRE(h.store.commits.size() == 1);
        CHECK(h.store.events.size() == 1000);
        CHECK(checkpoint_ms(h.store, k_opportunities) == rows[999].second);
    }
    SUBCASE("an HTML page instead of JSON")
    {
        ServerResponse html;
        html.content_type = "text/html";
        html.body = "<html><head><title>Logon</title></head></html>";
        h.fake.scripted[0] = html;
        const PollOutcome outcome = h.poll();
        CHECK(outcome.reason.label() == "parse");
        CHECK(outcome.message.find("<html><head><title>Logon") != std::string::npos);
        CHECK(h.store.commits.empty());
    }
    SUBCASE("a row without ObjectID or with an unreadable time is quarantined; the others are stored, the walk "
            "goes on")
    {
        h.fake.add(k_opportunities, "", "4711", k_now - 3'600'000);
        h.fake.add(k_opportunities, "00163EBAD", "4712", k_now - 3'000'000);
        h.fake.collections[std::string(k_opportunities)].back().unreadable_time = true;
        const PollOutcome outcome = h.poll();
        INFO(outcome.message);
        REQUIRE(outcome.ok);
        CHECK_STATES(h.store.states(std::string(k_opportunities)), as_set(rows));
        CHECK(checkpoint_ms(h.store, k_opportunities) == rows.back().second);
        REQUIRE(h.store.quarantined.size() == 2);
        const auto& no_key = h.store.quarantined[0];
        CHECK(no_key.reason == QuarantineReason::missing_key);
        CHECK(no_key.object_key.empty());
        CHECK(no_key.detail == "OpportunityCollection: row ID '4711' has no ObjectID");
        CHECK(no_key.raw.starts_with(R"({"__metadata":{"uri":)"));
        CHECK(no_key.raw.ends_with(R"(/Notes"}}})"));
        CHECK(no_key.raw.find(R"("ID":"4711")") != std::string::npos);
        const auto& no_time = h.store.quarantined[1];
        CHECK(no_time.reason == QuarantineReason::invalid_time);
        CHECK(no_time.object_key == "00163EBAD");
        CHECK(no_time.detail.find("unreadable EntityLastChangedOn '/Date(yesterday") != std::string::npos);

        // The raw text alone normalizes to the same verdict, and a repaired row to its event.
        for (const auto& record : h.store.quarantined) {
            const auto again = normalize_business_object_raw(k_tenant, k_opportunities, record.raw, 1);
            REQUIRE_FALSE(again.has_value());
            CHECK(again.error().reason == record.reason);
            CHECK(again.error().detail == record.detail);
            CHECK(again.error().raw == record.raw);
        }
        std::string repaired = h.store.quarantined[1].raw;
        repaired.replace(repaired.find("yesterday"), 9, std::to_string(k_now - 3'000'000));
        const auto event = normalize_business_object_raw(k_tenant, k_opportunities, repaired, 1);
        REQUIRE(event.has_value());
        CHECK(event->object_id == "00163EBAD");
        CHECK(event->time_unix_nano == (k_now - 3'000'000) * 1'000'000);
        CHECK(event->id ==
              make_event_id(k_tenant, "business_objects", k_opportunities, "00163EBAD", event->time_unix_nano));
        CHECK_FALSE(normalize_business_object_raw(k_tenant, k_opportunities, "[1]", 1).has_value());
        CHECK(normalize_business_object_raw(k_tenant, k_opportunities, "{} {}", 1).error().reason ==
              QuarantineReason::invalid_value);
    }
    SUBCASE("a page of nothing but rows that cannot be normalized, asking for more, stops the walk")
    {
        h.source.page_size = 2;
        FakeC4c& fake = h.fake;
        fake.collections[std::string(k_opportunities)].clear();
        fake.add(k_opportunities, "", "1", k_now - 3'600'000);
        fake.add(k_opportunities, "", "2", k_now - 3'500'000);
        fake.add(k_opportunities, "00163E01", "3", k_now - 3'400'000);
        const PollOutcome outcome = h.poll();
        CHECK_FALSE(outcome.ok);
        CHECK(outcome.reason.label() == "parse");
        CHECK(outcome.message.find("all 2 rows of the page were quarantined") != std::string::npos);
        CHECK(h.store.quarantined.empty());  // nothing of that page was committed
    }
    SUBCASE("an OData error answer is quoted in the message")
    {
        ServerResponse refused;
        refused.status = 400;
        refused.content_type = "application/json";
        refused.body = odata_error_body("Property 'EntityLastChangedOn' not found");
        h.fake.scripted[0] = refused;
        const PollOutcome outcome = h.poll();
        CHECK(outcome.reason.label() == "http_400");
        CHECK_FALSE(outcome.auth_failed);
        CHECK(outcome.message.find("Property 'EntityLastChangedOn' not found") != std::string::npos);
    }
    SUBCASE("a tenant that ignores $filter is stopped, not looped on")
    {
        ServerResponse same;
        same.content_type = "application/json";
        // Always the first page, whatever was asked.
        const auto first = h.fake.handle(ServerRequest{
            "GET",
            business_objects_url("", "c4codataapi", k_opportunities, KeysetWalk::Query{false, 0, std::nullopt}, 1000),
            {},
            {}});
        h.fake.targets.clear();
        h.fake.authorizations.clear();
        same.body = first.body;
        for (std::size_t i = 0; i < 5; ++i) {
            h.fake.scripted[i] = same;
        }
        const PollOutcome outcome = h.poll();
        CHECK(outcome.reason.label() == "parse");
        CHECK(outcome.message.find("OpportunityCollection page 2") != std::string::npos);
        CHECK(h.fake.targets.size() == 2);
        CHECK(h.store.commits.size() == 1);
    }
}

TEST_CASE("business_objects: collections in order; a failing one keeps the earlier ones' commits")
{
    Harness h;
    h.source.settings =
        BusinessObjectsSettings{.collections = {"OpportunityCollection", "ServiceRequestCollection", "LeadCollection"}};
    const auto opportunities = add_rows(h.fake, "OpportunityCollection", 300, k_now - 3'600'000);
    add_rows(h.fake, "ServiceRequestCollection", 10, k_now - 3'600'000);
    add_rows(h.fake, "LeadCollection", 10, k_now - 3'600'000);
    ServerResponse refused;
    refused.status = 403;
    h.fake.scripted[1] = refused;

    const PollOutcome outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.auth_failed);
    CHECK(outcome.reason.label() == "http_403");
    CHECK(outcome.records == 300);
    CHECK(outcome.stored == 300);
    REQUIRE(h.fake.targets.size() == 2);
    CHECK(h.fake.targets[0].starts_with("/sap/c4c/odata/v1/c4codataapi/OpportunityCollection?"));
    CHECK(h.fake.targets[1].starts_with("/sap/c4c/odata/v1/c4codataapi/ServiceRequestCollection?"));
    CHECK_STATES(h.store.states("OpportunityCollection"), as_set(opportunities));
    CHECK(checkpoint_ms(h.store, "OpportunityCollection") == opportunities.back().second);
    CHECK(h.store.checkpoint("ServiceRequestCollection").empty());

    // Next interval: all three collections, each under its own checkpoint.
    h.fake.scripted.clear();
    h.fake.targets.clear();
    const PollOutcome again = h.poll();
    CHECK_MESSAGE(again.ok, again.message);
    CHECK(again.stored == 20);
    CHECK(h.fake.targets.size() == 3);
    CHECK(h.store.states("ServiceRequestCollection").size() == 10);
    CHECK(h.store.states("LeadCollection").size() == 10);
    CHECK(h.store.events.size() == 320);
}

TEST_CASE("business_objects: an unreadable checkpoint is read like a first run")
{
    Harness h;
    add_rows(h.fake, k_opportunities, 10, k_now - 3'600'000);
    h.store.checkpoints[std::string(k_opportunities)] = "yesterday";
    const PollOutcome outcome = h.poll();
    CHECK_MESSAGE(outcome.ok, outcome.message);
    CHECK(outcome.stored == 10);
    REQUIRE_FALSE(h.fake.targets.empty());
    CHECK(h.fake.targets[0].find(fmt::format("ge%20datetimeoffset%27{}%27", encoded_iso(k_now - 86'400'000))) !=
          std::string::npos);
}

TEST_CASE("business_objects: the checkpoint never moves backwards")
{
    Harness h;
    add_rows(h.fake, k_opportunities, 10, k_now - 3'600'000);
    // A checkpoint ahead of every row (rows committed late with an earlier time are read via the overlap).
    const std::int64_t ahead = k_now - 60'000;
    h.store.checkpoints[std::string(k_opportunities)] = std::to_string(ahead);
    h.fake.add(k_opportunities, object_id(9999), "late", ahead - 30'000);
    const PollOutcome outcome = h.poll();
    CHECK_MESSAGE(outcome.ok, outcome.message);
    CHECK(outcome.stored == 1);
    CHECK(checkpoint_ms(h.store, k_opportunities) == ahead);
    CHECK_FALSE(checkpoint_went_back(h.store));
}

TEST_CASE("business_objects: a row dated in the future does not carry the checkpoint past rows to come")
{
    Harness h;
    add_rows(h.fake, k_opportunities, 10, k_now - 3'600'000);
    h.fake.add(k_opportunities, object_id(777), "bogus", k_now + 365LL * 86'400'000);  // a year ahead
    PollOutcome outcome = h.poll();
    CHECK_MESSAGE(outcome.ok, outcome.message);
    CHECK(outcome.stored == 11);
    CHECK(checkpoint_ms(h.store, k_opportunities) == k_now);

    // A minute later a record is changed: it is read, although the bogus row is "newer".
    h.now += 60s;
    h.fake.add(k_opportunities, object_id(778), "new", k_now + 30'000);
    h.fake.targets.clear();
    outcome = h.poll();
    CHECK_MESSAGE(outcome.ok, outcome.message);
    CHECK(outcome.stored == 1);
    REQUIRE(h.fake.targets.size() == 1);
    CHECK(h.fake.targets[0].find(fmt::format("ge%20datetimeoffset%27{}%27", encoded_iso(k_now - k_overlap_ms))) !=
          std::string::npos);
    CHECK(checkpoint_ms(h.store, k_opportunities) == k_now + 60'000);
    CHECK_FALSE(checkpoint_went_back(h.store));

    // A stored checkpoint ahead of the clock (the clock went back) reads from now - overlap.
    h.store.checkpoints[std::string(k_opportunities)] = std::to_string(k_now + 86'400'000);
    h.fake.targets.clear();
    outcome = h.poll();
    CHECK_MESSAGE(outcome.ok, outcome.message);
    REQUIRE_FALSE(h.fake.targets.empty());
    CHECK(h.fake.targets[0].find(fmt::format("ge%20datetimeoffset%27{}%27",
                                             encoded_iso(k_now + 60'000 - k_overlap_ms))) != std::string::npos);
    CHECK(checkpoint_ms(h.store, k_opportunities) == k_now + 86'400'000);  // and never moves back
}

TEST_CASE("business_objects: server-driven paging (fewer rows than $top, with __next)")
{
    Harness h;
    const auto rows = add_rows(h.fake, k_opportunities, 300, k_now - 3'600'000);
    h.fake.server_page_limit = 50;

    SUBCASE("__next is the signal that more rows exist")
    {
        const PollOutcome outcome = h.poll();
        CHECK_MESSAGE(outcome.ok, outcome.message);
        CHECK(outcome.stored == 300);
        CHECK_STATES(h.store.states(k_opportunities), as_set(rows));
        CHECK(h.store.offered_again() == 0);
        CHECK(h.fake.targets.size() == 7);  // 50 new rows a page, minus the boundary repeats
    }
    SUBCASE("a walk that does not end within the page cap stops with an error, keeping its progress")
    {
        h.source.page_size = 1'000'000;  // page cap 100
        h.fake.server_page_limit = 2;    // one new row per page
        const PollOutcome outcome = h.poll();
        CHECK_FALSE(outcome.ok);
        CHECK(outcome.reason.label() == "parse");
        CHECK(outcome.message.find("more than 100 pages") != std::string::npos);
        CHECK(outcome.message.find("OpportunityCollection page 101") != std::string::npos);
        CHECK(h.fake.targets.size() == 100);
        CHECK(h.store.events.size() == 101);
        CHECK(checkpoint_ms(h.store, k_opportunities) == rows[100].second);
        CHECK_FALSE(checkpoint_went_back(h.store));
    }
}

TEST_CASE("business_objects: a backfill window reads [from, to) from its start, ignoring overlap and lookback")
{
    Harness h;
    const auto rows = add_rows(h.fake, k_opportunities, 250, k_now - 3'600'000);
    h.source.page_size = 40;
    // A window in the middle; its bounds at row times: the first row at `from` is in, the row at `to` is out.
    const std::int64_t from = rows[50].second;
    const std::int64_t to = rows[200].second;
    std::vector<std::pair<std::string, std::int64_t>> expected;
    for (const auto& row : rows) {
        if (row.second >= from && row.second < to) {
            expected.push_back(row);
        }
    }
    const c4c::collectors::PollWindow window{std::chrono::system_clock::time_point(std::chrono::milliseconds(from)),
                                             std::chrono::system_clock::time_point(std::chrono::milliseconds(to))};
    const PollOutcome outcome = h.poll(window);
    CHECK_MESSAGE(outcome.ok, outcome.message);
    CHECK_STATES(h.store.states(k_opportunities), as_set(expected));
    CHECK(h.fake.targets.front().find(fmt::format("ge%20datetimeoffset%27{}%27", encoded_iso(from))) !=
          std::string::npos);
    // The walk stopped at the first page reaching past the window's end instead of reading on to now.
    for (const auto& row : rows) {
        if (row.second < to) {
            continue;
        }
        const auto lower = fmt::format("ge%20datetimeoffset%27{}%27", encoded_iso(row.second));
        for (const auto& target : h.fake.targets) {
            CHECK(target.find(lower) == std::string::npos);
        }
    }
    // The cursor (the job's, never the feed's own checkpoint) is the greatest change time read.
    CHECK(checkpoint_ms(h.store, k_opportunities) == expected.back().second);
}

TEST_CASE("business_objects: a backfill window resumes from its cursor and ends with every state read")
{
    Harness h;
    const auto rows = add_rows(h.fake, k_opportunities, 300, k_now - 3'600'000);
    h.source.page_size = 25;
    const std::int64_t from = rows.front().second;
    const std::int64_t to = rows.back().second + 1;
    const c4c::collectors::PollWindow window{std::chrono::system_clock::time_point(std::chrono::milliseconds(from)),
                                             std::chrono::system_clock::time_point(std::chrono::milliseconds(to))};
    // A cursor left by an interrupted run: the window goes on from there, not from `from`.
    const std::int64_t cursor = rows[120].second;
    h.store.checkpoints[std::string(k_opportunities)] = std::to_string(cursor);
    const PollOutcome outcome = h.poll(window);
    CHECK_MESSAGE(outcome.ok, outcome.message);
    CHECK(h.fake.targets.front().find(fmt::format("ge%20datetimeoffset%27{}%27", encoded_iso(cursor))) !=
          std::string::npos);
    std::vector<std::pair<std::string, std::int64_t>> expected;
    for (const auto& row : rows) {
        if (row.second >= cursor) {
            expected.push_back(row);
        }
    }
    CHECK_STATES(h.store.states(k_opportunities), as_set(expected));
    CHECK(checkpoint_ms(h.store, k_opportunities) == rows.back().second);
}
