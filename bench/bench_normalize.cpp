// Normalization throughput, single thread: C4C page text -> events -> OTLP logRecord JSON, beside a plain
// parse of the same text, so that the cost of normalizing over parsing is visible.
//
//   bench_normalize [--seconds S] [--page-rows N,N,...]
//
// Input is generated in the shape of tests/samples (and of what c4c-sim serves): OData rows of the four
// collections with __metadata and a __deferred link (~1 kB each), SOAP messages with a failed or warning
// log now and then. Prints one line per measurement; never fails on time.

#include "bench/bench_util.hpp"
#include "collectors/business_objects.hpp"
#include "collectors/odata.hpp"
#include "collectors/soap.hpp"
#include "collectors/webservice_messages.hpp"
#include "exporters/otlp_json.hpp"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using namespace c4c;

constexpr std::array k_collections{"OpportunityCollection", "SalesOrderCollection", "LeadCollection",
                                   "ServiceRequestCollection"};

std::string hex32(std::uint64_t seed)
{
    std::uint64_t a = seed * 0x9E3779B97F4A7C15ULL + 0x00163E0000000000ULL;
    std::uint64_t b = (seed ^ 0xA5A5A5A5ULL) * 0xC2B2AE3D27D4EB4FULL;
    return fmt::format("{:016X}{:016X}", a, b);
}

std::string odata_page(std::string_view collection, std::size_t rows, std::size_t first)
{
    const std::string entity(collection.substr(0, collection.size() - 10));
    const bool ticket = entity == "ServiceRequest";
    const bool money = entity == "Opportunity" || entity == "SalesOrder";
    std::string out = R"({"d":{"__count":"200000","results":[)";
    const std::int64_t base = 1'795'600'000'000;
    for (std::size_t i = 0; i < rows; ++i) {
        const std::size_t n = first + i;
        const std::string id = hex32(n);
        const std::int64_t changed = base + static_cast<std::int64_t>(n) * 817;
        if (i) {
            out += ',';
        }
        out += fmt::format(
            R"j({{"__metadata":{{"uri":"https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/{0}('{1}')",)j"
            R"("type":"c4codata.{2}","etag":"W/\"datetimeoffset'2026-11-26T00%3A58%3A02.0370000Z'\""}},)"
            R"("ObjectID":"{1}","ID":"{3}","Name":"{2} {3} \u2013 \u00d8stergaard \"Nord\" & Co.",)",
            collection, id, entity, 1000 + n);
        if (ticket) {
            out += R"("ServiceRequestLifeCycleStatusCode":"2","ServiceRequestLifeCycleStatusCodeText":"In Process",)"
                   R"("ServicePriorityCode":"3","ProcessingTypeCode":"SRRQ",)";
        } else {
            out += R"("LifeCycleStatusCode":"2","LifeCycleStatusCodeText":"In Process",)";
        }
        out +=
            fmt::format(R"("CreationDateTime":"\/Date({})\/","CreatedBy":"KENJI.SATO","LastChangedBy":"ANNA.MUELLER",)"
                        R"("ExternalID":"",)",
                        changed - 86'400'000);
        if (money) {
            out += R"("AmountValue":"37148.00","CurrencyCode":"EUR",)";
        }
        out += fmt::format(
            R"("EntityLastChangedOn":"\/Date({0})\/","ETag":"\/Date({0})\/",)"
            R"("{1}Notes":{{"__deferred":{{"uri":"https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/{2}('{3}')/{1}Notes"}}}}}})",
            changed, entity, collection, id);
    }
    out += R"(],"__next":"https://my123456.crm.ondemand.com/sap/c4c/odata/v1/c4codataapi/x?$skiptoken=1000"}})";
    return out;
}

std::string soap_page(std::size_t messages, std::size_t first)
{
    std::string out =
        R"(<?xml version="1.0" encoding="utf-8"?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Header/><soap-env:Body>)"
        R"(<n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync xmlns:n0="http://sap.com/xi/SAPGlobal20/Global">)";
    for (std::size_t i = 0; i < messages; ++i) {
        const std::size_t n = first + i;
        const int status = static_cast<int>(n % 7 == 0 ? 4 : n % 5 == 0 ? 1 : 3);
        out += fmt::format(
            "<BusinessDocumentMessage><BusinessDocumentMessageID>FA163E{}</BusinessDocumentMessageID>"
            "<CreationDateTime>2026-11-26T02:08:05.{:07}Z</CreationDateTime>"
            "<LastChangeDateTime>2026-11-26T{:02}:{:02}:56.1150000Z</LastChangeDateTime>"
            "<ProcessingStatusCode>{}</ProcessingStatusCode><ProcessingStatusCodeText>{}</ProcessingStatusCodeText>"
            "<DirectionCode>2</DirectionCode><ServiceInterfaceName>ProductMasterReplicationIn</ServiceInterfaceName>"
            "<SenderCommunicationSystemID>C4C</SenderCommunicationSystemID>"
            "<ReceiverCommunicationSystemID>MKT_CLOUD</ReceiverCommunicationSystemID>",
            hex32(n).substr(6), n % 10'000'000, n / 60 % 24, n % 60, status,
            status == 4   ? "Failed"
            : status == 1 ? "Waiting"
                          : "Successful");
        if (status == 4) {
            out += "<Log><MaximumLogItemSeverityCode>3</MaximumLogItemSeverityCode><Item><TypeID>SRT/014</TypeID>"
                   "<SeverityCode>3</SeverityCode><Note>Mapping error: field &lt;CustomerID&gt; is empty &amp; no "
                   "default</Note></Item><Item><SeverityCode>1</SeverityCode><Note>Message was processed by inbound "
                   "agent</Note></Item></Log>";
        }
        out += "</BusinessDocumentMessage>";
    }
    out += "<ProcessingConditions><ReturnedQueryHitsNumberValue>1</ReturnedQueryHitsNumberValue>"
           "<MoreHitsAvailableIndicator>true</MoreHitsAvailableIndicator><LastReturnedObjectID>X</LastReturnedObjectID>"
           "</ProcessingConditions></n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync></soap-env:Body>"
           "</soap-env:Envelope>";
    return out;
}

