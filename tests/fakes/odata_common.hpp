#pragma once

// Query options and server-side paging shared by the OData services (business objects and RTA):
// $format, $filter, $orderby, $top, $skip, $skiptoken, $inlinecount, $select, and C4C's page cap
// with an absolute `__next` link.

#include "tests/fakes/http_util.hpp"
#include "tests/fakes/odata_filter.hpp"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace c4c::sim {

/// C4C answers at most this many rows per response and links the rest with `__next`.
constexpr std::size_t k_max_page_rows = 1000;

struct ODataQuery {
    std::vector<QueryParam> params;
    std::optional<FilterExpr> filter;
    std::optional<std::size_t> top;
    std::size_t offset = 0;  ///< $skiptoken, else $skip
    bool inline_count = false;
    std::vector<std::string> select;                     ///< empty: every field
    std::vector<std::pair<std::string, bool>> order_by;  ///< field, descending
};

/// A service's check of one $filter clause: it may resolve the literal (into `number`); on a clause the
/// service cannot answer it sets `error` and returns false.
using ClauseCheck = std::function<bool(FilterClause& clause, std::string& error)>;

/// Parses the query options, then runs `check` on every $filter clause; returns an OData error response
/// (400) when they are invalid.
std::optional<ServerResponse> parse_odata_query(const ServerRequest& request, ODataQuery& query,
                                                const ClauseCheck& check);

/// 405 with `Allow: GET` for any method but GET, as C4C's OData services answer; nullopt for GET.
std::optional<ServerResponse> odata_require_get(const ServerRequest& request);

/// 404 for an unknown entity set or service, naming the `segment`.
ServerResponse odata_not_found(std::string_view segment);

struct PageWindow {
    std::size_t begin = 0;            ///< first row (index into the matching rows)
    std::size_t count = 0;            ///< rows in this response
    std::optional<std::string> next;  ///< absolute __next URL when more rows remain
};

/// The rows of this response among `total` matching rows; `next` repeats the request's options with
/// `$skiptoken` (or `$skip` when `skip_paging`) moved forward and `$top` reduced.
PageWindow page_window(const ODataQuery& query, std::size_t total, const std::string& base, std::string_view path,
                       bool skip_paging);

/// Writes one JSON object's members honouring $select (__metadata is always written).
class RowWriter {
public:
    RowWriter(std::string& out, const std::vector<std::string>& select) : m_out(out), m_select(select) {}
    void begin() { m_out += '{'; }
    void end() { m_out += '}'; }
    bool wanted(std::string_view name) const;
    void string(std::string_view name, std::string_view value);
    /// `raw` is already JSON.
    void raw(std::string_view name, std::string_view raw);
    void metadata(std::string_view uri, std::string_view type, std::string_view etag);

private:
    void key(std::string_view name);
    std::string& m_out;
    const std::vector<std::string>& m_select;
    bool m_first = true;
};

/// Wraps serialized rows into `{"d":{"results":[...],"__count":"n","__next":"..."}}`.
std::string odata_envelope(const std::string& rows, std::optional<std::size_t> count,
                           const std::optional<std::string>& next);

ServerResponse odata_json(std::string body);

}  // namespace c4c::sim
