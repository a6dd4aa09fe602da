#include "infra/logging.hpp"

#include "infra/json_string.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <utility>

#include <sys/stat.h>
#include <unistd.h>

namespace c4c::infra {

namespace {

int syslog_priority(spdlog::level::level_enum level)
{
    switch (level) {
    case spdlog::level::critical:
        return 2;
    case spdlog::level::err:
        return 3;
    case spdlog::level::warn:
        return 4;
    case spdlog::level::info:
        return 6;
    default:
        return 7;
    }
}

// One line per record on stderr, in the chosen format.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    StderrSink(bool json, bool journal) : m_json(json), m_journal(journal) {}

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override
    {
        const std::string_view text(msg.payload.data(), msg.payload.size());
        std::string line;
        if (m_json) {
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
            line = "{\"ts\":" + std::to_string(ms / 1000) + "." + fmt::format("{:03}", ms % 1000) + ",\"level\":";
            const auto level_name = spdlog::level::to_string_view(msg.level);
            append_json_string(line, std::string_view(level_name.data(), level_name.size()));
            line += ",\"msg\":";
            append_json_string(line, text);
            line += "}\n";
        } else if (m_journal) {
            line = fmt::format("<{}>{}\n", syslog_priority(msg.level), text);
        } else {
            spdlog::memory_buf_t formatted;
            m_formatter.format(msg, formatted);
            line.assign(formatted.data(), formatted.size());
        }
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
    void flush_() override { std::fflush(stderr); }

private:
    bool m_json;
    bool m_journal;
    spdlog::pattern_formatter m_formatter{"%Y-%m-%dT%H:%M:%S.%e%z %^%-5l%$ %v"};
};

// systemd sets JOURNAL_STREAM to "DEVICE:INODE" of the stream it connected to stderr. It is inherited by
// children whose stderr may be redirected elsewhere, so it only counts when it still names our stderr.
bool stderr_is_journal()
{
    const char* value = std::getenv("JOURNAL_STREAM");
    if (value == nullptr) {
        return false;
    }
    unsigned long long device = 0;
    unsigned long long inode = 0;
    if (std::sscanf(value, "%llu:%llu", &device, &inode) != 2) {
        return false;
    }
    struct stat st {};
    return ::fstat(STDERR_FILENO, &st) == 0 && static_cast<unsigned long long>(st.st_dev) == device &&
           static_cast<unsigned long long>(st.st_ino) == inode;
}

}  // namespace

void setup_logging(std::string_view level, std::string_view format)
{
    const bool journal = stderr_is_journal();
    auto sink = std::make_shared<StderrSink>(format == "json", journal);
    auto logger = std::make_shared<spdlog::logger>("c4c-alm-collector", sink);
    logger->set_level(spdlog::level::from_str(std::string(level)));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

LogLimiter::LogLimiter(std::chrono::steady_clock::duration interval, std::size_t burst)
    : m_interval(interval), m_burst(std::max<std::size_t>(burst, 1))
{}

std::optional<std::size_t> LogLimiter::admit(std::chrono::steady_clock::time_point now)
{
    if (!m_started || now - m_window_start >= m_interval) {
        m_started = true;
        m_window_start = now;
        m_in_window = 1;
        return std::exchange(m_suppressed, 0);
    }
    if (m_in_window < m_burst) {
        ++m_in_window;
        return 0;
    }
    ++m_suppressed;
    return std::nullopt;
}

void LogLimiter::reset()
{
    m_started = false;
    m_in_window = 0;
    m_suppressed = 0;
}

std::string suppressed_note(std::size_t suppressed)
{
    return suppressed == 0 ? std::string() : fmt::format(" ({} similar lines suppressed)", suppressed);
}

}  // namespace c4c::infra
