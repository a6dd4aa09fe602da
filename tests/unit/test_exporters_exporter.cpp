// The exporter interface's one function: the reason label of a failed send (CONTRACT.md section 6, the
// `reason` of endpoint_send_failures_total), the same text the strings it replaced had.

#include "exporters/exporter.hpp"

#include <doctest/doctest.h>

using c4c::exporters::SendFailure;
namespace http = c4c::infra::http;

TEST_CASE("send failure: its label is the metric label of each kind")
{
    CHECK(SendFailure().label().empty());
    CHECK(SendFailure::http(503).label() == "http_503");
    CHECK(SendFailure::http(400).label() == "http_400");
    CHECK(SendFailure::token_http(404).label() == "token_http_404");
    CHECK(SendFailure(SendFailure::Kind::auth).label() == "auth");
    CHECK(SendFailure(SendFailure::Kind::cancelled).label() == "cancelled");
    CHECK(SendFailure::network(http::make_error_code(http::Errc::timeout)).label() == "timeout");
    CHECK(SendFailure::network(http::make_error_code(http::Errc::certificate_untrusted)).label() == "tls");
    CHECK(SendFailure::network(http::make_error_code(http::Errc::connect_failed)).label() == "connect");
    CHECK(SendFailure::http(503) == SendFailure::Kind::http_status);
}
