#include "collectors_support.hpp"

#include "collectors/webservice_messages.hpp"

#include "collectors/soap.hpp"
#include "collectors/tenant_clock.hpp"

#include <pugixml.hpp>

#include <chrono>
#include <ctime>
#include <deque>
#include <set>
#include <string>
#include <vector>

namespace soap = c4c::collectors::soap;
using namespace collector_tests;
using c4c::collectors::CommitStatus;
using c4c::collectors::PollOutcome;
using c4c::collectors::QuarantineReason;
using c4c::infra::Event;
using c4c::infra::Severity;
using Clock = std::chrono::system_clock;

namespace {

soap::QueryPage sample_page()
{
    const auto page = soap::parse_query_response(read_sample("soap-response.xml"));
    REQUIRE(page.has_value());
    return *page;
}

bool valid_utf8(std::string_view text)
{
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (length == 0 || i + length > text.size()) {
            return false;
        }
        for (std::size_t k = 1; k < length; ++k) {
            if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
                return false;
            }
        }
        i += length;
    }
    return true;
}

}  // namespace

TEST_CASE("webservice_messages: normalizing the sample's waiting, successful, failed and warning messages")
{
    const auto page = sample_page();
    REQUIRE(page.messages.size() == 4);
    constexpr std::int64_t k_observed = 1'795'672'800'000'000'000;

    SUBCASE("waiting")
    {
        const auto& message = page.messages[0];
        const auto event = c4c::collectors::normalize_message("acme-prod", message, k_observed);
        // Golden, computed once outside this code and never to be recomputed to make a change pass: a
        // different id re-sends every message of the overlap window after an upgrade (make_event_id in
        // infra/event.hpp). LastChangeDateTime 2026-11-26T02:10:56.1150000Z is 1795659056115000000 ns.
        //   in='acme-prod\037webservice_messages\037BusinessDocumentMessage\037FA163E66E0BDCCFCEBC017F3E59DC80B'
        //   printf "$in\0371795659056115000000" | sha256sum | cut -c1-32
        CHECK(event.id == "baf99aab766d18413d537f23b28d237f");
        CHECK(event.source == "webservice_messages");
        CHECK(event.object_type == "BusinessDocumentMessage");
        CHECK(event.object_id == "FA163E66E0BDCCFCEBC017F3E59DC80B");
        CHECK(event.time_unix_nano == *soap::parse_iso8601_ns("2026-11-26T02:10:56.115Z"));
        CHECK(event.observed_unix_nano == k_observed);
        CHECK(event.severity == Severity::info);
        CHECK(event.body == "ProductMasterReplicationIn inbound C4C -> MKT_CLOUD: Waiting");
        CHECK(string_attribute(event, "sap.c4c.message.status_code") == "1");
        CHECK(string_attribute(event, "sap.c4c.message.status_text") == "Waiting");
        CHECK(string_attribute(event, "sap.c4c.message.direction") == "inbound");
        CHECK(string_attribute(event, "sap.c4c.message.direction_code") == "2");
        CHECK(string_attribute(event, "sap.c4c.message.service_interface") == "ProductMasterReplicationIn");
        CHECK(string_attribute(event, "sap.c4c.message.sender_system") == "C4C");
        CHECK(string_attribute(event, "sap.c4c.message.receiver_system") == "MKT_CLOUD");
        CHECK(string_attribute(event, "sap.c4c.message.creation_time") == "2026-11-26T02:08:05.030Z");
        CHECK(find_attribute(event, "sap.c4c.message.log") == nullptr);
        CHECK(find_attribute(event, "sap.c4c.message.max_log_severity") == nullptr);
    }
    SUBCASE("successful, outbound")
    {
        const auto event = c4c::collectors::normalize_message("acme-prod", page.messages[1], k_observed);
        CHECK(event.severity == Severity::info);
        CHECK(event.body == "SalesOrderRequestOut outbound MKT_CLOUD -> C4C: Successful");
        CHECK(string_attribute(event, "sap.c4c.message.direction") == "outbound");
        CHECK(string_attribute(event, "sap.c4c.message.status_code") == "3");
    }
    SUBCASE("failed, with an error log item")
    {
        const auto event = c4c::collectors::normalize_message("acme-prod", page.messages[2], k_observed);
        CHECK(event.severity == Severity::error);
        CHECK(event.body == "BusinessPartnerReplicationIn inbound C4C -> S4H_CLNT200: Failed: Mapping error: field "
                            "<CustomerID> is empty & no default");
        CHECK(string_attribute(event, "sap.c4c.message.status_code") == "4");
        CHECK(string_attribute(event, "sap.c4c.message.status_text") == "Failed");
        CHECK(string_attribute(event, "sap.c4c.message.log") ==
              "[error] SRT/014 Mapping error: field <CustomerID> is empty & no default; [info] Message was processed "
              "by inbound agent");
        const auto* max = find_attribute(event, "sap.c4c.message.max_log_severity");
        REQUIRE(max != nullptr);
        CHECK(std::get<std::int64_t>(max->value) == 3);
    }
    SUBCASE("successful with a warning")
    {
        const auto event = c4c::collectors::normalize_message("acme-prod", page.messages[3], k_observed);
        CHECK(event.severity == Severity::warn);
        CHECK(event.body == "SalesOrderRequestOut outbound MKT_CLOUD -> C4C: Successful: Business partner role could "
                            "not be determined; default used");
        CHECK(string_attribute(event, "sap.c4c.message.log") ==
              "[warning] Business partner role could not be determined; default used");
        CHECK(std::get<std::int64_t>(find_attribute(event, "sap.c4c.message.max_log_severity")->value) == 2);
    }
    SUBCASE("every attribute is a sap.c4c.message.* key and none is empty")
    {
        for (const auto& message : page.messages) {
            const auto event = c4c::collectors::normalize_message("acme-prod", message, k_observed);
            std::set<std::string_view> keys;
            for (const auto& attribute : event.attributes) {
                CHECK(attribute.key.rfind("sap.c4c.message.", 0) == 0);
                CHECK(keys.insert(attribute.key).second);
                if (const auto* text = std::get_if<std::string>(&attribute.value)) {
                    CHECK_FALSE(text->empty());
                }
            }
        }
    }
}

