#include "collectors/collector.hpp"

#include "collectors/business_objects.hpp"
#include "collectors/response_time_analysis.hpp"
#include "collectors/webservice_messages.hpp"

#include <array>

namespace c4c::collectors {

namespace {

// Every collector that exists. A new feed is its collector's file pair and one row here.
constexpr std::array k_kinds{
    &k_webservice_messages_kind,
    &k_response_time_analysis_kind,
    &k_business_objects_kind,
};

}  // namespace

std::span<const CollectorKind* const> collector_kinds()
{
    return k_kinds;
}

const CollectorKind* find_collector_kind(std::span<const CollectorKind* const> kinds, std::string_view name)
{
    for (const auto* kind : kinds) {
        if (name == kind->name) {
            return kind;
        }
    }
    return nullptr;
}

}  // namespace c4c::collectors
