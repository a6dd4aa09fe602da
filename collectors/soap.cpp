#include "collectors/soap.hpp"

#include "infra/text.hpp"

#include <fmt/format.h>
#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <limits>
#include <stdexcept>
#include <utility>

namespace c4c::collectors::soap {

namespace {

using Result = boost::system::result<QueryPage, ParseError>;

std::string_view local_name(const pugi::xml_node& node)
{
    std::string_view name = node.name();
    const auto colon = name.rfind(':');
    return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

/// The first child element with that local name, whatever its prefix.
pugi::xml_node child(const pugi::xml_node& parent, std::string_view name)
{
    for (auto node = parent.first_child(); node; node = node.next_sibling()) {
        if (node.type() == pugi::node_element && local_name(node) == name) {
            return node;
        }
    }
    return {};
}

pugi::xml_node first_element(const pugi::xml_node& parent)
{
    for (auto node = parent.first_child(); node; node = node.next_sibling()) {
        if (node.type() == pugi::node_element) {
            return node;
        }
    }
    return {};
}

std::string_view text_of(const pugi::xml_node& node)
{
    return node ? infra::trim_space(node.child_value()) : std::string_view{};
}

std::optional<int> parse_int(std::string_view text)
{
    int value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return value;
}

std::optional<bool> parse_bool(std::string_view text)
{
    if (text == "true" || text == "1") {
        return true;
    }
    if (text == "false" || text == "0") {
        return false;
    }
    return std::nullopt;
}

ParseError field_error(std::string message)
{
    return ParseError{ParseError::Kind::field, std::move(message), {}, {}};
}

ParseError structure_error(std::string message)
{
    return ParseError{ParseError::Kind::structure, std::move(message), {}, {}};
}

/// Reads a Log element (of a message or of the response) into `items` and `max_severity`.
std::optional<ParseError> read_log(const pugi::xml_node& log, std::string_view owner, std::vector<LogItem>& items,
                                   int& max_severity)
{
    for (auto node = log.first_child(); node; node = node.next_sibling()) {
        if (node.type() != pugi::node_element) {
            continue;
        }
        const auto name = local_name(node);
        if (name == "MaximumLogItemSeverityCode") {
            const auto text = text_of(node);
            if (text.empty()) {
                continue;
            }
            const auto value = parse_int(text);
            if (!value) {
                return field_error(fmt::format("{}: Log/MaximumLogItemSeverityCode '{}' is not a number", owner, text));
            }
            max_severity = std::max(max_severity, *value);
        } else if (name == "Item") {
            LogItem item;
            for (auto field = node.first_child(); field; field = field.next_sibling()) {
                if (field.type() != pugi::node_element) {
                    continue;
                }
                const auto field_name = local_name(field);
                if (field_name == "SeverityCode") {
                    const auto text = text_of(field);
                    if (text.empty()) {
                        continue;
                    }
                    const auto value = parse_int(text);
                    if (!value) {
                        return field_error(fmt::format("{}: Log/Item/SeverityCode '{}' is not a number", owner, text));
                    }
                    item.severity_code = *value;
                } else if (field_name == "TypeID") {
                    item.type_id = text_of(field);
                } else if (field_name == "Note") {
                    item.note = text_of(field);
                }
            }
            max_severity = std::max(max_severity, item.severity_code);
            items.push_back(std::move(item));
        }
    }
    return std::nullopt;
}

std::string describe_message(const Message& message, std::size_t index)
{
    return message.id.empty() ? fmt::format("BusinessDocumentMessage #{}", index + 1)
                              : fmt::format("BusinessDocumentMessage {}", message.id);
}

using Problem = BadMessage::Problem;

struct MessageProblem {
    Problem problem;
    std::string message;
};

/// The element's markup as pugixml writes it back: the quarantined record's raw text.
std::string element_text(const pugi::xml_node& node)
{
    struct Writer final : pugi::xml_writer {
        std::string text;
        void write(const void* data, std::size_t size) override { text.append(static_cast<const char*>(data), size); }
    } writer;
    node.print(writer, "", pugi::format_raw);
    return std::move(writer.text);
}

std::optional<MessageProblem> read_message(const pugi::xml_node& element, std::size_t index, Message& message)
{
    std::string_view creation_text;
    std::string_view change_text;
    std::string_view status_text;
    pugi::xml_node log;
    for (auto node = element.first_child(); node; node = node.next_sibling()) {
        if (node.type() != pugi::node_element) {
            continue;
        }
        const auto name = local_name(node);
        if (name == "BusinessDocumentMessageID") {
            message.id = text_of(node);
        } else if (name == "CreationDateTime") {
            creation_text = text_of(node);
        } else if (name == "LastChangeDateTime") {
            change_text = text_of(node);
        } else if (name == "ProcessingStatusCode") {
            status_text = text_of(node);
        } else if (name == "ProcessingStatusCodeText") {
            message.status_text = text_of(node);
        } else if (name == "DirectionCode") {
            message.direction_code = text_of(node);
        } else if (name == "ServiceInterfaceName") {
            message.service_interface = text_of(node);
        } else if (name == "SenderCommunicationSystemID") {
            message.sender_system = text_of(node);
        } else if (name == "ReceiverCommunicationSystemID") {
            message.receiver_system = text_of(node);
        } else if (name == "Log") {
            log = node;
        }
    }

    const auto owner = describe_message(message, index);
    if (message.id.empty()) {
        return MessageProblem{Problem::missing_id, fmt::format("{} has no BusinessDocumentMessageID", owner)};
    }
    if (change_text.empty()) {
        return MessageProblem{Problem::invalid_time, fmt::format("{} has no LastChangeDateTime", owner)};
    }
    const auto change = parse_iso8601_ns(change_text);
    if (!change) {
        return MessageProblem{
            Problem::invalid_time,
            fmt::format("{}: LastChangeDateTime '{}' is not an ISO 8601 date-time", owner, change_text)};
    }
    message.last_change_time_ns = *change;
    if (!creation_text.empty()) {
        const auto creation = parse_iso8601_ns(creation_text);
        if (!creation) {
            return MessageProblem{
                Problem::invalid_time,
                fmt::format("{}: CreationDateTime '{}' is not an ISO 8601 date-time", owner, creation_text)};
        }
        message.creation_time_ns = *creation;
    }
    if (!status_text.empty()) {
        const auto status = parse_int(status_text);
        if (!status) {
            return MessageProblem{Problem::invalid_value,
                                  fmt::format("{}: ProcessingStatusCode '{}' is not a number", owner, status_text)};
        }
        message.status_code = *status;
    }
    if (log) {
        if (auto error = read_log(log, owner, message.log_items, message.max_log_severity)) {
            return MessageProblem{Problem::invalid_value, std::move(error->message)};
        }
    }
    return std::nullopt;
}

std::optional<ParseError> read_processing_conditions(const pugi::xml_node& conditions, QueryPage& page)
{
    if (const auto text = text_of(child(conditions, "MoreHitsAvailableIndicator")); !text.empty()) {
        const auto value = parse_bool(text);
        if (!value) {
            return field_error(
                fmt::format("ProcessingConditions/MoreHitsAvailableIndicator '{}' is not a boolean", text));
        }
        page.more_hits = *value;
    }
    if (const auto text = text_of(child(conditions, "ReturnedQueryHitsNumberValue")); !text.empty()) {
        const auto value = parse_int(text);
        if (!value) {
            return field_error(
                fmt::format("ProcessingConditions/ReturnedQueryHitsNumberValue '{}' is not a number", text));
        }
        page.returned_hits = *value;
    }
    page.last_returned_id = text_of(child(conditions, "LastReturnedObjectID"));
    return std::nullopt;
}

ParseError fault_error(const pugi::xml_node& fault)
{
    ParseError error;
    error.kind = ParseError::Kind::fault;
    // SOAP 1.1 (faultcode/faultstring), with the SOAP 1.2 shape (Code/Value, Reason/Text) as a fallback.
    error.fault_code = text_of(child(fault, "faultcode"));
    error.fault_string = text_of(child(fault, "faultstring"));
    if (error.fault_code.empty()) {
        error.fault_code = text_of(child(child(fault, "Code"), "Value"));
    }
    if (error.fault_string.empty()) {
        error.fault_string = text_of(child(child(fault, "Reason"), "Text"));
    }
    error.message = fmt::format("SOAP fault {}: {}", error.fault_code.empty() ? "(no faultcode)" : error.fault_code,
                                error.fault_string.empty() ? "(no faultstring)" : error.fault_string);
    return error;
}

/// XML 1.0 has no U+0000, but pugixml takes a NUL byte for the end of the text where it meets one
/// (in place, even inside a tag), so whatever followed it, messages included, would be dropped without
/// a word, and the two entry points would judge such a body differently. `nul` is the offset of the first
/// NUL byte of the body (npos for none); it only counts in UTF-8, where no character contains one.
Result read_document(const pugi::xml_document& document, const pugi::xml_parse_result& parsed, std::size_t nul)
{
    if (nul != std::string_view::npos && parsed.encoding == pugi::encoding_utf8) {
        return ParseError{ParseError::Kind::xml, fmt::format("malformed XML at byte {}: NUL character", nul), {}, {}};
    }
    if (!parsed) {
        return ParseError{ParseError::Kind::xml,
                          fmt::format("malformed XML at byte {}: {}", parsed.offset, parsed.description()),
                          {},
                          {}};
    }
    const auto envelope = document.document_element();
    if (local_name(envelope) != "Envelope") {
        return structure_error(fmt::format("the document element is <{}>, not a SOAP Envelope", envelope.name()));
    }
    const auto body = child(envelope, "Body");
    if (!body) {
        return structure_error("the SOAP Envelope has no Body");
    }
    if (const auto fault = child(body, "Fault")) {
        return fault_error(fault);
    }
    const auto response = child(body, k_response_root);
    if (!response) {
        const auto found = first_element(body);
        return structure_error(found ? fmt::format("the SOAP Body holds <{}>, not {}", found.name(), k_response_root)
                                     : fmt::format("the SOAP Body is empty (no {})", k_response_root));
    }

    QueryPage page;
    bool hits_given = false;
    for (auto node = response.first_child(); node; node = node.next_sibling()) {
        if (node.type() != pugi::node_element) {
            continue;
        }
        const auto name = local_name(node);
        if (name == "BusinessDocumentMessage") {
            Message message;
            if (auto problem = read_message(node, page.messages.size() + page.bad_messages.size(), message)) {
                page.bad_messages.push_back(BadMessage{problem->problem, std::move(message.id),
                                                       std::move(problem->message), element_text(node)});
                continue;
            }
            page.messages.push_back(std::move(message));
        } else if (name == "ProcessingConditions") {
            if (auto error = read_processing_conditions(node, page)) {
                return std::move(*error);
            }
            hits_given = !text_of(child(node, "ReturnedQueryHitsNumberValue")).empty();
        } else if (name == "Log") {
            if (auto error = read_log(node, "the response", page.log_items, page.max_log_severity)) {
                return std::move(*error);
            }
        }
    }
    if (!hits_given) {
        page.returned_hits = static_cast<int>(page.messages.size());
    }
    return page;
}

}  // namespace

void throw_exception_from_error(const ParseError& error, const boost::source_location& location)
{
    throw std::runtime_error(fmt::format("{} ({}:{})", error.message, location.file_name(), location.line()));
}

void throw_exception_from_error(const BadMessage& error, const boost::source_location& location)
{
    throw std::runtime_error(fmt::format("{} ({}:{})", error.message, location.file_name(), location.line()));
}

std::string build_query_request(std::chrono::system_clock::time_point lower,
                                std::chrono::system_clock::time_point upper, int max_hits,
                                std::string_view last_returned_id)
{
    return fmt::format(
        R"(<soapenv:Envelope xmlns:soapenv="{}" xmlns:glob="{}">
  <soapenv:Header/>
  <soapenv:Body>
    <glob:{}>
      <BusinessDocumentMessageMonitoringSelectionByElements>
        <SelectionByLastChangeDateTime>
          <InclusionExclusionCode>I</InclusionExclusionCode>
          <IntervalBoundaryTypeCode>3</IntervalBoundaryTypeCode>
          <LowerBoundaryDateTime>{}</LowerBoundaryDateTime>
          <UpperBoundaryDateTime>{}</UpperBoundaryDateTime>
        </SelectionByLastChangeDateTime>
      </BusinessDocumentMessageMonitoringSelectionByElements>
      <ProcessingConditions>
        <QueryHitsMaximumNumberValue>{}</QueryHitsMaximumNumberValue>
        <QueryHitsUnlimitedIndicator>false</QueryHitsUnlimitedIndicator>
        <LastReturnedObjectID>{}</LastReturnedObjectID>
      </ProcessingConditions>
    </glob:{}>
  </soapenv:Body>
</soapenv:Envelope>
)",
        k_envelope_namespace, k_global_namespace, k_request_root, format_iso8601_ms(lower), format_iso8601_ms(upper),
        std::max(max_hits, 1), xml_escape(last_returned_id), k_request_root);
}

boost::system::result<QueryPage, ParseError> parse_query_response(std::string_view xml)
{
    pugi::xml_document document;
    const auto parsed = document.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_auto);
    return read_document(document, parsed, xml.find('\0'));
}

boost::system::result<QueryPage, ParseError> parse_query_response_in_place(std::string& buffer)
{
    const std::size_t nul = buffer.find('\0');
    pugi::xml_document document;
    const auto parsed =
        document.load_buffer_inplace(buffer.data(), buffer.size(), pugi::parse_default, pugi::encoding_auto);
    return read_document(document, parsed, nul);
}

boost::system::result<Message, BadMessage> parse_message(std::string_view xml)
{
    pugi::xml_document document;
    const auto parsed = document.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_auto);
    const auto element = document.document_element();
    if (!parsed || xml.find('\0') != std::string_view::npos || local_name(element) != "BusinessDocumentMessage") {
        return BadMessage{Problem::invalid_value, {}, "not a BusinessDocumentMessage element", std::string(xml)};
    }
    Message message;
    if (auto problem = read_message(element, 0, message)) {
        return BadMessage{problem->problem, std::move(message.id), std::move(problem->message), std::string(xml)};
    }
    return message;
}

}  // namespace c4c::collectors::soap