TEST_CASE("webservice_messages: event.id is stable per message state")
{
    const auto page = sample_page();
    auto message = page.messages[2];
    const auto first = c4c::collectors::normalize_message("acme-prod", message, 1);
    const auto again = c4c::collectors::normalize_message("acme-prod", message, 2);
    CHECK(first.id == again.id);
    CHECK(first.id.size() == 32);

    message.status_code = soap::k_successful;  // same LastChangeDateTime: the same state for C4C
    CHECK(c4c::collectors::normalize_message("acme-prod", message, 3).id == first.id);

    message.last_change_time_ns += 1'000'000;
    CHECK(c4c::collectors::normalize_message("acme-prod", message, 3).id != first.id);
    CHECK(c4c::collectors::normalize_message("acme-test", page.messages[2], 3).id != first.id);
    CHECK(c4c::collectors::normalize_message("acme-prod", page.messages[3], 3).id != first.id);
}

TEST_CASE("webservice_messages: severity, body and attributes of unusual messages")
{
    soap::Message message;
    message.id = "MSG1";
    message.last_change_time_ns = 1'000'000'000;

    SUBCASE("bare message: only what is there")
    {
        const auto event = c4c::collectors::normalize_message("t", message, 0);
        CHECK(event.severity == Severity::info);
        CHECK(event.body == "web-service message MSG1");
        CHECK(event.attributes.empty());
    }
    SUBCASE("cancelled is an error; the status name is derived without a text")
    {
        message.status_code = soap::k_cancelled;
        const auto event = c4c::collectors::normalize_message("t", message, 0);
        CHECK(event.severity == Severity::error);
        CHECK(event.body == "web-service message MSG1: Cancelled");
        CHECK(string_attribute(event, "sap.c4c.message.status_text") == "Cancelled");
    }
    SUBCASE("a successful message with an error log item is an error; the first error note wins")
    {
        message.status_code = soap::k_successful;
        message.service_interface = "X";
        message.direction_code = "9";
        message.receiver_system = "S4";
        message.log_items = {{soap::k_warning, "", "a warning"},
                             {soap::k_error, "E/1", "first error"},
                             {soap::k_error, "", "second error"}};
        message.max_log_severity = 3;
        const auto event = c4c::collectors::normalize_message("t", message, 0);
        CHECK(event.severity == Severity::error);
        CHECK(event.body == "X ? -> S4: Successful: first error");
        CHECK(find_attribute(event, "sap.c4c.message.direction") == nullptr);
        CHECK(string_attribute(event, "sap.c4c.message.direction_code") == "9");
        CHECK(string_attribute(event, "sap.c4c.message.log") ==
              "[warning] a warning; [error] E/1 first error; [error] second error");
    }
    SUBCASE("the log attribute is capped at 4 KiB on a character boundary")
    {
        for (int i = 0; i < 500; ++i) {
            message.log_items.push_back({soap::k_information, "T/1", "Zustellung \xC3\xBC\x62\x65rpr\xC3\xBC\x66t"});
        }
        message.max_log_severity = 1;
        const auto event = c4c::collectors::normalize_message("t", message, 0);
        const auto log = string_attribute(event, "sap.c4c.message.log");
        CHECK(log.size() <= c4c::collectors::k_message_log_max_bytes);
        CHECK(log.size() > c4c::collectors::k_message_log_max_bytes - 8);
        CHECK(valid_utf8(log));
        CHECK(log.rfind("\xE2\x80\xA6") == log.size() - 3);
    }
    SUBCASE("a long note is cut in the body")
    {
        message.status_code = soap::k_failed;
        message.log_items = {{soap::k_error, "", std::string(5000, 'x')}};
        message.max_log_severity = 3;
        const auto event = c4c::collectors::normalize_message("t", message, 0);
        CHECK(event.body.size() < 600);
    }
}