void bench_odata(std::size_t page_rows, double seconds)
{
    // Enough pages that the records are not all in L1: about 4 MB of text.
    const std::size_t pages = std::max<std::size_t>(4, 4000 / page_rows);
    std::vector<std::string> texts;
    std::vector<std::string_view> collections;
    std::size_t bytes = 0;
    for (std::size_t p = 0; p < pages; ++p) {
        collections.emplace_back(k_collections[p % k_collections.size()]);
        texts.push_back(odata_page(collections.back(), page_rows, p * page_rows));
        bytes += texts.back().size();
    }
    const std::size_t records = pages * page_rows;
    const std::string label = fmt::format("odata  {:>4} rows/page", page_rows);

    bench::Result parse_dom = bench::best_of(seconds, [&] {
        std::size_t n = 0;
        for (const auto& text : texts) {
            n += nlohmann::json::parse(text)["d"]["results"].size();
        }
        return n;
    });
    bench::Result parse = bench::best_of(seconds, [&] {
        std::size_t n = 0;
        for (const auto& text : texts) {
            n += collectors::parse_odata_page(text).value().rows.size();
        }
        return n;
    });
    std::string payload;
    bench::Result full = bench::best_of(seconds, [&] {
        std::size_t n = 0;
        for (std::size_t p = 0; p < texts.size(); ++p) {
            const auto page = collectors::parse_odata_page(texts[p]).value();
            for (const auto& row : page.rows) {
                const auto event = collectors::normalize_business_object("acme-prod", collections[p], row, 1);
                payload = exporters::encode_log_record(event);
                n += payload.empty() ? 0 : 1;
            }
        }
        return n;
    });
    const double mb = static_cast<double>(bytes) / 1e6;
    bench::print(label, "nlohmann DOM parse", parse_dom, records, mb);
    bench::print(label, "parse_odata_page", parse, records, mb);
    bench::print(label, "parse+normalize+encode", full, records, mb);
    std::printf("%-22s %-24s %.2f x parse time; %.0f B of OTLP per record\n", label.c_str(), "overhead",
                full.seconds / parse.seconds, static_cast<double>(payload.size()));
}

void bench_soap(std::size_t page_messages, double seconds)
{
    const std::size_t pages = std::max<std::size_t>(4, 4000 / page_messages);
    std::vector<std::string> texts;
    std::size_t bytes = 0;
    for (std::size_t p = 0; p < pages; ++p) {
        texts.push_back(soap_page(page_messages, p * page_messages));
        bytes += texts.back().size();
    }
    const std::size_t records = pages * page_messages;
    const std::string label = fmt::format("soap   {:>4} msgs/page", page_messages);

    bench::Result parse = bench::best_of(seconds, [&] {
        std::size_t n = 0;
        for (const auto& text : texts) {
            pugi::xml_document doc;
            std::string copy = text;  // as parse_query_response does: pugixml parses in a mutable buffer
            doc.load_buffer_inplace(copy.data(), copy.size());
            n += doc.first_child() ? page_messages : 0;
        }
        return n;
    });
    std::string payload;
    bench::Result full = bench::best_of(seconds, [&] {
        std::size_t n = 0;
        for (const auto& text : texts) {
            const auto page = collectors::soap::parse_query_response(text).value();
            for (const auto& message : page.messages) {
                const auto event = collectors::normalize_message("acme-prod", message, 1);
                payload = exporters::encode_log_record(event);
                n += payload.empty() ? 0 : 1;
            }
        }
        return n;
    });
    const double mb = static_cast<double>(bytes) / 1e6;
    bench::print(label, "pugixml parse", parse, records, mb);
    bench::print(label, "parse+normalize+encode", full, records, mb);
    std::printf("%-22s %-24s %.2f x parse time; %.0f B of OTLP per message\n", label.c_str(), "overhead",
                full.seconds / parse.seconds, static_cast<double>(payload.size()));
}

void bench_event_id(double seconds)
{
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < 10'000; ++i) {
        keys.push_back(hex32(i));
    }
    bench::Result result = bench::best_of(seconds, [&] {
        std::size_t n = 0;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            n += infra::make_event_id("acme-prod", "business_objects", "OpportunityCollection", keys[i],
                                      static_cast<std::int64_t>(i))
                     .size() == 32;
        }
        return n;
    });
    bench::print("event.id", "make_event_id", result, keys.size(), 0);
}

}  // namespace

int main(int argc, char** argv)
{
    const bench::Args args(argc, argv, "usage: bench_normalize [--seconds 0.5] [--page-rows 10,100,1000]\n",
                           {"--seconds", "--page-rows"});
    const double seconds = args.number("--seconds", 0.5);
    std::printf("bench_normalize: single thread, best of repeated runs of >= %.1f s each\n", seconds);
    bench_event_id(seconds);
    for (auto rows : args.list("--page-rows", {10, 100, 1000})) {
        bench_odata(rows, seconds);
    }
    for (auto messages : args.list("--page-rows", {10, 100, 1000})) {
        bench_soap(messages, seconds);
    }
    return 0;
}
