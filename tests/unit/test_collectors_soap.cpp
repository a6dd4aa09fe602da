#include "collectors_support.hpp"

#include "collectors/soap.hpp"

#include <doctest/doctest.h>
#include <pugixml.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace soap = c4c::collectors::soap;
using namespace collector_tests;
using namespace std::chrono_literals;

namespace {

std::string replace_all(std::string text, std::string_view from, std::string_view to)
{
    for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
        text.replace(pos, from.size(), to);
    }
    return text;
}

std::int64_t ns(std::string_view iso)
{
    const auto value = soap::parse_iso8601_ns(iso);
    REQUIRE_MESSAGE(value.has_value(), "not parsed: " << iso);
    return *value;
}

/// Wraps BusinessDocumentMessage elements into a response envelope.
std::string response_with(std::string_view messages,
                          std::string_view conditions = "<ProcessingConditions><ReturnedQueryHitsNumberValue>1</"
                                                        "ReturnedQueryHitsNumberValue><MoreHitsAvailableIndicator>"
                                                        "false</MoreHitsAvailableIndicator></ProcessingConditions>")
{
    return std::string(
               R"(<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>)"
               R"(<n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync xmlns:n0="http://sap.com/xi/SAPGlobal20/Global">)") +
           std::string(messages) + std::string(conditions) +
           "</n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync></soap-env:Body></soap-env:Envelope>";
}

void check_sample_page(const soap::QueryPage& page)
{
    REQUIRE(page.messages.size() == 4);
    CHECK(page.more_hits);
    CHECK(page.last_returned_id == "FA163E762F431C12A7292A73A6D278BC");
    CHECK(page.returned_hits == 4);
    CHECK(page.max_log_severity == 1);
    CHECK(page.log_items.empty());

    const auto& waiting = page.messages[0];
    CHECK(waiting.id == "FA163E66E0BDCCFCEBC017F3E59DC80B");
    REQUIRE(waiting.creation_time_ns.has_value());
    CHECK(*waiting.creation_time_ns == ns("2026-11-26T02:08:05.030Z"));
    CHECK(waiting.last_change_time_ns == ns("2026-11-26T02:10:56.115Z"));
    CHECK(waiting.status_code == soap::k_waiting);
    CHECK(waiting.status_text == "Waiting");
    CHECK(waiting.direction_code == "2");
    CHECK(waiting.service_interface == "ProductMasterReplicationIn");
    CHECK(waiting.sender_system == "C4C");
    CHECK(waiting.receiver_system == "MKT_CLOUD");
    CHECK(waiting.log_items.empty());
    CHECK(waiting.max_log_severity == 0);

    const auto& successful = page.messages[1];
    CHECK(successful.id == "FA163E762F431C12A7292A73A6D278BC");
    CHECK(successful.status_code == soap::k_successful);
    CHECK(successful.status_text == "Successful");
    CHECK(successful.direction_code == "1");
    CHECK(successful.service_interface == "SalesOrderRequestOut");

    const auto& failed = page.messages[2];
    CHECK(failed.id == "FA163E0762EE33A8763CCCA22C836659");
    CHECK(failed.status_code == soap::k_failed);
    CHECK(failed.status_text == "Failed");
    CHECK(failed.receiver_system == "S4H_CLNT200");
    CHECK(failed.max_log_severity == 3);
    REQUIRE(failed.log_items.size() == 2);
    CHECK(failed.log_items[0].severity_code == soap::k_error);
    CHECK(failed.log_items[0].type_id == "SRT/014");
    CHECK(failed.log_items[0].note == "Mapping error: field <CustomerID> is empty & no default");
    CHECK(failed.log_items[1].severity_code == soap::k_information);
    CHECK(failed.log_items[1].type_id.empty());
    CHECK(failed.log_items[1].note == "Message was processed by inbound agent");

    const auto& warning = page.messages[3];
    CHECK(warning.id == "FA163E1DCF8EE24D363181DD92D196BA");
    CHECK(warning.last_change_time_ns == failed.last_change_time_ns);
    CHECK(warning.max_log_severity == 2);
    REQUIRE(warning.log_items.size() == 1);
    CHECK(warning.log_items[0].severity_code == soap::k_warning);
    CHECK(warning.log_items[0].note == "Business partner role could not be determined; default used");
}

}  // namespace