TEST_CASE("webservice_messages: query interval and checkpoint")
{
    const auto now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + 6h + 123ms + 456us;
    const auto now_ms = std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + 6h + 123ms;

    const auto first = c4c::collectors::query_interval(std::nullopt, now, 24h, 2min);
    CHECK(first.upper == now_ms);
    CHECK(first.lower == now_ms - 24h);

    const auto checkpoint = c4c::collectors::parse_messages_checkpoint("2026-11-26T05:00:00.000Z");
    REQUIRE(checkpoint.has_value());
    const auto next = c4c::collectors::query_interval(checkpoint, now, 24h, 2min);
    CHECK(soap::format_iso8601_ms(next.lower) == "2026-11-26T04:58:00.000Z");
    CHECK(next.upper == now_ms);

    const auto future = c4c::collectors::query_interval(now + 1h, now, 24h, 2min);
    CHECK(future.lower == now_ms - 2min);
    CHECK(future.upper == now_ms);

    CHECK_FALSE(c4c::collectors::parse_messages_checkpoint("").has_value());
    CHECK_FALSE(c4c::collectors::parse_messages_checkpoint("12345").has_value());
    CHECK(c4c::collectors::parse_messages_checkpoint(soap::format_iso8601_ms(now)) == now_ms);
}

// --- poll() against a real loopback HTTP server, with the real HTTP client -----------------------------------

namespace {

struct RecordedRequest {
    std::string method;
    std::string target;
    std::string content_type;
    std::string soap_action;
    std::string authorization;
    std::string lower;
    std::string upper;
    std::string max_hits;
    std::string last_returned_id;
};

std::string xml_child(const pugi::xml_document& document, const char* name)
{
    const auto node = document.select_node((std::string("//") + name).c_str()).node();
    return node ? node.child_value() : "<missing>";
}

/// The scripted C4C tenant: answers each request with the next response, records what it was asked.
struct Tenant {
    std::deque<http::ServerResponse> responses;
    std::vector<RecordedRequest> requests;

