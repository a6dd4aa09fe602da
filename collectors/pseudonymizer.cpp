#include "collectors/pseudonymizer.hpp"

#include "infra/state_dir.hpp"

#include <fmt/format.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace c4c::collectors {

void throw_exception_from_error(const PseudonymizerError& error, const boost::source_location&)
{
    throw std::runtime_error(error.message);
}

namespace {

namespace fs = std::filesystem;

PseudonymizerError error_at(const fs::path& path, std::string_view what, int err)
{
    return PseudonymizerError{fmt::format("pseudonymization key {}: {}: {}; make the state directory writable "
                                          "by the daemon's user (user IDs are not sent without it)",
                                          path.string(), what, std::generic_category().message(err))};
}

class Fd {
public:
    explicit Fd(int fd) : m_fd(fd) {}
    ~Fd()
    {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return m_fd; }
    /// Closes now and reports close's own error (which can carry a deferred write error).
    int close()
    {
        const int rc = ::close(m_fd);
        m_fd = -1;
        return rc;
    }

private:
    int m_fd;
};

enum class ReadStatus { ok, missing, failed };

enum class FileMode { restrict, leave };

ReadStatus read_key(const fs::path& path, Pseudonymizer::Key& key, PseudonymizerError& error, FileMode mode)
{
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) {
            return ReadStatus::missing;
        }
        error = error_at(path, "cannot be opened", errno);
        return ReadStatus::failed;
    }
    // One byte more than a key, to tell an over-long file from a good one.
    std::array<unsigned char, Pseudonymizer::k_key_size + 1> buffer{};
    std::size_t size = 0;
    while (size < buffer.size()) {
        const ssize_t n = ::read(fd.get(), buffer.data() + size, buffer.size() - size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error = error_at(path, "cannot be read", errno);
            OPENSSL_cleanse(buffer.data(), buffer.size());
            return ReadStatus::failed;
        }
        if (n == 0) {
            break;
        }
        size += static_cast<std::size_t>(n);
    }
    if (size != Pseudonymizer::k_key_size) {
        OPENSSL_cleanse(buffer.data(), buffer.size());
        const bool too_long = size > Pseudonymizer::k_key_size;
        error = PseudonymizerError{fmt::format(
            "pseudonymization key {} is corrupt ({}{} bytes, expected {}); restore it from a backup, or remove it "
            "to start new pseudonyms (users will then appear under new pseudonyms)",
            path.string(), too_long ? "more than " : "", too_long ? Pseudonymizer::k_key_size : size,
            Pseudonymizer::k_key_size)};
        return ReadStatus::failed;
    }
    std::memcpy(key.data(), buffer.data(), key.size());
    OPENSSL_cleanse(buffer.data(), buffer.size());
    // An older or hand-made file may be readable by others; the key is a secret.
    struct stat st {};
    if (mode == FileMode::restrict && ::fstat(fd.get(), &st) == 0 && (st.st_mode & 077) != 0) {
        ::fchmod(fd.get(), 0600);
    }
    return ReadStatus::ok;
}

bool write_all(int fd, const unsigned char* data, std::size_t size)
{
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// Moves `from` to `to` unless `to` exists (then errno is EEXIST).
int rename_no_replace(const fs::path& from, const fs::path& to)
{
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
        return -1;
    }
    // File systems without RENAME_NOREPLACE: link(2) never replaces either.
    if (::link(from.c_str(), to.c_str()) != 0) {
        return -1;
    }
    ::unlink(from.c_str());
    return 0;
}