TEST_CASE("soap: the query request carries bounds, paging conditions and escapes the last ID")
{
    const auto lower = std::chrono::sys_days{std::chrono::year{2026} / 11 / 25} + 0h;
    const auto upper = std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + 6h + 123ms + 456us;
    const auto xml = soap::build_query_request(lower, upper, 500, "FA16<&>\"'X");

    pugi::xml_document document;
    const auto parsed = document.load_buffer(xml.data(), xml.size());
    REQUIRE_MESSAGE(parsed, parsed.description());

    const auto envelope = document.document_element();
    CHECK(std::string_view(envelope.name()) == "soapenv:Envelope");
    CHECK(std::string_view(envelope.attribute("xmlns:soapenv").value()) == "http://schemas.xmlsoap.org/soap/envelope/");
    CHECK(std::string_view(envelope.attribute("xmlns:glob").value()) == "http://sap.com/xi/SAPGlobal20/Global");
    CHECK(envelope.child("soapenv:Header"));
    const auto root =
        envelope.child("soapenv:Body").child("glob:BusinessDocumentMessageMonitoringFindByElementsRequest_sync");
    REQUIRE(root);

    const auto selection =
        root.child("BusinessDocumentMessageMonitoringSelectionByElements").child("SelectionByLastChangeDateTime");
    REQUIRE(selection);
    CHECK(std::string_view(selection.child_value("InclusionExclusionCode")) == "I");
    CHECK(std::string_view(selection.child_value("IntervalBoundaryTypeCode")) == "3");
    CHECK(std::string_view(selection.child_value("LowerBoundaryDateTime")) == "2026-11-25T00:00:00.000Z");
    CHECK(std::string_view(selection.child_value("UpperBoundaryDateTime")) == "2026-11-26T06:00:00.123Z");

    const auto conditions = root.child("ProcessingConditions");
    REQUIRE(conditions);
    CHECK(std::string_view(conditions.child_value("QueryHitsMaximumNumberValue")) == "500");
    CHECK(std::string_view(conditions.child_value("QueryHitsUnlimitedIndicator")) == "false");
    CHECK(std::string_view(conditions.child_value("LastReturnedObjectID")) == "FA16<&>\"'X");
    CHECK(xml.find("FA16&lt;&amp;&gt;&quot;&apos;X") != std::string::npos);

    SUBCASE("first page: empty LastReturnedObjectID, at least one hit")
    {
        const auto first = soap::build_query_request(lower, upper, 0, "");
        CHECK(first.find("<LastReturnedObjectID></LastReturnedObjectID>") != std::string::npos);
        CHECK(first.find("<QueryHitsMaximumNumberValue>1</QueryHitsMaximumNumberValue>") != std::string::npos);
    }
    SUBCASE("the request parses back through the response parser's element matching")
    {
        // Same element names as the sample request, so its shape is what C4C documents.
        const auto sample = read_sample("soap-request.xml");
        pugi::xml_document expected;
        REQUIRE(expected.load_buffer(sample.data(), sample.size()));
        std::vector<std::string> want;
        std::vector<std::string> got;
        for (auto node : expected.select_nodes("//*")) {
            want.emplace_back(node.node().name());
        }
        for (auto node : document.select_nodes("//*")) {
            got.emplace_back(node.node().name());
        }
        CHECK(got == want);
    }
}

