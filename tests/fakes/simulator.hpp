#pragma once

// The simulator's state and request router: one process serves a fake C4C tenant (OData business
// objects, RTA, SOAP message monitoring), a fake Cloud ALM sink, and the /_sim control API.
// Single-threaded: every request is handled on the event-loop thread.

#include "tests/fakes/alm_sink.hpp"
#include "tests/fakes/c4c_data.hpp"
#include "tests/fakes/faults.hpp"
#include "tests/fakes/odata_service.hpp"
#include "tests/fakes/rta_service.hpp"
#include "tests/fakes/soap_service.hpp"

#include <cstdint>
#include <string>

namespace c4c::sim {

struct SimOptions {
    WorldOptions world;
    std::string c4c_user = "CRUN_USER";
    std::string c4c_password = "demo-password";
    std::string soap_path = "/sap/bc/srt/scs/sap/querybusinessdocumentmessagemoni";
    std::string rta_zone = "UTC";  ///< SAP time-zone code
    SinkOptions sink;
};

struct C4cCounters {
    std::uint64_t odata = 0;
    std::uint64_t rta = 0;
    std::uint64_t soap = 0;
    std::uint64_t auth_failures = 0;
};

class Simulator {
public:
    explicit Simulator(SimOptions options);
    Simulator(const Simulator&) = delete;
    Simulator& operator=(const Simulator&) = delete;

    /// Routes one request; never throws for bad input (answers 4xx instead).
    ServerResponse handle(const ServerRequest& request);
    /// host:port used for absolute links when a request carries no Host header.
    void set_fallback_host(std::string host) { m_fallback_host = std::move(host); }

    World& world() { return m_world; }
    Faults& faults() { return m_faults; }
    AlmSink& sink() { return m_sink; }
    const C4cCounters& c4c_counters() const { return m_counters; }

private:
    ServerResponse handle_c4c(const ServerRequest& request, std::string_view kind);

    SimOptions m_options;
    std::string m_fallback_host = "127.0.0.1";
    World m_world;
    Faults m_faults;
    AlmSink m_sink;
    ODataService m_odata;
    RtaService m_rta;
    SoapService m_soap;
    C4cCounters m_counters;
};

} // namespace c4c::sim
