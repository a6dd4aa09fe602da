#pragma once

// Shared by the collector tests: samples, attribute look-ups, query strings, a temporary directory, an
// in-memory FeedStore and RequestObserver, and a harness that runs a collector's poll against a fake
// tenant on our own loopback server, with the real client, all on one io_context (as in the daemon).
// The fakes themselves (what a feed's tenant answers) stay in each feed's test file.

// GCC 12 at -O2 reports -Wnull-dereference inside Asio's scheduler once it is inlined (see
// infra/http/server.cpp); the pragma must precede the first Asio include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "collectors/collector.hpp"
#include "infra/event.hpp"
#include "infra/http/client.hpp"
#include "infra/http/server.hpp"
#include "temp_dir.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace collector_tests {

namespace asio = boost::asio;
namespace http = c4c::infra::http;
using namespace std::chrono_literals;

/// The content of a file in the samples folder; fails the test when it cannot be read.
inline std::string read_sample(std::string_view name)
{
    std::ifstream in(std::filesystem::path(C4C_SAMPLES_DIR) / name, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "missing sample " << name);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The event's attribute `key`, or nullptr.
inline const c4c::infra::Attribute* find_attribute(const c4c::infra::Event& event, std::string_view key)
{
    for (const auto& a : event.attributes) {
        if (a.key == key) {
            return &a;
        }
    }
    return nullptr;
}

/// The event's string attribute `key`; "<absent>" or "<not a string>" otherwise, so that a CHECK shows why.
inline std::string string_attribute(const c4c::infra::Event& event, std::string_view key)
{
    const auto* a = find_attribute(event, key);
    if (a == nullptr) {
        return "<absent>";
    }
    const auto* text = std::get_if<std::string>(&a->value);
    return text ? *text : std::string("<not a string>");
}

inline std::string percent_decode(std::string_view text)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            int value = 0;
            std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
            out.push_back(static_cast<char>(value));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

/// The query parameters of a request target, percent-decoded, keyed by their (literal) names.
inline std::map<std::string, std::string> query_of(std::string_view target)
{
    std::map<std::string, std::string> out;
    const auto q = target.find('?');
    if (q == std::string_view::npos) {
        return out;
    }
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        const auto eq = pair.find('=');
        out[std::string(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
    return out;
}

using unit_tests::TempDir;

/// The outbox and checkpoints in memory: event ids de-duplicate like the real outbox, commits are recorded
/// in order.
class MemoryStore final : public c4c::collectors::FeedStore {
public:
    struct Commit {
        std::string feed;
        std::vector<c4c::infra::Event> events;  ///< offered
        std::size_t stored = 0;                 ///< of those, new
        std::string checkpoint;
        std::string previous_checkpoint;  ///< the feed's checkpoint before this commit
        std::vector<c4c::collectors::QuarantinedRecord> quarantined;
        std::optional<std::int64_t> checkpoint_time_ns;
    };
    std::map<std::string, std::string, std::less<>> checkpoints;
    std::set<std::string> ids;
    std::vector<c4c::infra::Event> events;                        ///< every event stored, in order
    std::vector<c4c::collectors::QuarantinedRecord> quarantined;  ///< every record quarantined, in order
    std::vector<Commit> commits;
    bool accepting_now = true;
    int accepting_calls = 0;
    c4c::collectors::CommitStatus status = c4c::collectors::CommitStatus::committed;  ///< answer of commit()

    std::string checkpoint(std::string_view feed) override
    {
        const auto it = checkpoints.find(feed);
        return it == checkpoints.end() ? std::string() : it->second;
    }

    c4c::collectors::CommitStatus commit(std::string_view feed, const c4c::collectors::FeedPage& page,
                                         std::size_t& stored) override
    {
        stored = 0;
        if (status != c4c::collectors::CommitStatus::committed) {
            return status;
        }
        for (const auto& event : page.events) {
            if (ids.insert(event.id).second) {
                events.push_back(event);
                ++stored;
            }
        }
        commits.push_back(Commit{std::string(feed),
                                 {page.events.begin(), page.events.end()},
                                 stored,
                                 std::string(page.checkpoint),
                                 this->checkpoint(feed),
                                 {page.quarantined.begin(), page.quarantined.end()},
                                 page.checkpoint_time_ns});
        quarantined.insert(quarantined.end(), page.quarantined.begin(), page.quarantined.end());
        checkpoints[std::string(feed)] = std::string(page.checkpoint);
        return c4c::collectors::CommitStatus::committed;
    }

    bool accepting() override
    {
        ++accepting_calls;
        return accepting_now;
    }

    /// How many events were offered whose id had been stored before.
    std::size_t offered_again() const
    {
        std::size_t count = 0;
        for (const auto& commit : commits) {
            count += commit.events.size() - commit.stored;
        }
        return count;
    }

    /// (object_id, event time in ms) of every stored event of `object_type`.
    std::multiset<std::pair<std::string, std::int64_t>> states(std::string_view object_type) const
    {
        std::multiset<std::pair<std::string, std::int64_t>> out;
        for (const auto& event : events) {
            if (event.object_type == object_type) {
                out.emplace(event.object_id, event.time_unix_nano / 1'000'000);
            }
        }
        return out;
    }
};

/// The error reason of every request, in order ("" for a success).
class RecordingObserver final : public c4c::collectors::RequestObserver {
public:
    std::vector<std::string> reasons;
    void request_done(std::chrono::duration<double> /*elapsed*/, std::string_view error_reason) override
    {
        reasons.emplace_back(error_reason);
    }
};

/// `fake` (anything with `http::ServerResponse handle(const http::ServerRequest&)`) served on a real loopback
/// server, a real client, the store and observer of a poll, and a C4C config that points at the server
/// (user CRUN_USER, password s3cret). A feed's harness derives from it, fills `source` and calls run_poll().
template <class Fake>
class LoopbackHarness {
public:
    Fake fake;
    MemoryStore store;
    RecordingObserver observer;
    c4c::collectors::C4cConfig c4c;
    c4c::collectors::SourceConfig source;
    c4c::collectors::TenantClock* clock = nullptr;  ///< handed to each poll (null: the host's clock)

    explicit LoopbackHarness(http::ClientOptions client_options = {})
        : m_server(m_io.get_executor(), http::ServerOptions{},
                   [fake = &fake](http::ServerRequest request) { return serve(fake, std::move(request)); }),
          m_client(m_io.get_executor(), std::move(client_options))
    {
        m_server.start();
        c4c.url = "http://127.0.0.1:" + std::to_string(m_server.local_endpoint().port());
        c4c.user = "CRUN_USER";
        c4c.password = c4c::infra::Secret("s3cret");
    }

    ~LoopbackHarness()
    {
        m_client.close();
        m_server.stop();
        m_io.run_for(1s);  // until the closed connections are gone
    }

    LoopbackHarness(const LoopbackHarness&) = delete;
    LoopbackHarness& operator=(const LoopbackHarness&) = delete;

    /// Runs one poll of `collector` (over `window` when given: a backfill) to completion on the loop; fails
    /// the test when it takes over 60 s.
    c4c::collectors::PollOutcome run_poll(c4c::collectors::Collector& collector, std::string_view tenant,
                                          const std::filesystem::path& state_dir,
                                          std::chrono::system_clock::time_point now,
                                          std::optional<c4c::collectors::PollWindow> window = std::nullopt)
    {
        c4c::collectors::PollContext context{tenant, c4c, source, m_client, store, observer, state_dir, now, clock};
        context.window = window;
        std::optional<c4c::collectors::PollOutcome> outcome;
        std::exception_ptr error;
        asio::co_spawn(m_io, collector.poll(context), [&](std::exception_ptr e, c4c::collectors::PollOutcome result) {
            error = e;
            outcome = std::move(result);
        });
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        while (!outcome && std::chrono::steady_clock::now() < deadline) {
            m_io.run_one_for(100ms);
        }
        if (error) {
            std::rethrow_exception(error);
        }
        REQUIRE_MESSAGE(outcome.has_value(), "poll did not finish within 60 s");
        return *outcome;
    }

private:
    static asio::awaitable<http::ServerResponse> serve(Fake* fake, http::ServerRequest request)
    {
        co_return fake->handle(request);
    }

    asio::io_context m_io;
    http::Server m_server;
    http::Client m_client;
};

}  // namespace collector_tests
