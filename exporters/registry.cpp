#include "exporters/exporter.hpp"

#include "exporters/cloud_alm.hpp"
#include "exporters/health_monitoring.hpp"

#include <array>

namespace c4c::exporters {

namespace {

// Every exporter that exists: the log endpoint of each use case a collector feeds, and Health Monitoring.
constexpr std::array k_kinds{
    &k_logs_exporter_kind,
    &k_health_monitoring_exporter_kind,
};

}  // namespace

std::span<const ExporterKind* const> exporter_kinds()
{
    return k_kinds;
}

const ExporterKind* find_exporter_kind(std::span<const ExporterKind* const> kinds, std::string_view use_case,
                                       bool fed_by_collector)
{
    for (const auto* kind : kinds) {
        if (kind->use_case == use_case) {
            return kind;
        }
    }
    if (fed_by_collector) {
        for (const auto* kind : kinds) {
            if (kind->use_case.empty()) {
                return kind;
            }
        }
    }
    return nullptr;
}

}  // namespace c4c::exporters
