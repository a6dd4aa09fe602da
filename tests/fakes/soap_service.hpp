#pragma once

// The fake C4C web-service message monitoring query (SOAP 1.1, A2X):
// POST {soap_path} with BusinessDocumentMessageMonitoringFindByElementsRequest_sync, elements matched
// by local name. Selects messages by LastChangeDateTime interval, pages by LastReturnedObjectID in
// message-ID order.

#include "tests/fakes/c4c_data.hpp"
#include "tests/fakes/http_util.hpp"

#include <string>

namespace c4c::sim {

class SoapService {
public:
    explicit SoapService(World& world) : m_world(world) {}

    /// Answers a POST to the SOAP path (authentication already checked).
    ServerResponse handle(const ServerRequest& request);

    /// A well-formed response body for `messages` (used by the broken_xml fault, which cuts it).
    static std::string response_body(const std::vector<const Message*>& messages, bool more);

private:
    World& m_world;
};

/// A SOAP fault answer (HTTP 500, text/xml).
ServerResponse soap_fault(std::string_view faultcode, std::string_view faultstring);

}  // namespace c4c::sim