// Writes a fresh key to `path` atomically. Returns false with `error` set, or true with `created` false
// when another process created the file first (then the caller reads that one).
bool create_key(const fs::path& path, Pseudonymizer::Key& key, bool& created, PseudonymizerError& error)
{
    created = false;
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
        error = PseudonymizerError{
            fmt::format("pseudonymization key {}: OpenSSL could not provide random bytes", path.string())};
        return false;
    }
    std::array<unsigned char, 8> suffix{};
    RAND_bytes(suffix.data(), static_cast<int>(suffix.size()));
    fs::path temp = path;
    temp += fmt::format(".tmp.{}.", ::getpid());
    for (const unsigned char byte : suffix) {
        temp += fmt::format("{:02x}", byte);
    }

    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
        error = error_at(path, "cannot be created", errno);
        return false;
    }
    auto fail = [&](std::string_view what) {
        const int err = errno;
        ::unlink(temp.c_str());
        error = error_at(path, what, err);
        return false;
    };
    if (::fchmod(fd.get(), 0600) != 0) {
        return fail("cannot restrict permissions");
    }
    if (!write_all(fd.get(), key.data(), key.size())) {
        return fail("cannot be written");
    }
    if (::fsync(fd.get()) != 0) {
        return fail("cannot be flushed to disk");
    }
    if (fd.close() != 0) {
        return fail("cannot be written");
    }
    if (rename_no_replace(temp, path) != 0) {
        if (errno == EEXIST) {
            ::unlink(temp.c_str());
            return true;
        }
        return fail("cannot be moved into place");
    }
    // Make the new directory entry durable too.
    Fd dir(::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() >= 0) {
        ::fsync(dir.get());
    }
    created = true;
    return true;
}

}  // namespace

boost::system::result<Pseudonymizer, PseudonymizerError> Pseudonymizer::open(const fs::path& state_dir)
{
    const fs::path path = state_dir / k_key_file;
    if (const auto ec = infra::create_state_dir(state_dir)) {
        return error_at(path, "its directory cannot be created", ec.value());
    }
    Key key{};
    PseudonymizerError error;
    // Twice at most: when another process wins the race to create the file, read the one it wrote.
    for (int attempt = 0; attempt < 2; ++attempt) {
        switch (read_key(path, key, error, FileMode::restrict)) {
        case ReadStatus::ok: {
            Pseudonymizer result(key);
            OPENSSL_cleanse(key.data(), key.size());
            return result;
        }
        case ReadStatus::failed:
            return error;
        case ReadStatus::missing:
            break;
        }
        bool created = false;
        if (!create_key(path, key, created, error)) {
            OPENSSL_cleanse(key.data(), key.size());
            return error;
        }
        if (created) {
            Pseudonymizer result(key);
            OPENSSL_cleanse(key.data(), key.size());
            return result;
        }
    }
    return PseudonymizerError{fmt::format("pseudonymization key {} could not be created or read", path.string())};
}

boost::system::result<Pseudonymizer, PseudonymizerError> Pseudonymizer::open_without_writing(const fs::path& state_dir,
                                                                                             std::string& note)
{
    const fs::path path = state_dir / k_key_file;
    Key key{};
    PseudonymizerError error;
    switch (read_key(path, key, error, FileMode::leave)) {
    case ReadStatus::ok: {
        note.clear();
        Pseudonymizer result(key);
        OPENSSL_cleanse(key.data(), key.size());
        return result;
    }
    case ReadStatus::missing:
        note = fmt::format("no pseudonymization key {} yet", path.string());
        break;
    case ReadStatus::failed:
        note = error.message;
        break;
    }
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
        return PseudonymizerError{"a temporary pseudonymization key: OpenSSL could not provide random bytes"};
    }
    Pseudonymizer result(key);
    OPENSSL_cleanse(key.data(), key.size());
    return result;
}

Pseudonymizer::~Pseudonymizer()
{
    OPENSSL_cleanse(m_key.data(), m_key.size());
}

std::string Pseudonymizer::pseudonym(std::string_view user) const
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    static constexpr unsigned char k_empty = 0;
    const auto* data = user.empty() ? &k_empty : reinterpret_cast<const unsigned char*>(user.data());
    HMAC(EVP_sha256(), m_key.data(), static_cast<int>(m_key.size()), data, user.size(), mac.data(), &length);
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out = "u_";
    out.reserve(2 + 32);
    for (std::size_t i = 0; i < 16; ++i) {
        out.push_back(k_hex[mac[i] >> 4]);
        out.push_back(k_hex[mac[i] & 0x0f]);
    }
    return out;
}

}  // namespace c4c::collectors
