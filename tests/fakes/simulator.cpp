#include "tests/fakes/simulator.hpp"

#include "tests/fakes/control_api.hpp"

#include <chrono>

namespace c4c::sim {

namespace {

std::int64_t floor_div_1000(std::int64_t ms)
{
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

bool starts_with(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

/// Modes that keep the real C4C answer and only shape it; the others replace it.
bool shapes_answer(FaultMode mode)
{
    return mode == FaultMode::trickle || mode == FaultMode::truncate || mode == FaultMode::broken_xml ||
           mode == FaultMode::missing_rows;
}

}  // namespace

Simulator::Simulator(SimOptions options)
    : m_options(std::move(options)),
      m_world(m_options.world),
      m_sink(m_options.sink, m_faults),
      m_odata(m_world, m_fallback_host),
      m_rta(m_world, m_options.rta_zone, m_fallback_host),
      m_soap(m_world)
{}

ServerResponse Simulator::handle(const ServerRequest& request)
{
    if (starts_with(request.path(), "/_sim/")) {
        return handle_control(*this, request);
    }
    RequestEntry entry;
    entry.time_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    entry.method = request.method;
    entry.target = request.target;
    entry.authorization = request.header("authorization").has_value();
    ServerResponse response = route(request);
    entry.status = response.status;
    if (m_request_log.size() == k_request_log_size) {
        m_request_log.pop_front();
    }
    m_request_log.push_back(std::move(entry));
    return response;
}

ServerResponse Simulator::route(const ServerRequest& request)
{
    std::string_view path = request.path();
    if (starts_with(path, "/sap/c4c/odata/v1/")) {
        return handle_c4c(request, "odata");
    }
    if (starts_with(path, "/sap/c4c/odata/analytics/ds/")) {
        return handle_c4c(request, "rta");
    }
    if (path == m_options.soap_path) {
        return handle_c4c(request, "soap");
    }
    if (path == "/api/calm-logs/v1/logs") {
        return m_sink.handle_logs(request);
    }
    if (path == "/api/calm-metrics/v1/metrics") {
        return m_sink.handle_metrics(request);
    }
    if (path == "/oauth/token") {
        return m_sink.handle_token(request);
    }
    return json_response(404, R"({"error":"no such path in the simulator"})");
}

ServerResponse Simulator::handle_c4c(const ServerRequest& request, std::string_view kind)
{
    ServerResponse response = answer_c4c(request, kind);
    if (m_date_header) {
        // The tenant's clock, as a real server stamps every answer (RFC 9110 section 6.6.1).
        response.headers.emplace_back("Date", http_date(floor_div_1000(m_world.tenant_ms())));
    }
    return response;
}

ServerResponse Simulator::answer_c4c(const ServerRequest& request, std::string_view kind)
{
    if (kind == "odata") {
        ++m_counters.odata;
    } else if (kind == "rta") {
        ++m_counters.rta;
    } else {
        ++m_counters.soap;
    }
    auto fault = m_faults.take(kind);
    if (fault && !shapes_answer(fault->mode)) {
        return fault_response(*fault, kind);
    }
    auto creds = basic_credentials(request);
    if (!creds || creds->first != m_options.c4c_user || creds->second != m_options.c4c_password) {
        ++m_counters.auth_failures;
        ServerResponse r;
        r.status = 401;
        r.content_type = "text/html; charset=utf-8";
        r.body = "<html><head><title>Logon Error Message</title></head><body>Anmeldung fehlgeschlagen / "
                 "Logon failed</body></html>\n";
        r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"SAP\"");
        return r;
    }
    const std::size_t missing_rows = fault && fault->mode == FaultMode::missing_rows ? fault->missing_rows : 0;
    ServerResponse response = kind == "odata" ? m_odata.handle(request)
                              : kind == "rta" ? m_rta.handle(request, missing_rows)
                                              : m_soap.handle(request);
    if (fault) {
        apply_fault(*fault, kind, response);
    }
    return response;
}

}  // namespace c4c::sim