    http::ServerResponse handle(const http::ServerRequest& request)
    {
        RecordedRequest recorded;
        recorded.method = request.method;
        recorded.target = request.target;
        recorded.content_type = request.header("Content-Type").value_or("");
        recorded.soap_action = request.header("SOAPAction").value_or("");
        recorded.authorization = request.header("Authorization").value_or("");
        pugi::xml_document document;
        if (document.load_buffer(request.body.data(), request.body.size())) {
            recorded.lower = xml_child(document, "LowerBoundaryDateTime");
            recorded.upper = xml_child(document, "UpperBoundaryDateTime");
            recorded.max_hits = xml_child(document, "QueryHitsMaximumNumberValue");
            recorded.last_returned_id = xml_child(document, "LastReturnedObjectID");
        }
        requests.push_back(std::move(recorded));
        if (responses.empty()) {
            http::ServerResponse unexpected;
            unexpected.status = 599;
            unexpected.body = "unexpected request";
            return unexpected;
        }
        auto response = std::move(responses.front());
        responses.pop_front();
        return response;
    }
};

std::string message_xml(const std::string& id, const std::string& change_time, int status)
{
    return "<BusinessDocumentMessage><BusinessDocumentMessageID>" + id +
           "</BusinessDocumentMessageID><CreationDateTime>2026-11-26T01:00:00.0000000Z</CreationDateTime>"
           "<LastChangeDateTime>" +
           change_time + "</LastChangeDateTime><ProcessingStatusCode>" + std::to_string(status) +
           "</ProcessingStatusCode><DirectionCode>2</DirectionCode><ServiceInterfaceName>BusinessPartnerReplicationIn"
           "</ServiceInterfaceName></BusinessDocumentMessage>";
}

http::ServerResponse soap_page(const std::vector<std::string>& ids, bool more_hits, const std::string& last_id,
                               int status = soap::k_successful)
{
    std::string body =
        R"(<?xml version="1.0" encoding="utf-8"?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Header/><soap-env:Body>)"
        R"(<n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync xmlns:n0="http://sap.com/xi/SAPGlobal20/Global">)";
    for (const auto& id : ids) {
        body += message_xml(id, "2026-11-26T05:23:16.8700000Z", status);
    }
    body += "<ProcessingConditions><ReturnedQueryHitsNumberValue>" + std::to_string(ids.size()) +
            "</ReturnedQueryHitsNumberValue><MoreHitsAvailableIndicator>" + (more_hits ? "true" : "false") +
            "</MoreHitsAvailableIndicator><LastReturnedObjectID>" + last_id +
            "</LastReturnedObjectID></ProcessingConditions>"
            "</n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync></soap-env:Body></soap-env:Envelope>";
    http::ServerResponse response;
    response.content_type = "text/xml; charset=utf-8";
    response.body = std::move(body);
    return response;
}

http::ServerResponse raw(unsigned status, std::string body, std::string content_type = "text/xml; charset=utf-8")
{
    http::ServerResponse response;
    response.status = status;
    response.content_type = std::move(content_type);
    response.body = std::move(body);
    return response;
}

const Clock::time_point k_now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + 6h + 123ms + 456us;

http::ClientOptions client_options()
{
    http::ClientOptions options;
    options.timeout = 10s;
    options.max_connections = 2;
    return options;
}

/// One daemon-side set-up: a real server playing the tenant, a real client, the collector.
class Harness : public LoopbackHarness<Tenant> {
public:
    std::unique_ptr<c4c::collectors::Collector> collector;

    Harness() : LoopbackHarness(client_options())
    {
        source.name = c4c::collectors::k_source_webservice_messages;
        source.page_size = 2;
        source.lookback = 24h;
        source.overlap = 2min;
        collector = c4c::collectors::make_webservice_messages_collector(source);
    }

    PollOutcome poll(Clock::time_point now = k_now) { return run_poll(*collector, "acme-prod", "/nonexistent", now); }
};

std::string iso(Clock::time_point time)
{
    return soap::format_iso8601_ms(time);
}

}  // namespace

TEST_CASE("webservice_messages: poll pages through LastReturnedObjectID and advances the checkpoint at the end")
{
    Harness h;
    h.fake.responses.push_back(soap_page({"ID1", "ID2"}, true, "ID2"));
    h.fake.responses.push_back(soap_page({"ID3", "ID4"}, true, "ID4", soap::k_failed));
    h.fake.responses.push_back(soap_page({"ID5"}, false, "ID5"));

    const auto outcome = h.poll();
    INFO(outcome.message);
    CHECK(outcome.ok);
    CHECK(outcome.records == 5);
    CHECK(outcome.stored == 5);
    CHECK(outcome.failed_messages == 2);

    REQUIRE(h.fake.requests.size() == 3);
    for (const auto& request : h.fake.requests) {
        CHECK(request.method == "POST");
        CHECK(request.target == "/sap/bc/srt/scs/sap/querybusinessdocumentmessagemoni");
        CHECK(request.content_type.rfind("text/xml", 0) == 0);
        CHECK(request.soap_action.find("FindByElementsRequest") != std::string::npos);
        CHECK(request.authorization == http::basic_authorization("CRUN_USER", "s3cret"));
        CHECK(request.lower == "2026-11-25T06:00:00.123Z");
        CHECK(request.upper == "2026-11-26T06:00:00.123Z");
        CHECK(request.max_hits == "2");
    }
    CHECK(h.fake.requests[0].last_returned_id.empty());
    CHECK(h.fake.requests[1].last_returned_id == "ID2");
    CHECK(h.fake.requests[2].last_returned_id == "ID4");

    REQUIRE(h.store.commits.size() == 3);
    for (const auto& commit : h.store.commits) {
        CHECK(commit.feed == "messages");
    }
    CHECK(h.store.commits[0].events.size() == 2);
    CHECK(h.store.commits[0].checkpoint.empty());
    CHECK(h.store.commits[1].events.size() == 2);
    CHECK(h.store.commits[1].checkpoint.empty());
    CHECK(h.store.commits[2].events.size() == 1);
    CHECK(h.store.commits[2].checkpoint == "2026-11-26T06:00:00.123Z");
    CHECK(h.observer.reasons == std::vector<std::string>{"", "", ""});

    SUBCASE("the next poll starts at checkpoint - overlap")
    {
        h.fake.requests.clear();
        h.fake.responses.push_back(soap_page({"ID5"}, false, "ID5"));
        const auto later = k_now + 60s;
        const auto second = h.poll(later);
        CHECK(second.ok);
        CHECK(second.records == 1);
        CHECK(second.stored == 0);  // ID5 in the same state was stored by the first poll
        REQUIRE(h.fake.requests.size() == 1);
        CHECK(h.fake.requests[0].lower == "2026-11-26T05:58:00.123Z");
        CHECK(h.fake.requests[0].upper == iso(later));
        CHECK(h.fake.requests[0].last_returned_id.empty());
        REQUIRE(h.store.commits.size() == 4);
        CHECK(h.store.commits[3].checkpoint == iso(later));
        CHECK(h.store.checkpoints["messages"] == "2026-11-26T06:01:00.123Z");
    }
}

