#include "collectors/event.hpp"

#include <openssl/evp.h>

#include <array>

namespace c4c::collectors {

int severity_number(Severity s)
{
    switch (s) {
    case Severity::warn: return 13;
    case Severity::error: return 17;
    case Severity::info: break;
    }
    return 9;
}

const char* severity_text(Severity s)
{
    switch (s) {
    case Severity::warn: return "WARN";
    case Severity::error: return "ERROR";
    case Severity::info: break;
    }
    return "INFO";
}

std::string make_event_id(std::string_view tenant, std::string_view source, std::string_view object_type,
                          std::string_view record_key, std::int64_t change_time_unix_nano)
{
    // Fields are separated by a byte that cannot occur in any of them, so that ("ab","c") != ("a","bc").
    std::string input;
    input.reserve(tenant.size() + source.size() + object_type.size() + record_key.size() + 32);
    for (std::string_view part : {tenant, source, object_type, record_key}) {
        input.append(part);
        input.push_back('\x1f');
    }
    input.append(std::to_string(change_time_unix_nano));

    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha256(), nullptr);

    static constexpr char k_hex[] = "0123456789abcdef";
    std::string id(32, '0');
    for (std::size_t i = 0; i < 16; ++i) {
        id[2 * i] = k_hex[digest[i] >> 4];
        id[2 * i + 1] = k_hex[digest[i] & 0x0f];
    }
    return id;
}

} // namespace c4c::collectors
