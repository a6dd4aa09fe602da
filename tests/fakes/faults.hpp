#pragma once

// Scripted faults for the simulator's C4C paths and the Cloud ALM sink. Rules apply in the order they
// were added; the first rule matching a request fires and its count goes down (-1: until cleared).

#include "tests/fakes/http_util.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::sim {

enum class FaultMode { status, garbage, broken_xml, soap_fault, hang, trickle, truncate, missing_rows };

struct FaultRule {
    std::string target;  ///< odata rta soap c4c sink logs metrics token
    FaultMode mode = FaultMode::status;
    unsigned status = 503;
    std::optional<std::string> retry_after;
    std::int64_t count = 1;  ///< -1: until cleared
    std::int64_t skip = 0;   ///< the next N matching requests pass untouched before the rule fires
    std::vector<std::string> reject_event_ids;
    std::int64_t hang_ms = 60'000;
    std::size_t trickle_bytes = 1;
    std::int64_t trickle_delay_ms = 200;
    std::size_t missing_rows = 1;  ///< missing_rows (target rta): the oldest matching rows left out

    nlohmann::json to_json() const;
    /// Whether the request is still processed (and, on the sink, recorded) before the fault shapes
    /// the answer: the answer is a 2xx (garbage, broken_xml, a 2xx status) or the real answer
    /// delivered slowly, cut or short of rows (trickle, truncate, missing_rows).
    bool processes_request() const;
};

/// Parses one rule; on failure returns nullopt and sets `error`.
std::optional<FaultRule> parse_fault_rule(const nlohmann::json& j, std::string& error);

class Faults {
public:
    void add(FaultRule rule) { m_rules.push_back(std::move(rule)); }
    void clear() { m_rules.clear(); }
    nlohmann::json to_json() const;

    /// Fires the first rule without reject_event_ids that matches `kind` (odata rta soap logs metrics
    /// token).
    std::optional<FaultRule> take(std::string_view kind);
    /// Fires the first reject rule matching `kind` that lists one of `event_ids`; `matched` names it.
    std::optional<FaultRule> take_reject(std::string_view kind, std::span<const std::string_view> event_ids,
                                         std::string& matched);
    std::uint64_t fired() const { return m_fired; }

private:
    std::optional<FaultRule> consume(std::size_t index);
    std::vector<FaultRule> m_rules;
    std::uint64_t m_fired = 0;
};

/// The answer replacing the real one for `rule` fired on `kind`.
ServerResponse fault_response(const FaultRule& rule, std::string_view kind);
/// Shapes a real answer for modes that keep it (trickle, truncate, broken_xml); others replace it
/// with fault_response().
void apply_fault(const FaultRule& rule, std::string_view kind, ServerResponse& response);

}  // namespace c4c::sim
