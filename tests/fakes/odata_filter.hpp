#pragma once

// A small OData v2 `$filter` parser: `<field> <op> <literal>` clauses (ops eq ne gt ge lt le; literals
// 'string' or typed like datetimeoffset'...'), joined by `and` / `or`, with parentheses. The services
// give meaning to fields and literals; anything unparsable is reported as an error text (-> 400).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::sim {

enum class FilterOp { eq, ne, gt, ge, lt, le };

struct FilterClause {
    std::string field;
    FilterOp op = FilterOp::eq;
    std::string literal_type;  ///< "" for a plain 'string', else e.g. "datetimeoffset"
    std::string literal;       ///< unquoted text
    std::int64_t number = 0;   ///< filled in by the service (a parsed time, ...)
};

struct FilterExpr {
    enum class Kind { clause, all_of, any_of };
    Kind kind = Kind::clause;
    FilterClause clause;
    std::vector<FilterExpr> children;
};

/// Parses `text`; on failure returns nullopt and sets `error`.
std::optional<FilterExpr> parse_filter(std::string_view text, std::string& error);

/// Calls `fn` on every clause; stops and returns false as soon as `fn` does.
bool for_each_clause(FilterExpr& expr, const std::function<bool(FilterClause&)>& fn);

/// The clauses of `expr` when it is a single clause or a conjunction of clauses (no `or`), else empty.
std::vector<const FilterClause*> conjunction_clauses(const FilterExpr& expr);

/// Evaluates `expr` with `test` deciding each clause.
template <class Test>
bool evaluate(const FilterExpr& expr, const Test& test)
{
    switch (expr.kind) {
    case FilterExpr::Kind::clause:
        return test(expr.clause);
    case FilterExpr::Kind::all_of:
        for (const auto& c : expr.children) {
            if (!evaluate(c, test)) {
                return false;
            }
        }
        return true;
    case FilterExpr::Kind::any_of:
        for (const auto& c : expr.children) {
            if (evaluate(c, test)) {
                return true;
            }
        }
        return false;
    }
    return false;
}

/// Applies `op` to a three-way comparison result (<0, 0, >0) of "value op literal".
bool compare_result(FilterOp op, int cmp);

}  // namespace c4c::sim