TEST_CASE("webservice_messages: an empty interval still advances the checkpoint")
{
    Harness h;
    h.store.checkpoints["messages"] = "2026-11-26T05:00:00.000Z";
    h.fake.responses.push_back(soap_page({}, false, ""));
    const auto outcome = h.poll();
    CHECK(outcome.ok);
    CHECK(outcome.records == 0);
    REQUIRE(h.fake.requests.size() == 1);
    CHECK(h.fake.requests[0].lower == "2026-11-26T04:58:00.000Z");
    REQUIRE(h.store.commits.size() == 1);
    CHECK(h.store.commits[0].events.empty());
    CHECK(h.store.checkpoints["messages"] == "2026-11-26T06:00:00.123Z");
}

TEST_CASE("webservice_messages: a SOAP fault on page 2 keeps page 1 and the old checkpoint")
{
    Harness h;
    h.store.checkpoints["messages"] = "2026-11-26T05:00:00.000Z";
    h.fake.responses.push_back(soap_page({"ID1", "ID2"}, true, "ID2"));
    h.fake.responses.push_back(raw(500, read_sample("soap-fault.xml")));

    const auto outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.reason.label() == "soap_fault");
    CHECK_FALSE(outcome.auth_failed);
    CHECK(outcome.message.find("XML parse error: syntax error: line 1, column 0") != std::string::npos);
    CHECK(outcome.message.find("acme-prod") != std::string::npos);
    CHECK(outcome.message.find("HTTP 500") != std::string::npos);
    CHECK(outcome.records == 2);
    CHECK(outcome.stored == 2);

    REQUIRE(h.fake.requests.size() == 2);
    CHECK(h.fake.requests[1].last_returned_id == "ID2");
    REQUIRE(h.store.commits.size() == 1);
    CHECK(h.store.commits[0].events.size() == 2);
    CHECK(h.store.commits[0].checkpoint == "2026-11-26T05:00:00.000Z");
    CHECK(h.store.checkpoints["messages"] == "2026-11-26T05:00:00.000Z");
    CHECK(h.observer.reasons == std::vector<std::string>{"", "http_500"});
}

TEST_CASE("webservice_messages: a fault inside a 200 answer is a soap_fault too")
{
    Harness h;
    h.fake.responses.push_back(raw(200, read_sample("soap-fault.xml")));
    const auto outcome = h.poll();
    CHECK(outcome.reason.label() == "soap_fault");
    CHECK(h.store.commits.empty());
}

TEST_CASE("webservice_messages: a query error in the response's own Log is not an empty interval")
{
    Harness h;
    auto page = soap_page({}, false, "");
    const auto at = page.body.find("</n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync>");
    page.body.insert(at, "<Log><MaximumLogItemSeverityCode>3</MaximumLogItemSeverityCode><Item><SeverityCode>3"
                         "</SeverityCode><Note>Selection is not allowed</Note></Item></Log>");
    h.fake.responses.push_back(page);
    const auto outcome = h.poll();
    CHECK(outcome.reason.label() == "soap_fault");
    CHECK(outcome.message.find("Selection is not allowed") != std::string::npos);
    CHECK(h.store.commits.empty());
}

TEST_CASE("webservice_messages: broken XML is a parse failure and nothing is committed")
{
    Harness h;
    auto page = soap_page({"ID1"}, false, "ID1");
    page.body.resize(page.body.size() - 40);
    h.fake.responses.push_back(page);
    const auto outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.reason.label() == "parse");
    CHECK(outcome.message.find("malformed XML") != std::string::npos);
    CHECK(outcome.message.find("page 1") != std::string::npos);
    CHECK(h.store.commits.empty());
}