TEST_CASE("soap: xml_escape drops what XML 1.0 cannot carry")
{
    CHECK(soap::xml_escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    CHECK(soap::xml_escape(std::string("x\x01y\tz\r", 7)) == "xy\tz&#13;");
    CHECK(soap::xml_escape("Gr\xC3\xBC\xC3\x9F") == "Gr\xC3\xBC\xC3\x9F");
}

TEST_CASE("soap: the sample response page")
{
    const auto xml = read_sample("soap-response.xml");
    const auto page = soap::parse_query_response(xml);
    REQUIRE_MESSAGE(page.has_value(), (page ? std::string() : page.error().message));
    check_sample_page(*page);

    SUBCASE("in place gives the same")
    {
        auto buffer = xml;
        const auto in_place = soap::parse_query_response_in_place(buffer);
        REQUIRE(in_place.has_value());
        check_sample_page(*in_place);
    }
}

TEST_CASE("soap: elements are matched by local name, whatever the prefix")
{
    const auto sample = read_sample("soap-response.xml");

    SUBCASE("other prefixes")
    {
        auto xml = replace_all(sample, "soap-env:", "SOAP-ENV:");
        xml = replace_all(xml, "xmlns:soap-env=", "xmlns:SOAP-ENV=");
        xml = replace_all(xml, "n0:", "ns2:");
        xml = replace_all(xml, "xmlns:n0=", "xmlns:ns2=");
        const auto page = soap::parse_query_response(xml);
        REQUIRE_MESSAGE(page.has_value(), (page ? std::string() : page.error().message));
        check_sample_page(*page);
    }
    SUBCASE("default namespace on the response element")
    {
        auto xml = replace_all(sample, "n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync",
                               "BusinessDocumentMessageMonitoringFindByElementsResponse_sync");
        xml = replace_all(xml, "xmlns:n0=", "xmlns=");
        REQUIRE(xml.find("n0:") == std::string::npos);
        const auto page = soap::parse_query_response(xml);
        REQUIRE_MESSAGE(page.has_value(), (page ? std::string() : page.error().message));
        check_sample_page(*page);
    }
    SUBCASE("no prefixes at all")
    {
        auto xml = replace_all(sample, "soap-env:", "");
        xml = replace_all(xml, "xmlns:soap-env=", "xmlns=");
        xml = replace_all(xml, "n0:", "");
        xml = replace_all(xml, " xmlns:n0=\"http://sap.com/xi/SAPGlobal20/Global\"", "");
        const auto page = soap::parse_query_response(xml);
        REQUIRE_MESSAGE(page.has_value(), (page ? std::string() : page.error().message));
        check_sample_page(*page);
    }
    SUBCASE("prefixed children, CRLF line ends, comments")
    {
        auto xml = replace_all(sample, "<BusinessDocumentMessageID>", "<!-- id --><n0:BusinessDocumentMessageID>");
        xml = replace_all(xml, "</BusinessDocumentMessageID>", "</n0:BusinessDocumentMessageID>");
        xml = replace_all(xml, "\n", "\r\n");
        const auto page = soap::parse_query_response(xml);
        REQUIRE_MESSAGE(page.has_value(), (page ? std::string() : page.error().message));
        check_sample_page(*page);
    }
}

TEST_CASE("soap: an empty result")
{
    const auto xml =
        response_with("", "<ProcessingConditions><ReturnedQueryHitsNumberValue>0</ReturnedQueryHitsNumberValue>"
                          "<MoreHitsAvailableIndicator>false</MoreHitsAvailableIndicator>"
                          "<LastReturnedObjectID/></ProcessingConditions>");
    const auto page = soap::parse_query_response(xml);
    REQUIRE(page.has_value());
    CHECK(page->messages.empty());
    CHECK_FALSE(page->more_hits);
    CHECK(page->returned_hits == 0);
    CHECK(page->last_returned_id.empty());

    SUBCASE("without ProcessingConditions")
    {
        const auto bare = soap::parse_query_response(response_with("", ""));
        REQUIRE(bare.has_value());
        CHECK(bare->messages.empty());
        CHECK_FALSE(bare->more_hits);
    }
}

TEST_CASE("soap: the response's own Log is kept apart from the messages'")
{
    const auto xml =
        response_with("", "<ProcessingConditions><MoreHitsAvailableIndicator>false</MoreHitsAvailableIndicator>"
                          "</ProcessingConditions><Log><MaximumLogItemSeverityCode>3</MaximumLogItemSeverityCode>"
                          "<Item><TypeID>QRY/001</TypeID><SeverityCode>3</SeverityCode>"
                          "<Note>Selection too broad</Note></Item></Log>");
    const auto page = soap::parse_query_response(xml);
    REQUIRE(page.has_value());
    CHECK(page->max_log_severity == 3);
    REQUIRE(page->log_items.size() == 1);
    CHECK(page->log_items[0].type_id == "QRY/001");
    CHECK(page->log_items[0].note == "Selection too broad");
}

TEST_CASE("soap: errors")
{
    SUBCASE("a SOAP fault carries faultcode and faultstring")
    {
        const auto page = soap::parse_query_response(read_sample("soap-fault.xml"));
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == soap::ParseError::Kind::fault);
        CHECK(page.error().fault_code == "soap-env:Client");
        CHECK(page.error().fault_string == "XML parse error: syntax error: line 1, column 0");
        CHECK(page.error().message.find("XML parse error") != std::string::npos);
        CHECK(page.error().message.find("soap-env:Client") != std::string::npos);
        CHECK_THROWS_AS(static_cast<void>(page.value()), std::runtime_error);
    }
    SUBCASE("a SOAP 1.2 fault")
    {
        const auto page = soap::parse_query_response(
            R"(<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>)"
            R"(<env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="en">)"
            R"(Processing error</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>)");
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == soap::ParseError::Kind::fault);
        CHECK(page.error().fault_code == "env:Receiver");
        CHECK(page.error().fault_string == "Processing error");
    }
    SUBCASE("malformed XML reports pugixml's description and offset")
    {
        auto xml = read_sample("soap-response.xml");
        xml.resize(xml.size() / 2);
        const auto page = soap::parse_query_response(xml);
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == soap::ParseError::Kind::xml);
        CHECK(page.error().message.find("malformed XML at byte") != std::string::npos);

        const auto garbage = soap::parse_query_response("<a><b></a>");
        REQUIRE_FALSE(garbage.has_value());
        CHECK(garbage.error().kind == soap::ParseError::Kind::xml);
        CAPTURE(garbage.error().message);
        CHECK(garbage.error().message.find("malformed XML at byte ") != std::string::npos);
        CHECK(garbage.error().message.find("mismatch") != std::string::npos);

        const auto empty = soap::parse_query_response("");
        REQUIRE_FALSE(empty.has_value());
        CHECK(empty.error().kind == soap::ParseError::Kind::xml);

        const auto html = soap::parse_query_response("<html><body>Service unavailable</body></html>");
        REQUIRE_FALSE(html.has_value());
        CHECK(html.error().kind == soap::ParseError::Kind::structure);
        CHECK(html.error().message.find("html") != std::string::npos);
    }
    SUBCASE("missing Body")
    {
        const auto page = soap::parse_query_response(
            R"(<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Header/></soap-env:Envelope>)");
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == soap::ParseError::Kind::structure);
        CHECK(page.error().message.find("no Body") != std::string::npos);
    }
    SUBCASE("missing response element")
    {
        const auto page = soap::parse_query_response(
            R"(<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><x:Other xmlns:x="urn:x"/></e:Body></e:Envelope>)");
        REQUIRE_FALSE(page.has_value());
        CHECK(page.error().kind == soap::ParseError::Kind::structure);
        CHECK(page.error().message.find("x:Other") != std::string::npos);

        const auto empty = soap::parse_query_response(
            R"(<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>)");
        REQUIRE_FALSE(empty.has_value());
        CHECK(empty.error().message.find("empty") != std::string::npos);
    }
    SUBCASE("a message without BusinessDocumentMessageID is set apart with its text; the page is read")
    {
        const std::string bad = "<BusinessDocumentMessage><LastChangeDateTime>2026-11-26T02:10:56Z"
                                "</LastChangeDateTime></BusinessDocumentMessage>";
        const std::string good = "<BusinessDocumentMessage><BusinessDocumentMessageID>ABC</BusinessDocumentMessageID>"
                                 "<LastChangeDateTime>2026-11-26T02:10:56Z</LastChangeDateTime>"
                                 "</BusinessDocumentMessage>";
        const auto page = soap::parse_query_response(response_with(bad + good));
        REQUIRE(page.has_value());
        REQUIRE(page->messages.size() == 1);
        CHECK(page->messages[0].id == "ABC");
        REQUIRE(page->bad_messages.size() == 1);
        const auto& message = page->bad_messages[0];
        CHECK(message.problem == soap::BadMessage::Problem::missing_id);
        CHECK(message.id.empty());
        CHECK(message.message.find("#1") != std::string::npos);
        CHECK(message.message.find("BusinessDocumentMessageID") != std::string::npos);
        CHECK(message.raw == bad);
        const auto again = soap::parse_message(message.raw);
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error().problem == soap::BadMessage::Problem::missing_id);
        CHECK(soap::parse_message(good).value().id == "ABC");
        CHECK(soap::parse_message("<Other/>").error().problem == soap::BadMessage::Problem::invalid_value);
        CHECK(soap::parse_message("<BusinessDocumentMessage>").error().problem ==
              soap::BadMessage::Problem::invalid_value);
    }
    SUBCASE("a message without LastChangeDateTime")
    {
        const auto page =
            soap::parse_query_response(response_with("<BusinessDocumentMessage><BusinessDocumentMessageID>ABC</"
                                                     "BusinessDocumentMessageID></BusinessDocumentMessage>"));
        REQUIRE(page.has_value());
        REQUIRE(page->bad_messages.size() == 1);
        CHECK(page->bad_messages[0].problem == soap::BadMessage::Problem::invalid_time);
        CHECK(page->bad_messages[0].id == "ABC");
        CHECK(page->bad_messages[0].message.find("ABC") != std::string::npos);
        CHECK(page->bad_messages[0].message.find("LastChangeDateTime") != std::string::npos);
    }
    SUBCASE("malformed values name the field and the message")
    {
        const std::string head = "<BusinessDocumentMessage><BusinessDocumentMessageID>ABC</BusinessDocumentMessageID>";
        const std::string change = "<LastChangeDateTime>2026-11-26T02:10:56Z</LastChangeDateTime>";
        for (const auto& [fragment, field] : std::vector<std::pair<std::string, std::string>>{
                 {"<LastChangeDateTime>yesterday</LastChangeDateTime>", "LastChangeDateTime"},
                 {change + "<CreationDateTime>2026-13-01T00:00:00Z</CreationDateTime>", "CreationDateTime"},
                 {change + "<ProcessingStatusCode>four</ProcessingStatusCode>", "ProcessingStatusCode"},
                 {change + "<Log><Item><SeverityCode>high</SeverityCode></Item></Log>", "SeverityCode"},
                 {change + "<Log><MaximumLogItemSeverityCode>x</MaximumLogItemSeverityCode></Log>",
                  "MaximumLogItemSeverityCode"},
             }) {
            CAPTURE(fragment);
            const auto page = soap::parse_query_response(response_with(head + fragment + "</BusinessDocumentMessage>"));
            REQUIRE(page.has_value());
            CHECK(page->messages.empty());
            REQUIRE(page->bad_messages.size() == 1);
            CHECK(page->bad_messages[0].problem == (field.find("DateTime") != std::string::npos
                                                        ? soap::BadMessage::Problem::invalid_time
                                                        : soap::BadMessage::Problem::invalid_value));
            CHECK(page->bad_messages[0].message.find("ABC") != std::string::npos);
            CHECK(page->bad_messages[0].message.find(field) != std::string::npos);
        }
        const auto more =
            soap::parse_query_response(response_with("", "<ProcessingConditions><MoreHitsAvailableIndicator>maybe</"
                                                         "MoreHitsAvailableIndicator></ProcessingConditions>"));
        REQUIRE_FALSE(more.has_value());
        CHECK(more.error().message.find("MoreHitsAvailableIndicator") != std::string::npos);
    }
    SUBCASE("optional fields may be missing")
    {
        const auto page = soap::parse_query_response(
            response_with("<BusinessDocumentMessage><BusinessDocumentMessageID> ABC </BusinessDocumentMessageID>"
                          "<LastChangeDateTime>2026-11-26T02:10:56Z</LastChangeDateTime><ProcessingStatusCode/></"
                          "BusinessDocumentMessage>"));
        REQUIRE(page.has_value());
        REQUIRE(page->messages.size() == 1);
        CHECK(page->messages[0].id == "ABC");
        CHECK(page->messages[0].status_code == 0);
        CHECK_FALSE(page->messages[0].creation_time_ns.has_value());
        CHECK(page->messages[0].direction_code.empty());
    }
}

