#include "exporters/exporter.hpp"

#include <fmt/format.h>

namespace c4c::exporters {

SendFailure SendFailure::http(unsigned status)
{
    return infra::http::failure_with_status<SendFailure>(Kind::http_status, status);
}

SendFailure SendFailure::token_http(unsigned status)
{
    return infra::http::failure_with_status<SendFailure>(Kind::token_status, status);
}

SendFailure SendFailure::network(boost::system::error_code error)
{
    return infra::http::failure_with_error<SendFailure>(Kind::network, error);
}

std::string SendFailure::label() const
{
    switch (kind) {
    case Kind::none:
        return {};
    case Kind::network:
        return infra::http::reason_label(error);
    case Kind::http_status:
        return fmt::format("http_{}", http_status);
    case Kind::auth:
        return "auth";
    case Kind::token_status:
        return fmt::format("token_http_{}", http_status);
    case Kind::cancelled:
        return "cancelled";
    }
    return "network";
}

}  // namespace c4c::exporters
