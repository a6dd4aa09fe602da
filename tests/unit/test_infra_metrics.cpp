#include "infra/metrics.hpp"

#include <doctest/doctest.h>

#include <string>

using c4c::infra::Metrics;

TEST_CASE("metrics: every source has a schedule lag histogram in seconds")
{
    Metrics metrics;
    auto source = metrics.source("acme-prod", "business_objects");
    REQUIRE(source.schedule_lag != nullptr);
    source.schedule_lag->Observe(0.003);
    source.schedule_lag->Observe(2.0);
    const std::string text = metrics.serialize();
    CHECK(text.find("# TYPE c4c_alm_collector_source_schedule_lag_seconds histogram") != std::string::npos);
    const std::string series =
        R"(c4c_alm_collector_source_schedule_lag_seconds_bucket{source="business_objects",tenant="acme-prod",)";
    CHECK(text.find(series + R"(le="0.0025"} 0)") != std::string::npos);
    CHECK(text.find(series + R"(le="0.005"} 1)") != std::string::npos);
    CHECK(text.find(series + R"(le="2.5"} 2)") != std::string::npos);
    CHECK(
        text.find(
            R"(c4c_alm_collector_source_schedule_lag_seconds_count{source="business_objects",tenant="acme-prod"} 2)") !=
        std::string::npos);
}
