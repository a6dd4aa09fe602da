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
#include <deque>
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

/// One request as the simulator answered it, for tests that check timing (Retry-After, backoff) and
/// what a client sent (e.g. that no Authorization header went to a path it should not).
struct RequestEntry {
    std::int64_t time_ms = 0;  ///< Unix time in ms when the request was routed
    std::string method;
    std::string target;          ///< path and query as sent
    unsigned status = 0;         ///< the answer's status (a held connection still records its status)
    bool authorization = false;  ///< an Authorization header was present
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
    /// Whether C4C answers carry a `Date` header (the tenant's clock); on by default.
    bool date_header() const { return m_date_header; }
    void set_date_header(bool on) { m_date_header = on; }
    Faults& faults() { return m_faults; }
    AlmSink& sink() { return m_sink; }
    const C4cCounters& c4c_counters() const { return m_counters; }
    /// The last `k_request_log_size` requests outside /_sim/, oldest first.
    const std::deque<RequestEntry>& request_log() const { return m_request_log; }
    static constexpr std::size_t k_request_log_size = 20000;

private:
    ServerResponse route(const ServerRequest& request);
    ServerResponse handle_c4c(const ServerRequest& request, std::string_view kind);
    ServerResponse answer_c4c(const ServerRequest& request, std::string_view kind);

    SimOptions m_options;
    std::string m_fallback_host = "127.0.0.1";
    World m_world;
    Faults m_faults;
    AlmSink m_sink;
    ODataService m_odata;
    RtaService m_rta;
    SoapService m_soap;
    C4cCounters m_counters;
    std::deque<RequestEntry> m_request_log;
    bool m_date_header = true;
};

}  // namespace c4c::sim