TEST_CASE("webservice_messages: an HTTP error without a SOAP fault is classified by c4c_request")
{
    Harness h;
    h.fake.responses.push_back(raw(500, "<html><body>Internal Server Error</body></html>", "text/html"));
    const auto outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.reason.label() == "http_500");
    CHECK(h.store.commits.empty());
}

TEST_CASE("webservice_messages: 401 marks the source as refused")
{
    Harness h;
    h.fake.responses.push_back(raw(401, "Unauthorized", "text/plain"));
    const auto outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.auth_failed);
    CHECK(outcome.reason.label() == "http_401");
    CHECK(outcome.message.find("CRUN_USER") != std::string::npos);
    CHECK(outcome.message.find("s3cret") == std::string::npos);
    CHECK(h.fake.requests.size() == 1);
    CHECK(h.store.commits.empty());
}

TEST_CASE("webservice_messages: a full outbox stops the poll before any request")
{
    Harness h;
    h.store.accepting_now = false;
    const auto outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.reason.label() == "outbox_full");
    CHECK(h.fake.requests.empty());
    CHECK(h.store.commits.empty());
}

TEST_CASE("webservice_messages: a commit that fails stops the poll")
{
    Harness h;
    h.fake.responses.push_back(soap_page({"ID1", "ID2"}, true, "ID2"));
    h.store.status = CommitStatus::outbox_full;
    const auto full = h.poll();
    CHECK(full.reason.label() == "outbox_full");
    CHECK(h.fake.requests.size() == 1);

    h.fake.responses.push_back(soap_page({"ID1", "ID2"}, true, "ID2"));
    h.store.status = CommitStatus::failed;
    const auto failed = h.poll();
    CHECK(failed.reason.label() == "store");
    CHECK(h.fake.requests.size() == 2);
    CHECK(h.store.commits.empty());
}

TEST_CASE("webservice_messages: a tenant that pages without progress is stopped")
{
    SUBCASE("the same LastReturnedObjectID twice")
    {
        Harness h;
        h.fake.responses.push_back(soap_page({"ID1", "ID2"}, true, "ID2"));
        h.fake.responses.push_back(soap_page({"ID1", "ID2"}, true, "ID2"));
        const auto outcome = h.poll();
        CHECK(outcome.reason.label() == "parse");
        CHECK(outcome.message.find("LastReturnedObjectID") != std::string::npos);
        CHECK(h.fake.requests.size() == 2);
        REQUIRE(h.store.commits.size() == 1);
        CHECK(h.store.commits[0].checkpoint.empty());
    }
    SUBCASE("an earlier LastReturnedObjectID")
    {
        Harness h;
        h.fake.responses.push_back(soap_page({"ID1", "ID2"}, true, "ID2"));
        h.fake.responses.push_back(soap_page({"ID3", "ID4"}, true, "ID4"));
        h.fake.responses.push_back(soap_page({"ID1", "ID2"}, true, "ID2"));
        const auto outcome = h.poll();
        CHECK(outcome.reason.label() == "parse");
        CHECK(h.fake.requests.size() == 3);
        CHECK(h.store.commits.size() == 2);
    }
    SUBCASE("more hits but no message")
    {
        Harness h;
        h.fake.responses.push_back(soap_page({}, true, "ID9"));
        const auto outcome = h.poll();
        CHECK(outcome.reason.label() == "parse");
        CHECK(outcome.message.find("no message") != std::string::npos);
        CHECK(h.store.commits.empty());
    }
    SUBCASE("more hits without LastReturnedObjectID")
    {
        Harness h;
        h.fake.responses.push_back(soap_page({"ID1"}, true, ""));
        const auto outcome = h.poll();
        CHECK(outcome.reason.label() == "parse");
        CHECK(h.store.commits.empty());
    }
}

TEST_CASE("webservice_messages: an unreachable tenant")
{
    Harness h;
    h.c4c.url = "http://127.0.0.1:1";
    const auto outcome = h.poll();
    CHECK_FALSE(outcome.ok);
    CHECK_FALSE(outcome.reason.label().empty());
    CHECK(h.store.commits.empty());
}

TEST_CASE("webservice_messages: an unreadable stored checkpoint is read like a first run and then repaired")
{
    Harness h;
    h.store.checkpoints["messages"] = "not-a-time";
    h.fake.responses.push_back(soap_page({"ID1"}, false, "ID1"));
    const auto outcome = h.poll();
    CHECK(outcome.ok);
    REQUIRE(h.fake.requests.size() == 1);
    CHECK(h.fake.requests[0].lower == "2026-11-25T06:00:00.123Z");
    CHECK(h.store.checkpoints["messages"] == "2026-11-26T06:00:00.123Z");
}

