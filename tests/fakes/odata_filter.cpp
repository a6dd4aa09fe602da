#include "tests/fakes/odata_filter.hpp"

#include <cctype>

namespace c4c::sim {

namespace {

struct Token {
    enum class Kind { identifier, literal, open, close, end };
    Kind kind = Kind::end;
    std::string text;          ///< identifier, or the literal's unquoted text
    std::string literal_type;  ///< for literals
};

class Parser {
public:
    explicit Parser(std::string_view text) : m_text(text) {}

    std::optional<FilterExpr> parse(std::string& error)
    {
        if (!advance(error)) {
            return std::nullopt;
        }
        auto expr = parse_or(error);
        if (!expr) {
            return std::nullopt;
        }
        if (m_token.kind != Token::Kind::end) {
            error = "unexpected '" + m_token.text + "' in $filter";
            return std::nullopt;
        }
        return expr;
    }

private:
    bool advance(std::string& error)
    {
        while (m_pos < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_pos]))) {
            ++m_pos;
        }
        m_token = Token{};
        if (m_pos >= m_text.size()) {
            return true;
        }
        char c = m_text[m_pos];
        if (c == '(') {
            m_token.kind = Token::Kind::open;
            m_token.text = "(";
            ++m_pos;
            return true;
        }
        if (c == ')') {
            m_token.kind = Token::Kind::close;
            m_token.text = ")";
            ++m_pos;
            return true;
        }
        if (c == '\'') {
            m_token.kind = Token::Kind::literal;
            return read_quoted(error);
        }
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '-' || c == '.') {
            std::size_t start = m_pos;
            while (m_pos < m_text.size() &&
                   (std::isalnum(static_cast<unsigned char>(m_text[m_pos])) || m_text[m_pos] == '_' ||
                    m_text[m_pos] == '/' || m_text[m_pos] == '$' || m_text[m_pos] == '.' || m_text[m_pos] == '-')) {
                ++m_pos;
            }
            std::string word(m_text.substr(start, m_pos - start));
            if (m_pos < m_text.size() && m_text[m_pos] == '\'') {
                m_token.kind = Token::Kind::literal;
                m_token.literal_type = word;
                return read_quoted(error);
            }
            m_token.kind = Token::Kind::identifier;
            m_token.text = std::move(word);
            return true;
        }
        error = std::string("unexpected character '") + c + "' in $filter";
        return false;
    }

    bool read_quoted(std::string& error)
    {
        ++m_pos;  // opening quote
        std::string value;
        while (true) {
            if (m_pos >= m_text.size()) {
                error = "unterminated string literal in $filter";
                return false;
            }
            char c = m_text[m_pos++];
            if (c == '\'') {
                if (m_pos < m_text.size() && m_text[m_pos] == '\'') {
                    value += '\'';
                    ++m_pos;
                    continue;
                }
                break;
            }
            value += c;
        }
        m_token.text = std::move(value);
        return true;
    }

    bool is_keyword(std::string_view word) const
    {
        return m_token.kind == Token::Kind::identifier && m_token.text == word;
    }

    std::optional<FilterExpr> parse_or(std::string& error)
    {
        auto first = parse_and(error);
        if (!first || !is_keyword("or")) {
            return first;
        }
        FilterExpr any;
        any.kind = FilterExpr::Kind::any_of;
        any.children.push_back(std::move(*first));
        while (is_keyword("or")) {
            if (!advance(error)) {
                return std::nullopt;
            }
            auto next = parse_and(error);
            if (!next) {
                return std::nullopt;
            }
            any.children.push_back(std::move(*next));
        }
        return any;
    }

    std::optional<FilterExpr> parse_and(std::string& error)
    {
        auto first = parse_primary(error);
        if (!first || !is_keyword("and")) {
            return first;
        }
        FilterExpr all;
        all.kind = FilterExpr::Kind::all_of;
        all.children.push_back(std::move(*first));
        while (is_keyword("and")) {
            if (!advance(error)) {
                return std::nullopt;
            }
            auto next = parse_primary(error);
            if (!next) {
                return std::nullopt;
            }
            all.children.push_back(std::move(*next));
        }
        return all;
    }

    std::optional<FilterExpr> parse_primary(std::string& error)
    {
        if (m_token.kind == Token::Kind::open) {
            if (!advance(error)) {
                return std::nullopt;
            }
            auto inner = parse_or(error);
            if (!inner) {
                return std::nullopt;
            }
            if (m_token.kind != Token::Kind::close) {
                error = "missing ')' in $filter";
                return std::nullopt;
            }
            if (!advance(error)) {
                return std::nullopt;
            }
            return inner;
        }
        if (m_token.kind != Token::Kind::identifier) {
            error = "expected a property name in $filter";
            return std::nullopt;
        }
        FilterExpr e;
        e.clause.field = m_token.text;
        if (!advance(error)) {
            return std::nullopt;
        }
        static const std::pair<const char*, FilterOp> k_ops[] = {
            {"eq", FilterOp::eq}, {"ne", FilterOp::ne}, {"gt", FilterOp::gt},
            {"ge", FilterOp::ge}, {"lt", FilterOp::lt}, {"le", FilterOp::le},
        };
        bool found = false;
        for (const auto& [name, op] : k_ops) {
            if (is_keyword(name)) {
                e.clause.op = op;
                found = true;
            }
        }
        if (!found) {
            error = "expected an operator (eq ne gt ge lt le) after '" + e.clause.field + "' in $filter";
            return std::nullopt;
        }
        if (!advance(error)) {
            return std::nullopt;
        }
        if (m_token.kind != Token::Kind::literal) {
            error = "expected a literal after the operator in $filter";
            return std::nullopt;
        }
        e.clause.literal = m_token.text;
        e.clause.literal_type = m_token.literal_type;
        if (!advance(error)) {
            return std::nullopt;
        }
        return e;
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
    Token m_token;
};

}  // namespace

std::optional<FilterExpr> parse_filter(std::string_view text, std::string& error)
{
    return Parser(text).parse(error);
}

bool for_each_clause(FilterExpr& expr, const std::function<bool(FilterClause&)>& fn)
{
    if (expr.kind == FilterExpr::Kind::clause) {
        return fn(expr.clause);
    }
    for (auto& child : expr.children) {
        if (!for_each_clause(child, fn)) {
            return false;
        }
    }
    return true;
}

std::vector<const FilterClause*> conjunction_clauses(const FilterExpr& expr)
{
    std::vector<const FilterClause*> out;
    if (expr.kind == FilterExpr::Kind::clause) {
        out.push_back(&expr.clause);
        return out;
    }
    if (expr.kind != FilterExpr::Kind::all_of) {
        return out;
    }
    for (const auto& child : expr.children) {
        auto inner = conjunction_clauses(child);
        if (inner.empty()) {
            return {};
        }
        out.insert(out.end(), inner.begin(), inner.end());
    }
    return out;
}

bool compare_result(FilterOp op, int cmp)
{
    switch (op) {
    case FilterOp::eq:
        return cmp == 0;
    case FilterOp::ne:
        return cmp != 0;
    case FilterOp::gt:
        return cmp > 0;
    case FilterOp::ge:
        return cmp >= 0;
    case FilterOp::lt:
        return cmp < 0;
    case FilterOp::le:
        return cmp <= 0;
    }
    return false;
}

}  // namespace c4c::sim
