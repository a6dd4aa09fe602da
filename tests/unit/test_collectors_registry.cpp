#include "collectors/collector.hpp"

#include "collectors/business_objects.hpp"
#include "collectors/pseudonymizer.hpp"
#include "collectors/response_time_analysis.hpp"
#include "collectors/webservice_messages.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
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

TEST_CASE("registry: every feed normalizes a quarantined record again through its kind (quarantine retry)")
{
    const unit_tests::TempDir temp;
    const auto& dir = temp.path;
    for (const auto* kind : collector_kinds()) {
        CAPTURE(kind->name);
        const bool renormalizes = kind->renormalize != nullptr;
        CHECK(renormalizes);
    }

    SUBCASE("business objects: the feed is the collection")
    {
        const auto* kind = find_collector_kind(collector_kinds(), k_source_business_objects);
        SourceConfig source;
        source.name = kind->name;
        const std::string raw = R"({"ObjectID":"00163E","ID":"4711","EntityLastChangedOn":"/Date(1700000000000)/"})";
        const auto again = kind->renormalize({"acme", source, "LeadCollection", dir, 5}, raw);
        REQUIRE(again.record.has_value());
        REQUIRE(again.record->has_value());
        CHECK((*again.record)->id == normalize_business_object_raw("acme", "LeadCollection", raw, 5)->id);
        CHECK((*again.record)->observed_unix_nano == 5);
        const auto still = kind->renormalize({"acme", source, "LeadCollection", dir, 5}, R"({"ID":"4711"})");
        REQUIRE(still.record.has_value());
        REQUIRE_FALSE(still.record->has_value());
        CHECK(still.record->error().reason == QuarantineReason::missing_key);
    }

    SUBCASE("web-service messages")
    {
        const auto* kind = find_collector_kind(collector_kinds(), k_source_webservice_messages);
        SourceConfig source;
        source.name = kind->name;
        const auto still = kind->renormalize({"acme", source, "messages", dir, 5}, "<BusinessDocumentMessage/>");
        REQUIRE(still.record.has_value());
        CHECK_FALSE(still.record->has_value());
    }

    SUBCASE("response time analysis: with the source's pseudonymization key from state_dir")
    {
        const auto* kind = find_collector_kind(collector_kinds(), k_source_response_time_analysis);
        SourceConfig source;
        source.name = kind->name;
        ResponseTimeAnalysisSettings settings;
        settings.pseudonymize_users = true;
        source.settings = settings;
        const std::string raw = R"({"CTIMESTAMP":"26.11.2026 12:41:12 CET","CUSER":"OLIVIA.BROWN","CSTEP_ID":"S1",)"
                                R"("CUI_COMPONENT":"C","KRESPONSE_TIME":"12"})";
        const auto again = kind->renormalize({"acme", source, "rta", dir, 5}, raw);
        REQUIRE(again.record.has_value());
        REQUIRE(again.record->has_value());
        const auto key = Pseudonymizer::open(dir);
        REQUIRE(key.has_value());
        CHECK((*again.record)->id == normalize_rta_raw("acme", raw, &*key, 5)->id);
        CHECK((*again.record)->time_unix_nano == 1795650072LL * 1'000'000'000 + 12LL * 3600 * 1'000'000'000);

        const std::string unknown = R"({"CTIMESTAMP":"25.11.2026 10:41:12 MARS","CSTEP_ID":"S2"})";
        const auto still = kind->renormalize({"acme", source, "rta", dir, 5}, unknown);
        REQUIRE(still.record.has_value());
        CHECK(still.record->error().reason == QuarantineReason::unknown_timezone);

        // A key that cannot be read is the installation's problem, not the record's: not tried.
        std::filesystem::resize_file(dir / Pseudonymizer::k_key_file, 3);
        const auto untried = kind->renormalize({"acme", source, "rta", dir, 5}, raw);
        CHECK_FALSE(untried.record.has_value());
        CHECK_FALSE(untried.error.empty());
    }
}
