#include "collectors/collector.hpp"

#include "collectors/business_objects.hpp"
#include "collectors/response_time_analysis.hpp"
#include "collectors/webservice_messages.hpp"

#include <array>

namespace c4c::collectors {

namespace {

// Every collector that exists. A new feed is one row here.
const std::array k_kinds{
    CollectorKind{infra::k_source_webservice_messages, infra::k_use_case_integration,
                  &make_webservice_messages_collector},
    CollectorKind{infra::k_source_response_time_analysis, infra::k_use_case_real_user,
                  &make_response_time_analysis_collector},
    CollectorKind{infra::k_source_business_objects, infra::k_use_case_business_process,
                  &make_business_objects_collector},
};

} // namespace

std::span<const CollectorKind> collector_kinds()
{
    return k_kinds;
}

const CollectorKind* find_collector_kind(std::string_view source)
{
    for (const auto& kind : k_kinds) {
        if (source == kind.source) {
            return &kind;
        }
    }
    return nullptr;
}

} // namespace c4c::collectors
