#pragma once

// What instant a feed's stored checkpoint stands for, for the operator's `status`: each collector keeps
// its checkpoint in a text of its own making (business_objects: unix milliseconds; response_time_analysis:
// unix seconds; webservice_messages: ISO 8601 with milliseconds).

#include <chrono>
#include <optional>
#include <string_view>

namespace c4c::collectors {

/// The instant of `checkpoint` as `source` (a k_source_* name) stores it; nullopt when it is empty, not
/// that source's format, or the source is unknown.
std::optional<std::chrono::system_clock::time_point> checkpoint_instant(std::string_view source,
                                                                        std::string_view checkpoint);

}  // namespace c4c::collectors
