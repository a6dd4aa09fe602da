// collectors::soap::parse_query_response (the web-service message query's SOAP response, matched by local
// name) and the normalization of every message it accepts. The copying and the in-place parser must
// agree.

#include "collectors/soap.hpp"
#include "collectors/webservice_messages.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <string>

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
        C4C_FUZZ_CHECK(!page.error().message.empty(), "an error without a message");
        return 0;
    }
    C4C_FUZZ_CHECK(page->messages.size() == in_place->messages.size(), "the two parsers read different pages");
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
