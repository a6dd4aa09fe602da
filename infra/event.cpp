#include "infra/event.hpp"

#include <openssl/evp.h>

#include <array>
#include <charconv>

namespace c4c::infra {

int severity_number(Severity s)
{
    switch (s) {
    case Severity::warn:
        return 13;
    case Severity::error:
        return 17;
    case Severity::info:
        break;
    }
    return 9;
}

const char* severity_text(Severity s)
{
    switch (s) {
    case Severity::warn:
        return "WARN";
    case Severity::error:
        return "ERROR";
    case Severity::info:
        break;
    }
    return "INFO";
}

namespace {

// SHA-256 with its algorithm fetched once and one reusable context per thread: EVP_Digest() looks the
// algorithm up and allocates a context on every call, which was a fifth of the cost of normalizing a row.
class Sha256 {
public:
    Sha256() : m_md(EVP_MD_fetch(nullptr, "SHA256", nullptr)), m_ctx(EVP_MD_CTX_new()) {}
    ~Sha256()
    {
        EVP_MD_CTX_free(m_ctx);
        EVP_MD_free(m_md);
    }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    /// False only when OpenSSL failed (no SHA-256 provider, out of memory).
    bool digest(std::string_view data, unsigned char* out)
    {
        unsigned int length = 0;
        if (m_md && m_ctx && EVP_DigestInit_ex2(m_ctx, m_md, nullptr) == 1 &&
            EVP_DigestUpdate(m_ctx, data.data(), data.size()) == 1 && EVP_DigestFinal_ex(m_ctx, out, &length) == 1) {
            return true;
        }
        return EVP_Digest(data.data(), data.size(), out, &length, EVP_sha256(), nullptr) == 1;
    }

private:
    EVP_MD* m_md;
    EVP_MD_CTX* m_ctx;
};

}  // namespace

std::string make_event_id(std::string_view tenant, std::string_view source, std::string_view object_type,
                          std::string_view record_key, std::int64_t change_time_unix_nano)
{
    // Fields are separated by a byte that cannot occur in any of them, so that ("ab","c") != ("a","bc").
    thread_local std::string input;
    input.clear();
    for (std::string_view part : {tenant, source, object_type, record_key}) {
        input.append(part);
        input.push_back('\x1f');
    }
    char number[24];
    const auto [number_end, ec] = std::to_chars(number, number + sizeof number, change_time_unix_nano);
    (void)ec;  // 24 characters always hold an int64
    input.append(number, number_end);

    thread_local Sha256 sha256;
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    sha256.digest(input, digest.data());

    static constexpr char k_hex[] = "0123456789abcdef";
    std::string id(32, '0');
    for (std::size_t i = 0; i < 16; ++i) {
        id[2 * i] = k_hex[digest[i] >> 4];
        id[2 * i + 1] = k_hex[digest[i] & 0x0f];
    }
    return id;
}

}  // namespace c4c::infra
