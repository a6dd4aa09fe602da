#include "tests/fakes/soap_service.hpp"

#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <limits>

namespace c4c::sim {

namespace {

std::string_view local_name(const char* name)
{
    const char* colon = std::strrchr(name, ':');
    return colon == nullptr ? std::string_view(name) : std::string_view(colon + 1);
}

pugi::xml_node find_local(pugi::xml_node node, std::string_view name)
{
    for (auto child : node.children()) {
        if (child.type() != pugi::node_element) {
            continue;
        }
        if (local_name(child.name()) == name) {
            return child;
        }
        if (auto found = find_local(child, name)) {
            return found;
        }
    }
    return {};
}

std::string trimmed_text(pugi::xml_node node)
{
    std::string_view s = node.text().get();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

void element(std::string& out, std::string_view indent, std::string_view name, std::string_view value)
{
    out += indent;
    out += '<';
    out += name;
    out += '>';
    out += xml_escape(value);
    out += "</";
    out += name;
    out += ">\n";
}

}  // namespace

ServerResponse soap_fault(std::string_view faultcode, std::string_view faultstring)
{
    ServerResponse r;
    r.status = 500;
    r.content_type = "text/xml; charset=utf-8";
    r.body = soap_fault_body(faultcode, faultstring);
    return r;
}

std::string SoapService::response_body(const std::vector<const Message*>& messages, bool more)
{
    std::string out = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                      "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\">\n"
                      "  <soap-env:Header/>\n"
                      "  <soap-env:Body>\n"
                      "    <n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync "
                      "xmlns:n0=\"http://sap.com/xi/SAPGlobal20/Global\" "
                      "xmlns:prx=\"urn:sap.com:proxy:LX7:/1SAI/TAS1F0F2D3E4B5A6C7:804\">\n";
    constexpr std::string_view in3 = "        ";
    constexpr std::string_view in5 = "            ";
    for (const Message* m : messages) {
        out += "      <BusinessDocumentMessage>\n";
        if (m->malformed != Malformed::no_key) {
            element(out, in3, "BusinessDocumentMessageID", m->id);
        }
        element(out, in3, "CreationDateTime", iso_from_ticks(m->creation_ticks));
        element(out, in3, "LastChangeDateTime",
                m->malformed == Malformed::bad_time ? std::string("not a time") : iso_from_ticks(m->last_change_ticks));
        element(out, in3, "ProcessingStatusCode", std::to_string(m->status));
        element(out, in3, "ProcessingStatusCodeText", message_status_text(m->status));
        element(out, in3, "DirectionCode", std::to_string(m->direction));
        element(out, in3, "ServiceInterfaceName", m->interface_name);
        element(out, in3, "SenderCommunicationSystemID", m->sender);
        element(out, in3, "ReceiverCommunicationSystemID", m->receiver);
        if (!m->log.empty()) {
            int max_severity = 0;
            for (const auto& item : m->log) {
                max_severity = std::max(max_severity, item.severity);
            }
            out += "        <Log>\n";
            element(out, "          ", "MaximumLogItemSeverityCode", std::to_string(max_severity));
            for (const auto& item : m->log) {
                out += "          <Item>\n";
                if (!item.type_id.empty()) {
                    element(out, in5, "TypeID", item.type_id);
                }
                element(out, in5, "SeverityCode", std::to_string(item.severity));
                element(out, in5, "Note", item.note);
                out += "          </Item>\n";
            }
            out += "        </Log>\n";
        }
        out += "      </BusinessDocumentMessage>\n";
    }
    out += "      <ProcessingConditions>\n";
    element(out, in3, "ReturnedQueryHitsNumberValue", std::to_string(messages.size()));
    element(out, in3, "MoreHitsAvailableIndicator", more ? "true" : "false");
    element(out, in3, "LastReturnedObjectID", messages.empty() ? std::string() : messages.back()->id);
    out += "      </ProcessingConditions>\n"
           "      <Log>\n"
           "        <MaximumLogItemSeverityCode>1</MaximumLogItemSeverityCode>\n"
           "      </Log>\n"
           "    </n0:BusinessDocumentMessageMonitoringFindByElementsResponse_sync>\n"
           "  </soap-env:Body>\n"
           "</soap-env:Envelope>\n";
    return out;
}

ServerResponse SoapService::handle(const ServerRequest& request)
{
    if (request.method != "POST") {
        return soap_fault("soap-env:Client", "Only POST is supported for SOAP requests");
    }
    pugi::xml_document doc;
    auto parsed = doc.load_buffer(request.body.data(), request.body.size());
    if (!parsed) {
        return soap_fault("soap-env:Client", std::string("XML parse error: ") + parsed.description() + ", offset " +
                                                 std::to_string(parsed.offset));
    }
    auto root = find_local(doc, "BusinessDocumentMessageMonitoringFindByElementsRequest_sync");
    if (!root) {
        return soap_fault("soap-env:Client",
                          "Request element BusinessDocumentMessageMonitoringFindByElementsRequest_sync not found");
    }
    std::optional<std::int64_t> lower;
    std::optional<std::int64_t> upper;
    if (auto selection = find_local(root, "SelectionByLastChangeDateTime")) {
        for (auto [name, target] :
             {std::pair{"LowerBoundaryDateTime", &lower}, std::pair{"UpperBoundaryDateTime", &upper}}) {
            auto node = find_local(selection, name);
            if (!node) {
                continue;
            }
            auto text = trimmed_text(node);
            if (text.empty()) {
                continue;
            }
            auto ns = parse_iso_ns(text);
            if (!ns) {
                return soap_fault("soap-env:Client", std::string("Invalid ") + name + " '" + text +
                                                         "' (expected YYYY-MM-DDThh:mm:ss[.fffffff]Z)");
            }
            *target = *ns;
        }
    }
    std::size_t maximum = std::numeric_limits<std::size_t>::max();
    std::string last_returned;
    if (auto conditions = find_local(root, "ProcessingConditions")) {
        bool unlimited = trimmed_text(find_local(conditions, "QueryHitsUnlimitedIndicator")) == "true";
        auto max_text = trimmed_text(find_local(conditions, "QueryHitsMaximumNumberValue"));
        if (!max_text.empty() && !unlimited) {
            std::size_t v = 0;
            auto [ptr, ec] = std::from_chars(max_text.data(), max_text.data() + max_text.size(), v);
            if (ec != std::errc() || ptr != max_text.data() + max_text.size() || v == 0) {
                return soap_fault("soap-env:Client", "Invalid QueryHitsMaximumNumberValue '" + max_text + "'");
            }
            maximum = v;
        }
        last_returned = trimmed_text(find_local(conditions, "LastReturnedObjectID"));
    }

    std::vector<const Message*> selected;
    for (const auto& m : m_world.messages()) {
        std::int64_t ns = m.last_change_ticks * 100;
        if ((lower && ns < *lower) || (upper && ns > *upper)) {
            continue;
        }
        if (!last_returned.empty() && m.id <= last_returned) {
            continue;
        }
        selected.push_back(&m);
    }
    std::sort(selected.begin(), selected.end(), [](const Message* a, const Message* b) { return a->id < b->id; });
    bool more = selected.size() > maximum;
    if (more) {
        selected.resize(maximum);
    }
    ServerResponse r;
    r.content_type = "text/xml; charset=utf-8";
    r.body = response_body(selected, more);
    return r;
}

}  // namespace c4c::sim
