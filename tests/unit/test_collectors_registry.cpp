#include "collectors/collector.hpp"

#include "collectors/business_objects.hpp"
#include "collectors/response_time_analysis.hpp"
#include "collectors/webservice_messages.hpp"

#include <doctest/doctest.h>

#include <set>
#include <stdexcept>
#include <string_view>

using namespace c4c::collectors;

TEST_CASE("registry: each feed feeds the use case of its endpoint")
{
    const auto kinds = collector_kinds();
    REQUIRE(kinds.size() == 3);
    CHECK(find_collector_kind(kinds, k_source_webservice_messages)->use_case == "integration_monitoring");
    CHECK(find_collector_kind(kinds, k_source_response_time_analysis)->use_case == "real_user_monitoring");
    CHECK(find_collector_kind(kinds, k_source_business_objects)->use_case == "business_process_monitoring");
    CHECK(find_collector_kind(kinds, "health") == nullptr);
}

TEST_CASE("registry: names and use cases are unique, every kind can be made")
{
    std::set<std::string_view> names;
    std::set<std::string_view> use_cases;
    for (const auto* kind : collector_kinds()) {
        CAPTURE(kind->name);
        CHECK(names.insert(kind->name).second);
        CHECK(use_cases.insert(kind->use_case).second);
        SourceConfig config;
        config.name = kind->name;
        CHECK(kind->make(config) != nullptr);
    }
}

TEST_CASE("SourceSettings: a kind's own settings by value, compared by value")
{
    SourceSettings none;
    CHECK(none.get<BusinessObjectsSettings>().service == "c4codataapi");  // the kind's defaults
    SourceSettings a = BusinessObjectsSettings{.service = "x", .collections = {"LeadCollection"}};
    SourceSettings b = BusinessObjectsSettings{.service = "x", .collections = {"LeadCollection"}};
    SourceSettings c = BusinessObjectsSettings{.service = "y", .collections = {"LeadCollection"}};
    SourceSettings d = WebserviceMessagesSettings{};
    CHECK(a == b);
    CHECK_FALSE(a == c);
    CHECK_FALSE(a == d);
    CHECK_FALSE(a == none);
    CHECK(a.get<BusinessObjectsSettings>().service == "x");
    CHECK_THROWS_AS((void)d.get<BusinessObjectsSettings>(), std::logic_error);
}