// Found by tests/fuzz/fuzz_soap_response: pugixml takes a NUL byte for the end of the text, so what
// followed one was ignored (messages too), and the in-place parser (the collector's) accepted a body whose
// last end tag ran into NUL bytes while the copying one refused it.
TEST_CASE("soap: a NUL byte makes the body malformed, for both entry points")
{
    const auto sample = read_sample("soap-response.xml");
    const auto end = sample.rfind("</soap-env:Envelope>");
    REQUIRE(end != std::string::npos);
    for (const std::string& body : {
             sample.substr(0, end) + "</soap-env:Envelope" + std::string(100, '\0') + ">",
             sample + std::string(1, '\0') + "<more/>",
         }) {
        const auto copied = soap::parse_query_response(body);
        REQUIRE_FALSE(copied.has_value());
        CHECK(copied.error().kind == soap::ParseError::Kind::xml);
        CHECK(copied.error().message.find("NUL character") != std::string::npos);
        std::string buffer = body;
        const auto in_place = soap::parse_query_response_in_place(buffer);
        REQUIRE_FALSE(in_place.has_value());
        CHECK(in_place.error().message == copied.error().message);
    }
}

TEST_CASE("soap: a huge page (100k messages) parses")
{
    constexpr int k_count = 100'000;
    std::string messages;
    messages.reserve(static_cast<std::size_t>(k_count) * 620);
    for (int i = 0; i < k_count; ++i) {
        messages += "<BusinessDocumentMessage><BusinessDocumentMessageID>MSG";
        messages += std::to_string(i);
        messages +=
            "</BusinessDocumentMessageID><CreationDateTime>2026-11-26T02:08:05.0300000Z</CreationDateTime>"
            "<LastChangeDateTime>2026-11-26T02:10:56.1150000Z</LastChangeDateTime>"
            "<ProcessingStatusCode>4</ProcessingStatusCode><ProcessingStatusCodeText>Failed</ProcessingStatusCodeText>"
            "<DirectionCode>2</DirectionCode><ServiceInterfaceName>BusinessPartnerReplicationIn</ServiceInterfaceName>"
            "<SenderCommunicationSystemID>C4C</SenderCommunicationSystemID>"
            "<ReceiverCommunicationSystemID>S4H_CLNT200</ReceiverCommunicationSystemID><Log><Item>"
            "<TypeID>SRT/014</TypeID><SeverityCode>3</SeverityCode><Note>Mapping error: field &lt;CustomerID&gt; "
            "is empty &amp; no default</Note></Item></Log></BusinessDocumentMessage>\n";
    }
    const auto xml = response_with(messages, "<ProcessingConditions><ReturnedQueryHitsNumberValue>100000"
                                             "</ReturnedQueryHitsNumberValue><MoreHitsAvailableIndicator>true"
                                             "</MoreHitsAvailableIndicator><LastReturnedObjectID>MSG99999"
                                             "</LastReturnedObjectID></ProcessingConditions>");
    CHECK(xml.size() > 50'000'000);
    const auto page = soap::parse_query_response(xml);
    REQUIRE(page.has_value());
    REQUIRE(page->messages.size() == static_cast<std::size_t>(k_count));
    CHECK(page->returned_hits == k_count);
    CHECK(page->more_hits);
    CHECK(page->last_returned_id == "MSG99999");
    CHECK(page->messages.back().id == "MSG99999");
    CHECK(page->messages.back().log_items.at(0).note == "Mapping error: field <CustomerID> is empty & no default");

    auto buffer = xml;
    const auto in_place = soap::parse_query_response_in_place(buffer);
    REQUIRE(in_place.has_value());
    CHECK(in_place->messages.size() == static_cast<std::size_t>(k_count));
}

