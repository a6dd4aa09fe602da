#include "collectors/collector.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace c4c::collectors {

FailureReason FailureReason::http(unsigned status)
{
    return infra::http::failure_with_status<FailureReason>(Kind::http_status, status);
}

FailureReason FailureReason::network(boost::system::error_code error)
{
    return infra::http::failure_with_error<FailureReason>(Kind::network, error);
}

const char* quarantine_label(QuarantineReason reason)
{
    switch (reason) {
    case QuarantineReason::unknown_timezone:
        return "unknown_timezone";
    case QuarantineReason::missing_key:
        return "missing_key";
    case QuarantineReason::invalid_time:
        return "invalid_time";
    case QuarantineReason::invalid_value:
        return "invalid_value";
    }
    return "invalid_value";
}

void throw_exception_from_error(const QuarantinedRecord& record, const boost::source_location& /*location*/)
{
    throw std::runtime_error(record.detail);
}

std::string FailureReason::label() const
{
    switch (kind) {
    case Kind::none:
        return {};
    case Kind::network:
        return infra::http::reason_label(error);
    case Kind::http_status:
        return fmt::format("http_{}", http_status);
    case Kind::cancelled:
        return "cancelled";
    case Kind::parse:
        return "parse";
    case Kind::soap_fault:
        return "soap_fault";
    case Kind::outbox_full:
        return "outbox_full";
    case Kind::store:
        return "store";
    case Kind::timezone:
        return "timezone";
    case Kind::pseudonymization:
        return "pseudonymization";
    case Kind::paging:
        return "paging";
    case Kind::internal:
        return "internal";
    }
    return "internal";
}

}  // namespace c4c::collectors
