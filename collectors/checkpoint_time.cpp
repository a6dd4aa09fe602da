#include "collectors/checkpoint_time.hpp"

#include "collectors/business_objects.hpp"
#include "collectors/webservice_messages.hpp"
#include "infra/config.hpp"

#include <charconv>
#include <cstdint>

namespace c4c::collectors {

namespace {

// Beyond this (the year 2255), nanoseconds since the epoch would not fit system_clock.
constexpr std::int64_t k_max_seconds = 9'000'000'000;

}  // namespace

std::optional<std::chrono::system_clock::time_point> checkpoint_instant(std::string_view source,
                                                                        std::string_view checkpoint)
{
    using std::chrono::system_clock;
    if (source == infra::k_source_business_objects) {
        if (const auto ms = parse_business_objects_checkpoint(checkpoint);
            ms && *ms >= 0 && *ms / 1000 < k_max_seconds) {
            return system_clock::time_point(std::chrono::milliseconds(*ms));
        }
    } else if (source == infra::k_source_webservice_messages) {
        return parse_messages_checkpoint(checkpoint);
    } else if (source == infra::k_source_response_time_analysis) {
        // response_time_analysis.cpp writes whole unix seconds.
        std::int64_t seconds = 0;
        const auto [end, ec] = std::from_chars(checkpoint.data(), checkpoint.data() + checkpoint.size(), seconds);
        if (!checkpoint.empty() && ec == std::errc() && end == checkpoint.data() + checkpoint.size() && seconds >= 0 &&
            seconds < k_max_seconds) {
            return system_clock::time_point(std::chrono::seconds(seconds));
        }
    }
    return std::nullopt;
}

}  // namespace c4c::collectors
