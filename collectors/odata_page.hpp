#pragma once

// OData v2 JSON collection pages as C4C answers them (CONTRACT.md section 3): `d.results`, `__count`,
// `__next`, and OData error objects, read by a single-pass validating parser. Pure functions: no I/O, no
// exceptions besides std::bad_alloc.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::collectors {

/// Why an OData page could not be used.
struct ODataError {
    enum class Kind {
        json,       ///< not well-formed JSON (`offset`: 0-based offset of the byte where parsing failed)
        structure,  ///< well-formed, but no `d` object with a `results` array (nor a `d` array)
        service,    ///< an OData error object `{"error":{"code":..,"message":{"value":..}}}`
        value,      ///< a known member has an unusable value (`__count` not a number, ...)
    };
    Kind kind = Kind::structure;
    std::string message;     ///< one line for the operator
    std::size_t offset = 0;  ///< Kind::json only
    std::string code;        ///< Kind::service only: the OData error code
};

/// Only reached through result::value() on an error; throws std::runtime_error with the message.
[[noreturn]] void throw_exception_from_error(const ODataError& error, const boost::source_location& location);

/// One entity of a page: its scalar properties, in document order. Nested objects (`__metadata`,
/// `__deferred` navigation links, expanded entities) and arrays are dropped while parsing; `null`
/// properties are absent; numbers and booleans keep their JSON text ("12.5", "true"). Stored as one
/// buffer of records (one allocation per row); for_each() is the fast way through it.
class ODataRow {
public:
    /// The property's value, or nullopt when the row has no such scalar property (or it was null). Of
    /// duplicate members, the last one.
    std::optional<std::string_view> get(std::string_view name) const;
    /// The property's value, or "" when absent.
    std::string_view value_or_empty(std::string_view name) const;

    /// Calls `visit(name, value)` for every property, in document order.
    template <class Visit>
    void for_each(Visit&& visit) const
    {
        const char* p = m_data.data();
        const char* const end = p + m_data.size();
        while (p < end) {
            std::uint32_t name_size = 0;
            std::uint32_t value_size = 0;
            std::memcpy(&name_size, p, sizeof name_size);
            std::memcpy(&value_size, p + sizeof name_size, sizeof value_size);
            p += k_header;
            visit(std::string_view(p, name_size), std::string_view(p + name_size, value_size));
            p += name_size + value_size;
        }
    }

    std::size_t size() const { return m_count; }
    /// The i-th property's name and value (walks the row: O(i)).
    std::string_view name(std::size_t i) const;
    std::string_view value(std::size_t i) const;

    /// Appends a property (the parser's, and tests' way of building a row).
    void add(std::string_view name, std::string_view value);
    /// Pre-sizes storage for about `bytes` bytes of records.
    void reserve(std::size_t bytes) { m_data.reserve(bytes); }
    std::size_t bytes() const { return m_data.size(); }

    /// Where the row's JSON object lies in the parsed body (offset and size; 0, 0 for a row built by add()):
    /// its text as C4C sent it, for a record that is quarantined.
    std::size_t raw_offset() const { return m_raw_offset; }
    std::size_t raw_size() const { return m_raw_size; }
    void set_span(std::size_t offset, std::size_t size)
    {
        m_raw_offset = offset;
        m_raw_size = size;
    }

private:
    static constexpr std::size_t k_header = 2 * sizeof(std::uint32_t);
    /// Records back to back: name size (u32), value size (u32), name, value.
    std::string m_data;
    std::size_t m_count = 0;
    std::size_t m_raw_offset = 0;
    std::size_t m_raw_size = 0;
};

/// One page of a collection query.
struct ODataPage {
    std::vector<ODataRow> rows;          ///< `d.results` in document order
    std::optional<std::uint64_t> count;  ///< `d.__count` ($inlinecount=allpages): a string, or a number
    std::optional<std::string> next;     ///< `d.__next`: absolute or relative link to the next page
};

/// Parses one page: `{"d":{"results":[...],"__count":"n","__next":"..."}}`, or the OData v1 form
/// `{"d":[...]}`. Errors: invalid JSON per RFC 8259 (with the byte offset and the beginning of the body, so
/// an HTML login page is recognisable; nesting deeper than 512 levels is refused too; invalid UTF-8 inside
/// strings is passed through), well-formed JSON without a `d` object or array or without `d.results`, an
/// OData error object (its code and message), a `__count` that is not a non-negative integer, a `__next`
/// that is not a string. Members it does not know are ignored. One pass over the text with its own
/// validating reader, no DOM: scalar row members are copied out, everything else (`__metadata`,
/// `__deferred` links) is only checked and skipped. About 7,000 instructions per 1 kB row.
boost::system::result<ODataPage, ODataError> parse_odata_page(std::string_view json);

}  // namespace c4c::collectors
