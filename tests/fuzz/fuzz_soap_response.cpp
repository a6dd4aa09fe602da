// collectors::soap::parse_query_response (the web-service message query's SOAP response, matched by local
// name) and the normalization of every message it accepts. The copying and the in-place parser must
// agree: on the verdict, and on every field of every message and of the page.

#include "collectors/soap.hpp"
#include "collectors/webservice_messages.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <string>
#include <vector>

namespace {

using c4c::collectors::soap::LogItem;
using c4c::collectors::soap::Message;
using c4c::collectors::soap::QueryPage;

bool same_log(const std::vector<LogItem>& a, const std::vector<LogItem>& b)
{
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].severity_code != b[i].severity_code || a[i].type_id != b[i].type_id || a[i].note != b[i].note) {
            return false;
        }
    }
    return true;
}

bool same_message(const Message& a, const Message& b)
{
    return a.id == b.id && a.creation_time_ns == b.creation_time_ns && a.last_change_time_ns == b.last_change_time_ns &&
           a.status_code == b.status_code && a.status_text == b.status_text && a.direction_code == b.direction_code &&
           a.service_interface == b.service_interface && a.sender_system == b.sender_system &&
           a.receiver_system == b.receiver_system && same_log(a.log_items, b.log_items) &&
           a.max_log_severity == b.max_log_severity;
}

bool same_page_fields(const QueryPage& a, const QueryPage& b)
{
    return a.more_hits == b.more_hits && a.last_returned_id == b.last_returned_id &&
           a.returned_hits == b.returned_hits && same_log(a.log_items, b.log_items) &&
           a.max_log_severity == b.max_log_severity;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace c4c::collectors;
    const std::string_view text = c4c::fuzz::as_text(data, size);
    const auto page = soap::parse_query_response(text);
    std::string buffer(text);
    const auto in_place = soap::parse_query_response_in_place(buffer);
    C4C_FUZZ_CHECK(page.has_value() == in_place.has_value(), "the two parsers disagree");
    if (!page) {
        // pugixml may describe malformed XML differently when it parses in place; the verdict is the same.
        C4C_FUZZ_CHECK(page.error().kind == in_place.error().kind, "the two parsers report different errors");
        C4C_FUZZ_CHECK(page.error().kind == soap::ParseError::Kind::xml ||
                           page.error().message == in_place.error().message,
                       "the two parsers report different errors");
        C4C_FUZZ_CHECK(page.error().fault_code == in_place.error().fault_code &&
                           page.error().fault_string == in_place.error().fault_string,
                       "the two parsers read a SOAP fault differently");
        C4C_FUZZ_CHECK(!page.error().message.empty(), "an error without a message");
        return 0;
    }
    C4C_FUZZ_CHECK(page->messages.size() == in_place->messages.size(), "the two parsers read different pages");
    for (std::size_t i = 0; i < page->messages.size(); ++i) {
        C4C_FUZZ_CHECK(same_message(page->messages[i], in_place->messages[i]),
                       "the two parsers read a message differently");
    }
    C4C_FUZZ_CHECK(same_page_fields(*page, *in_place), "the two parsers read the page's conditions or log differently");
    C4C_FUZZ_CHECK(page->bad_messages.size() == in_place->bad_messages.size(), "the two parsers read different pages");
    for (const soap::BadMessage& message : page->bad_messages) {
        C4C_FUZZ_CHECK(!message.raw.empty() && !message.message.empty(), "a bad message without text or reason");
    }
    for (const soap::Message& message : page->messages) {
        C4C_FUZZ_CHECK(!message.id.empty(), "a message without BusinessDocumentMessageID");
        const auto again = soap::parse_iso8601_ns(soap::format_iso8601_ns(message.last_change_time_ns));
        C4C_FUZZ_CHECK(again == message.last_change_time_ns, "LastChangeDateTime does not survive formatting");
        const Event event = normalize_message("fuzz", message, 1'700'000'000'000'000'000);
        C4C_FUZZ_CHECK(!event.id.empty(), "an event without event.id");
        for (const auto& attribute : event.attributes) {
            if (attribute.key == "sap.c4c.message.log") {
                C4C_FUZZ_CHECK(std::get<std::string>(attribute.value).size() <= k_message_log_max_bytes,
                               "sap.c4c.message.log beyond its bound");
            }
        }
    }
    (void)soap::parse_iso8601_ns(text);
    return 0;
}