// ---------------------------------------------------------------------------------------------------
// The tenant's clock (CONTRACT.md section 3): the interval's bounds are instants on it.

TEST_CASE("webservice_messages: an interval's checkpoint is no later than the tenant's clock")
{
    const Clock::time_point upper = std::chrono::floor<std::chrono::milliseconds>(k_now);  // as query_interval makes it
    const c4c::collectors::QueryInterval interval{upper - 24h, upper};
    using c4c::collectors::interval_checkpoint;
    // Date minus the round trip, behind the upper bound: a tenant clock behind ours.
    CHECK(interval_checkpoint(interval, upper - 15min - 250us, std::nullopt) == upper - 15min - 1ms);
    CHECK(interval_checkpoint(interval, upper - 15min, upper - 1min) == upper - 15min);  // the Date wins
    // Ahead: the upper bound, not the tenant's now (messages above the bound were not asked for).
    CHECK(interval_checkpoint(interval, upper + 15min, std::nullopt) == upper);
    // No Date: the newest LastChangeDateTime returned, itself on the tenant's clock.
    CHECK(interval_checkpoint(interval, std::nullopt, upper - 20min + 999us) == upper - 20min);
    CHECK(interval_checkpoint(interval, std::nullopt, upper + 1h) == upper);
    // Neither: nothing tells where the tenant's clock stands; the old checkpoint stays.
    CHECK_FALSE(interval_checkpoint(interval, std::nullopt, std::nullopt));
}