TEST_CASE("soap: ISO 8601 date-times")
{
    constexpr std::int64_t k_base = 1'795'659'056'000'000'000;  // 2026-11-26T02:10:56Z
    struct Case {
        const char* text;
        std::optional<std::int64_t> expected;
    };
    const Case cases[] = {
        {"2026-11-26T02:10:56Z", k_base},
        {"2026-11-26T02:10:56.1150000Z", k_base + 115'000'000},
        {"2026-11-26T02:10:56.1234567Z", k_base + 123'456'700},
        {"2026-11-26T02:10:56.123456789Z", k_base + 123'456'789},
        {"2026-11-26T02:10:56.1234567891234Z", k_base + 123'456'789},
        {"2026-11-26T02:10:56.5", k_base + 500'000'000},
        {"2026-11-26T02:10:56,5Z", k_base + 500'000'000},
        {"2026-11-26t02:10:56z", k_base},
        {"2026-11-26 02:10:56Z", k_base},
        {"  2026-11-26T02:10:56Z\n", k_base},
        {"2026-11-26T03:10:56+01:00", k_base},
        {"2026-11-26T03:10:56+0100", k_base},
        {"2026-11-26T03:10:56+01", k_base},
        {"2026-11-25T21:40:56.000-04:30", k_base},
        {"2026-11-26T02:10:56-00:00", k_base},
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:59:59.9Z", -100'000'000},
        {"2024-02-29T00:00:00Z", 1'709'164'800'000'000'000},
        {"2026-11-25T24:00:00Z", 1'795'651'200'000'000'000},
        {"2016-12-31T23:59:60Z", 1'483'228'800'000'000'000},
        {"2262-04-11T23:47:16Z", std::nullopt},
        {"1600-01-01T00:00:00Z", std::nullopt},
        {"", std::nullopt},
        {"garbage", std::nullopt},
        {"2026-11-26", std::nullopt},
        {"2026-11-26T02:10", std::nullopt},
        {"2026-11-26T02:10:56.Z", std::nullopt},
        {"2026-11-26T02:10:56ZZ", std::nullopt},
        {"2026-11-26T02:10:56 UTC", std::nullopt},
        {"2026-11-26T02:10:56+1", std::nullopt},
        {"2026-11-26T02:10:56+01:", std::nullopt},
        {"2026-11-26T02:10:56+25:00", std::nullopt},
        {"2026-13-26T02:10:56Z", std::nullopt},
        {"2025-02-29T02:10:56Z", std::nullopt},
        {"2026-11-31T02:10:56Z", std::nullopt},
        {"2026-11-26T25:10:56Z", std::nullopt},
        {"2026-11-26T24:00:01Z", std::nullopt},
        {"2026-11-26T02:60:56Z", std::nullopt},
        {"2026-11-26T02:10:61Z", std::nullopt},
        {"2026-1-26T02:10:56Z", std::nullopt},
        {"+2026-11-26T02:10:56Z", std::nullopt},
        {"2026-11-26T02:10:56Z trailing", std::nullopt},
        {"/Date(1700000000000)/", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(soap::parse_iso8601_ns(c.text) == c.expected);
    }
}

TEST_CASE("soap: formatting instants")
{
    using namespace std::chrono;
    const auto time = sys_days{year{2026} / 11 / 26} + 2h + 10min + 56s + 115ms + 999us;
    CHECK(soap::format_iso8601_ms(time) == "2026-11-26T02:10:56.115Z");
    CHECK(soap::format_iso8601_ms(sys_days{year{1969} / 12 / 31} + 23h + 59min + 59s + 900ms) ==
          "1969-12-31T23:59:59.900Z");
    CHECK(soap::format_iso8601_ns(0) == "1970-01-01T00:00:00Z");
    CHECK(soap::format_iso8601_ns(ns("2026-11-26T02:10:56.115Z")) == "2026-11-26T02:10:56.115Z");
    CHECK(soap::format_iso8601_ns(ns("2026-11-26T02:10:56.1234567Z")) == "2026-11-26T02:10:56.123456700Z");
    CHECK(soap::format_iso8601_ns(ns("2026-11-26T02:10:56.123456Z")) == "2026-11-26T02:10:56.123456Z");
    CHECK(soap::format_iso8601_ns(-1) == "1969-12-31T23:59:59.999999999Z");
    for (const char* text : {"2026-11-26T02:10:56.115Z", "2000-02-29T12:00:00Z", "2261-12-31T23:59:59.999999999Z"}) {
        CHECK(soap::format_iso8601_ns(ns(text)) == text);
    }
}
