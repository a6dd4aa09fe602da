#include "daemon/health_snapshot.hpp"

#include <string>
#include <utility>

namespace c4c::daemon {

namespace {

exporters::MetricPoint health_point(std::string_view name, std::string_view description, std::string_view unit,
                                    exporters::MetricPoint::Kind kind, infra::Attribute attribute, double value)
{
    exporters::MetricPoint point;
    point.name = name;
    point.description = description;
    point.unit = unit;
    point.kind = kind;
    point.attributes.push_back(std::move(attribute));
    point.value = value;
    return point;
}

}  // namespace

std::vector<exporters::MetricPoint> health_snapshot(const TenantRuntime& tenant)
{
    using Kind = exporters::MetricPoint::Kind;
    std::vector<exporters::MetricPoint> points;
    for (const auto& source : tenant.sources) {
        const infra::Attribute attribute{"sap.c4c.source", source->config.name};
        points.push_back(health_point("c4c.source.availability", "1 when the last poll of the source succeeded", "1",
                                      Kind::gauge, attribute, source->up ? 1.0 : 0.0));
        points.push_back(health_point("c4c.source.request.duration", "Duration of the last C4C request", "s",
                                      Kind::gauge, attribute, source->last_request_seconds));
        points.push_back(health_point("c4c.source.records", "Records read from C4C", "{record}", Kind::sum, attribute,
                                      static_cast<double>(source->records_total)));
        if (const auto& failed = source->kind.failed_items) {
            points.push_back(health_point(failed->name, failed->description, failed->unit, Kind::sum, attribute,
                                          static_cast<double>(source->failed_messages_total)));
        }
    }
    for (const auto& [use_case, endpoint] : tenant.endpoints) {
        if (!endpoint->has_outbox() || !endpoint->store) {
            continue;
        }
        points.push_back(health_point("c4c.outbox.events", "Events waiting for delivery to Cloud ALM", "{event}",
                                      Kind::gauge, infra::Attribute{"sap.calm.use_case", use_case},
                                      static_cast<double>(endpoint->store->figures(endpoint->id).events)));
    }
    return points;
}

}  // namespace c4c::daemon