namespace {

std::string http_date(Clock::time_point time)
{
    const std::time_t t = Clock::to_time_t(time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return text;
}

http::ServerResponse dated(http::ServerResponse response, Clock::time_point tenant_now)
{
    response.headers.emplace_back("Date", http_date(tenant_now));
    return response;
}

Clock::time_point parse_iso(const std::string& text)
{
    const auto parsed = c4c::collectors::parse_messages_checkpoint(text);
    REQUIRE_MESSAGE(parsed, text);
    return *parsed;
}

}  // namespace

TEST_CASE("webservice_messages: with the tenant 15 minutes behind, bounds and checkpoint follow its Date")
{
    Harness h;
    c4c::collectors::TenantClock clock;
    h.clock = &clock;
    const auto now = std::chrono::floor<std::chrono::milliseconds>(Clock::now());
    h.fake.responses.push_back(dated(soap_page({"ID1"}, false, "ID1"), Clock::now() - 15min));

    // First poll: the tenant's clock is not known yet, so the upper bound is ours; its answer's Date
    // holds the checkpoint back to the tenant's now.
    REQUIRE(h.poll(now).ok);
    REQUIRE(h.fake.requests.size() == 1);
    CHECK(h.fake.requests[0].upper == iso(now));
    const auto first = parse_iso(h.store.checkpoints["messages"]);
    CHECK(first <= now - 15min + 1s);
    CHECK(first >= now - 15min - 3s);
    REQUIRE(clock.skew());
    CHECK(*clock.skew() <= -899s);
    CHECK(*clock.skew() >= -902s);

    // Next poll: both bounds on the tenant's clock; a message it changed after the first poll (at its
    // own now, 15 minutes behind ours) lies inside.
    h.fake.responses.push_back(dated(soap_page({"ID2"}, false, "ID2"), Clock::now() - 15min));
    const auto later = now + 2s;
    REQUIRE(h.poll(later).ok);
    REQUIRE(h.fake.requests.size() == 2);
    CHECK(parse_iso(h.fake.requests[1].lower) == first - 2min);
    const auto upper = parse_iso(h.fake.requests[1].upper);
    CHECK(upper <= later - 15min + 1s);
    CHECK(upper >= later - 15min - 3s);
    CHECK(parse_iso(h.store.checkpoints["messages"]) <= upper);
}

TEST_CASE("webservice_messages: with the tenant 15 minutes ahead, the upper bound moves up to its now")
{
    Harness h;
    c4c::collectors::TenantClock clock;
    h.clock = &clock;
    const auto now = std::chrono::floor<std::chrono::milliseconds>(Clock::now());
    h.fake.responses.push_back(dated(soap_page({"ID1"}, false, "ID1"), Clock::now() + 15min));
    REQUIRE(h.poll(now).ok);
    CHECK(h.store.checkpoints["messages"] == iso(now));  // what was asked for, no more

    h.fake.responses.push_back(dated(soap_page({}, false, ""), Clock::now() + 15min));
    const auto later = now + 2s;
    REQUIRE(h.poll(later).ok);
    REQUIRE(h.fake.requests.size() == 2);
    CHECK(h.fake.requests[1].lower == iso(now - 2min));
    const auto upper = parse_iso(h.fake.requests[1].upper);
    CHECK(upper <= later + 15min + 1s);
    CHECK(upper >= later + 15min - 3s);
}

TEST_CASE("webservice_messages: without a Date the newest LastChangeDateTime bounds the checkpoint")
{
    Harness h;
    c4c::collectors::TenantClock clock;
    h.clock = &clock;
    h.store.checkpoints["messages"] = "2026-11-26T05:00:00.000Z";
    h.fake.responses.push_back(soap_page({"ID1", "ID2"}, false, "ID2"));  // changed at 05:23:16.870
    REQUIRE(h.poll().ok);
    CHECK(h.fake.requests[0].upper == "2026-11-26T06:00:00.123Z");
    CHECK(h.store.checkpoints["messages"] == "2026-11-26T05:23:16.870Z");
    CHECK_FALSE(clock.skew());

    SUBCASE("and an empty interval keeps it")
    {
        h.fake.responses.push_back(soap_page({}, false, ""));
        REQUIRE(h.poll(k_now + 60s).ok);
        CHECK(h.fake.requests[1].lower == "2026-11-26T05:21:16.870Z");
        CHECK(h.store.checkpoints["messages"] == "2026-11-26T05:23:16.870Z");
    }
}

TEST_CASE("webservice_messages: a message that cannot be read is quarantined with its page, the interval is read on")
{
    Harness h;
    http::ServerResponse first = soap_page({"ID1", "ID2"}, true, "ID2");
    // ID2's change time is no date; it stays a quarantined record, its place in the paging unchanged.
    const auto bad_time = first.body.find("2026-11-26T05:23:16.8700000Z", first.body.find("ID2"));
    first.body.replace(bad_time, 28, "2026-11-26 yesterday");
    h.fake.responses.push_back(first);
    h.fake.responses.push_back(soap_page({"ID3"}, false, "ID3"));

    const auto outcome = h.poll();
    INFO(outcome.message);
    REQUIRE(outcome.ok);
    CHECK(outcome.records == 3);
    CHECK(outcome.stored == 2);
    REQUIRE(h.fake.requests.size() == 2);
    CHECK(h.fake.requests[1].last_returned_id == "ID2");
    REQUIRE(h.store.quarantined.size() == 1);
    const auto& record = h.store.quarantined[0];
    CHECK(record.reason == QuarantineReason::invalid_time);
    CHECK(record.object_key == "ID2");
    CHECK(record.detail.find("LastChangeDateTime '2026-11-26 yesterday'") != std::string::npos);
    CHECK(record.raw.starts_with("<BusinessDocumentMessage><BusinessDocumentMessageID>ID2<"));
    CHECK(record.raw.ends_with("</BusinessDocumentMessage>"));
    CHECK(h.store.checkpoint("messages") == "2026-11-26T06:00:00.123Z");
    CHECK(h.store.commits.back().checkpoint_time_ns ==
          c4c::infra::unix_nanos(Clock::time_point(std::chrono::floor<std::chrono::milliseconds>(k_now))));
    CHECK_FALSE(h.store.commits.front().checkpoint_time_ns.has_value());  // none yet

    // The raw text alone: the same verdict; repaired, the event the page path would have made.
    const auto again = c4c::collectors::normalize_message_raw("acme-prod", record.raw, 1);
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().reason == QuarantineReason::invalid_time);
    CHECK(again.error().detail == record.detail);
    std::string repaired = record.raw;
    repaired.replace(repaired.find("2026-11-26 yesterday"), 20, "2026-11-26T05:23:16.8700000Z");
    const auto event = c4c::collectors::normalize_message_raw("acme-prod", repaired, 1);
    REQUIRE(event.has_value());
    const auto expected = soap::parse_query_response(soap_page({"ID2"}, false, "ID2").body).value();
    CHECK(event->id == c4c::collectors::normalize_message("acme-prod", expected.messages.at(0), 1).id);
}

TEST_CASE("webservice_messages: a backfill window's cursor is the last message id it stored")
{
    CHECK(c4c::collectors::parse_messages_window_cursor("after=FA163E0001") == std::string("FA163E0001"));
    CHECK_FALSE(c4c::collectors::parse_messages_window_cursor(""));
    CHECK_FALSE(c4c::collectors::parse_messages_window_cursor("after="));
    CHECK_FALSE(c4c::collectors::parse_messages_window_cursor("end"));
    CHECK_FALSE(c4c::collectors::parse_messages_window_cursor("2026-12-01T13:00:00.000Z"));
}
