#include "tests/fakes/odata_service.hpp"

#include "tests/fakes/odata_common.hpp"

#include <algorithm>

namespace c4c::sim {

namespace {

constexpr std::string_view k_prefix = "/sap/c4c/odata/v1/";
constexpr std::int64_t k_ns_per_ms = 1'000'000;

std::string sap_date(std::int64_t ms, bool offset)
{
    return "/Date(" + std::to_string(ms) + (offset ? "+0000)/" : ")/");
}

std::string weak_etag(std::int64_t ms)
{
    std::string iso = iso_from_ticks(ms * 10'000);
    std::string escaped;
    for (char c : iso) {
        if (c == ':') {
            escaped += "%3A";
        } else {
            escaped += c;
        }
    }
    return "W/\"datetimeoffset'" + escaped + "'\"";
}

/// Bounds on EntityLastChangedOn (ns) implied by a conjunctive filter, used to narrow the index scan.
struct TimeRange {
    std::optional<std::int64_t> lo;
    bool lo_inclusive = true;
    std::optional<std::int64_t> hi;
    bool hi_inclusive = true;

    void lower(std::int64_t v, bool inclusive)
    {
        if (!lo || v > *lo || (v == *lo && !inclusive)) {
            lo = v;
            lo_inclusive = inclusive;
        }
    }
    void upper(std::int64_t v, bool inclusive)
    {
        if (!hi || v < *hi || (v == *hi && !inclusive)) {
            hi = v;
            hi_inclusive = inclusive;
        }
    }
};

void write_row(std::string& out, const std::vector<std::string>& select, const CollectionKind& kind,
               const BusinessObject& o, const std::string& collection_url)
{
    RowWriter w(out, select);
    std::string key(o.key());
    std::string uri = collection_url + "('" + key + "')";
    std::string id = std::to_string(o.id);
    const auto& users = user_names();
    const auto& status = kind.statuses[o.status];
    w.begin();
    w.metadata(uri, "c4codata." + kind.entity, weak_etag(o.change_ms));
    if (o.malformed != Malformed::no_key) {
        w.string("ObjectID", key);
    }
    w.string("ID", id);
    if (w.wanted("Name")) {
        w.string("Name", kind.label + " " + id + " \xE2\x80\x93 " + company_names()[o.company]);
    }
    if (kind.ticket) {
        w.string("ServiceRequestLifeCycleStatusCode", status.first);
        w.string("ServiceRequestLifeCycleStatusCodeText", status.second);
    } else {
        w.string("LifeCycleStatusCode", status.first);
        w.string("LifeCycleStatusCodeText", status.second);
    }
    w.string("CreationDateTime", sap_date(o.creation_ms, false));
    w.string("CreatedBy", users[o.created_by]);
    w.string("LastChangedBy", users[o.last_changed_by]);
    w.string("ExternalID", o.has_external_id ? "EXT-" + id : std::string());
    if (kind.ticket) {
        w.string("ServicePriorityCode", std::to_string(o.priority));
        w.string("ProcessingTypeCode", "SRRQ");
    }
    if (kind.has_amount) {
        w.string("AmountValue", std::to_string(o.amount) + ".00");
        w.string("CurrencyCode", currency_codes()[o.currency]);
    }
    auto changed = sap_date(o.change_ms, kind.offset_dates);
    w.string("EntityLastChangedOn", o.malformed == Malformed::bad_time ? std::string("/Date(not a time)/") : changed);
    w.string("ETag", changed);
    std::string nav = kind.entity + "Notes";
    if (w.wanted(nav)) {
        std::string deferred = "{\"__deferred\":{\"uri\":";
        append_json_string(deferred, uri + "/" + nav);
        deferred += "}}";
        w.raw(nav, deferred);
    }
    w.end();
}

}  // namespace

ServerResponse ODataService::handle(const ServerRequest& request)
{
    if (auto refused = odata_require_get(request)) {
        return *refused;
    }
    std::string_view path = request.path();
    std::string_view rest = path.substr(k_prefix.size());
    auto slash = rest.find('/');
    std::string_view collection_name = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (!collection_name.empty() && collection_name.back() == '/') {
        collection_name.remove_suffix(1);
    }
    Collection* coll = collection_name.empty() || collection_name.find('/') != std::string_view::npos
                           ? nullptr
                           : m_world.find_collection(collection_name);
    if (coll == nullptr) {
        return odata_not_found(collection_name);
    }

    ODataQuery query;
    auto check = [](FilterClause& c, std::string& error) {
        if (c.field == "EntityLastChangedOn") {
            if (c.literal_type != "datetimeoffset" && c.literal_type != "datetime") {
                error = "EntityLastChangedOn needs a datetimeoffset'...' literal";
                return false;
            }
            std::string text = c.literal;
            if (c.literal_type == "datetime" && !text.empty() && text.back() != 'Z') {
                text += 'Z';
            }
            auto ns = parse_iso_ns(text);
            if (!ns) {
                error = "invalid datetimeoffset literal '" + c.literal + "' (expected YYYY-MM-DDThh:mm:ss[.f]Z)";
                return false;
            }
            c.number = *ns;
            return true;
        }
        if (c.field == "ObjectID") {
            if (!c.literal_type.empty()) {
                error = "ObjectID needs a string literal";
                return false;
            }
            return true;
        }
        error = "filtering on '" + c.field + "' is not supported by the simulator";
        return false;
    };
    if (auto error = parse_odata_query(request, query, check)) {
        return *error;
    }
    for (const auto& [field, desc] : query.order_by) {
        (void)desc;
        if (field != "EntityLastChangedOn" && field != "ObjectID") {
            return odata_error(400, "SY/530", "$orderby on '" + field + "' is not supported by the simulator");
        }
    }

    const auto& objects = coll->objects();
    const auto& by_change = coll->by_change();
    const auto& by_id = coll->by_object_id();

    TimeRange range;
    // When the filter is nothing but bounds on EntityLastChangedOn, the index range is the answer.
    bool range_is_filter = true;
    if (query.filter) {
        auto clauses = conjunction_clauses(*query.filter);
        range_is_filter = !clauses.empty();
        for (const auto* c : clauses) {
            if (c->field != "EntityLastChangedOn" || c->op == FilterOp::ne) {
                range_is_filter = false;
            }
            if (c->field != "EntityLastChangedOn") {
                continue;
            }
            switch (c->op) {
            case FilterOp::eq:
                range.lower(c->number, true);
                range.upper(c->number, true);
                break;
            case FilterOp::ge:
                range.lower(c->number, true);
                break;
            case FilterOp::gt:
                range.lower(c->number, false);
                break;
            case FilterOp::le:
                range.upper(c->number, true);
                break;
            case FilterOp::lt:
                range.upper(c->number, false);
                break;
            case FilterOp::ne:
                break;
            }
        }
    }
    auto change_ns = [&](std::uint32_t i) { return objects[i].change_ms * k_ns_per_ms; };
    auto first = by_change.begin();
    auto last = by_change.end();
    if (range.lo) {
        first = std::partition_point(first, last, [&](std::uint32_t i) {
            return range.lo_inclusive ? change_ns(i) < *range.lo : change_ns(i) <= *range.lo;
        });
    }
    if (range.hi) {
        last = std::partition_point(first, last, [&](std::uint32_t i) {
            return range.hi_inclusive ? change_ns(i) <= *range.hi : change_ns(i) < *range.hi;
        });
    }

    auto matches = [&](std::uint32_t i) {
        if (!query.filter || range_is_filter) {
            return true;
        }
        const auto& o = objects[i];
        return evaluate(*query.filter, [&](const FilterClause& c) {
            if (c.field == "EntityLastChangedOn") {
                auto v = o.change_ms * k_ns_per_ms;
                return compare_result(c.op, v < c.number ? -1 : v > c.number ? 1 : 0);
            }
            int cmp = o.key().compare(c.literal);
            return compare_result(c.op, cmp < 0 ? -1 : cmp > 0 ? 1 : 0);
        });
    };

    using Order = std::vector<std::pair<std::string, bool>>;
    const Order& order = query.order_by;
    bool change_asc = (order.size() == 1 && order[0] == Order::value_type{"EntityLastChangedOn", false}) ||
                      (order.size() == 2 && order[0] == Order::value_type{"EntityLastChangedOn", false} &&
                       order[1] == Order::value_type{"ObjectID", false});
    bool id_asc = order.empty() || (order.size() == 1 && order[0] == Order::value_type{"ObjectID", false});

    std::vector<std::uint32_t> rows;
    if (id_asc && !range.lo && !range.hi) {
        for (auto i : by_id) {
            if (matches(i)) {
                rows.push_back(i);
            }
        }
    } else {
        for (auto it = first; it != last; ++it) {
            if (matches(*it)) {
                rows.push_back(*it);
            }
        }
        if (!change_asc) {
            Order effective = order.empty() ? Order{{"ObjectID", false}} : order;
            std::stable_sort(rows.begin(), rows.end(), [&](std::uint32_t a, std::uint32_t b) {
                const auto& x = objects[a];
                const auto& y = objects[b];
                for (const auto& [field, desc] : effective) {
                    int cmp = 0;
                    if (field == "EntityLastChangedOn") {
                        cmp = x.change_ms < y.change_ms ? -1 : x.change_ms > y.change_ms ? 1 : 0;
                    } else {
                        cmp = x.key().compare(y.key());
                    }
                    if (cmp != 0) {
                        return desc ? cmp > 0 : cmp < 0;
                    }
                }
                return x.object_id < y.object_id;
            });
        }
    }

    std::string base = base_url(request, m_fallback_host);
    auto window = page_window(query, rows.size(), base, path, false);
    std::string collection_url = base + std::string(path);
    std::string body;
    body.reserve(window.count * 900);
    for (std::size_t k = 0; k < window.count; ++k) {
        if (k > 0) {
            body += ',';
        }
        write_row(body, query.select, coll->kind(), objects[rows[window.begin + k]], collection_url);
    }
    return odata_json(
        odata_envelope(body, query.inline_count ? std::optional<std::size_t>(rows.size()) : std::nullopt, window.next));
}

}  // namespace c4c::sim
