#pragma once

// Shared by the exporter tests that talk HTTP: a scripted Cloud ALM (and token endpoint) on our own
// loopback server, an in-memory outbox, a recording delivery observer, a log capture, and a harness
// that runs one test coroutine on one io_context (server, client and exporter share the loop, as in
// the daemon).

// GCC 12 at -O2 reports -Wnull-dereference inside Asio's scheduler once it is inlined (see
// infra/http/server.cpp); the pragma must precede the first Asio include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "exporters/batcher.hpp"
#include "exporters/endpoint_config.hpp"
#include "exporters/exporter.hpp"
#include "exporters/otlp_json.hpp"
#include "infra/event.hpp"
#include "infra/http/client.hpp"
#include "infra/http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace exporter_tests {

namespace asio = boost::asio;
namespace http = c4c::infra::http;
namespace exporters = c4c::exporters;
using namespace std::chrono_literals;

/// One request as the fake saw it, body decoded when gzip.
struct Received {
    std::string method;
    std::string path;
    std::string content_type;
    std::string content_encoding;
    std::string authorization;
    std::string encoded_credentials;  ///< X-CF-ENCODED-CREDENTIALS
    std::string body;                 ///< decoded
    bool body_ok = true;              ///< gunzip succeeded (or no gzip)
    std::chrono::steady_clock::time_point at;
    int unanswered_before = 0;  ///< requests received and not yet answered when this one arrived

    /// logRecords of an OTLP logs body, parsed; empty when it is not one.
    nlohmann::json records() const
    {
        auto json = nlohmann::json::parse(body, nullptr, false);
        if (json.is_discarded() || !json.contains("resourceLogs")) {
            return nlohmann::json::array();
        }
        return json["resourceLogs"][0]["scopeLogs"][0]["logRecords"];
    }
    /// event.id of every record of an OTLP logs body.
    std::vector<std::string> event_ids() const
    {
        std::vector<std::string> ids;
        for (const auto& record : records()) {
            ids.push_back(record["attributes"][0]["value"]["stringValue"].get<std::string>());
        }
        return ids;
    }
};

inline http::ServerResponse answer(unsigned status, std::string body = {},
                                   std::vector<std::pair<std::string, std::string>> headers = {})
{
    http::ServerResponse response;
    response.status = status;
    response.content_type = "application/json";
    response.body = std::move(body);
    response.headers = std::move(headers);
    return response;
}

/// Cloud ALM and its token endpoint, scripted by `respond` (called for every request, in order).
class FakeAlm {
public:
    explicit FakeAlm(asio::any_io_executor executor)
        : m_server(executor, options(), [this](http::ServerRequest request) { return handle(std::move(request)); })
    {
        m_server.start();
        m_port = m_server.local_endpoint().port();
    }
    ~FakeAlm() { m_server.stop(); }

    std::string url(std::string_view path) const { return "http://" + host() + std::string(path); }
    std::string host() const { return "127.0.0.1:" + std::to_string(m_port); }
    void stop() { m_server.stop(); }

    std::function<http::ServerResponse(const Received&)> respond = [](const Received&) { return answer(200, "{}"); };
    /// Decodes only a gzip body's first member and ignores the rest, as a decoder that stops at the first
    /// member's end does (Python's zlib.decompress(body, 31), for one).
    bool first_gzip_member_only = false;

    static std::optional<std::string> first_member(const std::string& body)
    {
        z_stream stream{};
        if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
            return std::nullopt;
        }
        std::string out(body.size() * 20 + 1024, '\0');
        stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
        stream.avail_in = static_cast<uInt>(body.size());
        stream.next_out = reinterpret_cast<Bytef*>(out.data());
        stream.avail_out = static_cast<uInt>(out.size());
        const int status = inflate(&stream, Z_FINISH);
        out.resize(stream.total_out);
        inflateEnd(&stream);
        return status == Z_STREAM_END ? std::optional<std::string>(std::move(out)) : std::nullopt;
    }
    std::chrono::milliseconds delay{0};  ///< before answering
    /// Before answering this request, when set (instead of `delay`).
    std::function<std::chrono::milliseconds(const Received&)> delay_for;
    int answered = 0;  ///< requests answered
    std::vector<Received> received;
    int unanswered = 0;      ///< requests received and not yet answered
    int max_unanswered = 0;  ///< the most that ever were at once

    std::vector<Received> on(std::string_view path) const
    {
        std::vector<Received> out;
        std::copy_if(received.begin(), received.end(), std::back_inserter(out),
                     [&](const Received& r) { return r.path == path; });
        return out;
    }

private:
    static http::ServerOptions options()
    {
        http::ServerOptions o;
        o.listen = "127.0.0.1:0";
        o.max_body_bytes = 16u << 20;
        return o;
    }

    asio::awaitable<http::ServerResponse> handle(http::ServerRequest request)
    {
        Received r;
        r.method = request.method;
        r.path = std::string(request.path());
        r.content_type = request.header("Content-Type").value_or("");
        r.content_encoding = request.header("Content-Encoding").value_or("");
        r.authorization = request.header("Authorization").value_or("");
        r.encoded_credentials = request.header("X-CF-ENCODED-CREDENTIALS").value_or("");
        r.at = std::chrono::steady_clock::now();
        if (r.content_encoding == "gzip") {
            auto decoded = first_gzip_member_only ? first_member(request.body) : exporters::gunzip(request.body);
            r.body_ok = decoded.has_value();
            r.body = decoded.value_or("");
        } else {
            r.body = std::move(request.body);
        }
        r.unanswered_before = unanswered;
        max_unanswered = std::max(max_unanswered, ++unanswered);
        received.push_back(r);
        if (const auto wait = delay_for ? delay_for(r) : delay; wait.count() > 0) {
            asio::steady_timer timer(co_await asio::this_coro::executor, wait);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        --unanswered;
        ++answered;
        co_return respond(r);
    }

    http::Server m_server;
    unsigned short m_port = 0;
};

/// The outbox as a vector, with the peek() semantics of the state store, and its contract for taking
/// rows out: remove() and reject() refuse (false, nothing changed) a row that is not queued, as
/// StateStore::take() does, a row named twice in one call included.
class MemoryOutbox final : public exporters::Outbox {
public:
    std::vector<exporters::OutboxRow> rows;
    std::vector<std::pair<exporters::OutboxRow, std::string>> rejected;
    std::size_t peeks = 0;
    bool fail_remove = false;
    std::vector<std::int64_t> removed;  ///< seqs, in the order remove() took them
    std::size_t refused = 0;            ///< remove() and reject() calls refused for a row not queued

    std::vector<exporters::OutboxRow> peek(std::size_t max_events, std::size_t max_bytes, std::int64_t after) override
    {
        ++peeks;
        std::vector<exporters::OutboxRow> out;
        std::size_t bytes = 0;
        for (const auto& row : rows) {
            if (row.seq <= after) {
                continue;
            }
            if (out.size() == max_events || (!out.empty() && bytes + row.payload.size() > max_bytes)) {
                break;
            }
            bytes += row.payload.size();
            out.push_back(row);
        }
        return out;
    }
    bool remove(std::span<const exporters::OutboxRow> taken) override
    {
        if (fail_remove) {
            return false;
        }
        std::set<std::int64_t> gone;
        for (const auto& row : taken) {
            if (!holds(row.seq) || !gone.insert(row.seq).second) {
                ++refused;
                return false;
            }
        }
        for (const auto& row : taken) {
            removed.push_back(row.seq);
        }
        std::erase_if(rows, [&](const exporters::OutboxRow& row) { return gone.contains(row.seq); });
        return true;
    }
    bool reject(const exporters::OutboxRow& row, std::string_view answer_text) override
    {
        if (!holds(row.seq)) {
            ++refused;
            return false;
        }
        std::erase_if(rows, [&](const exporters::OutboxRow& r) { return r.seq == row.seq; });
        rejected.emplace_back(row, std::string(answer_text));
        return true;
    }
    bool holds(std::int64_t seq) const
    {
        return std::any_of(rows.begin(), rows.end(), [&](const exporters::OutboxRow& row) { return row.seq == seq; });
    }
    std::size_t size() override { return rows.size(); }

    /// Appends `count` events with ids "evt-<n>" (n from the current number of rows).
    void add_events(std::size_t count, std::size_t body_bytes = 100)
    {
        for (std::size_t i = 0; i < count; ++i) {
            const std::int64_t seq = ++m_last_seq;
            c4c::infra::Event event;
            event.id = "evt-" + std::to_string(seq);
            event.source = "business_objects";
            event.object_type = "OpportunityCollection";
            event.object_id = "OBJ" + std::to_string(seq);
            event.time_unix_nano = 1'700'000'000'000'000'000 + seq;
            event.observed_unix_nano = 1'700'000'001'000'000'000;
            event.body = std::string(body_bytes, 'b');
            event.attributes.push_back({"sap.c4c.id", std::to_string(seq)});
            rows.push_back({seq, event.id, exporters::encode_log_record(event)});
        }
    }

private:
    std::int64_t m_last_seq = 0;
};

class RecordingObserver final : public exporters::DeliveryObserver {
public:
    std::size_t sent_events = 0;
    std::size_t sent_calls = 0;
    std::vector<std::string> failures;
    std::size_t rejected_events = 0;
    std::vector<bool> paused_calls;
    std::vector<bool> up_calls;

    void sent(std::size_t count, std::chrono::duration<double>) override
    {
        sent_events += count;
        ++sent_calls;
    }
    void failed(const exporters::SendFailure& reason) override { failures.push_back(reason.label()); }
    void rejected(std::size_t count) override { rejected_events += count; }
    void paused(bool value, std::string_view) override { paused_calls.push_back(value); }
    void endpoint_up(bool value) override { up_calls.push_back(value); }

    std::size_t failures_of(std::string_view reason) const
    {
        return static_cast<std::size_t>(std::count(failures.begin(), failures.end(), reason));
    }
};

/// Installs a default logger that keeps the lines in memory, restoring the previous one afterwards.
class LogCapture {
public:
    LogCapture()
        : m_previous(spdlog::default_logger()), m_sink(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000))
    {
        auto logger = std::make_shared<spdlog::logger>("capture", m_sink);
        logger->set_level(spdlog::level::debug);
        logger->set_pattern("%l %v");
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(m_previous); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::vector<std::string> lines() const { return m_sink->last_formatted(); }
    std::size_t count(std::string_view needle) const
    {
        std::size_t n = 0;
        for (const auto& line : lines()) {
            n += line.find(needle) != std::string::npos ? 1 : 0;
        }
        return n;
    }
    std::string all() const
    {
        std::string text;
        for (const auto& line : lines()) {
            text += line;
        }
        return text;
    }

private:
    std::shared_ptr<spdlog::logger> m_previous;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> m_sink;
};

/// One io_context for the fake, the client and the code under test.
class Harness {
public:
    Harness() : alm(io.get_executor()), client(io.get_executor(), client_options()) {}
    ~Harness()
    {
        client.close();
        alm.stop();
    }

    /// Runs `task` to completion (failing the test after `limit`), and returns its value.
    template <class T>
    T run(asio::awaitable<T> task, std::chrono::milliseconds limit = 10s)
    {
        std::optional<T> value;
        std::exception_ptr error;
        bool done = false;
        asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T v) {
            error = e;
            if (!e) {
                value = std::move(v);
            }
            done = true;
            io.stop();
        });
        drive(done, limit);
        if (error) {
            std::rethrow_exception(error);
        }
        REQUIRE(value.has_value());
        return std::move(*value);
    }

    void run(asio::awaitable<void> task, std::chrono::milliseconds limit = 10s)
    {
        std::exception_ptr error;
        bool done = false;
        asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
            error = e;
            done = true;
            io.stop();
        });
        drive(done, limit);
        if (error) {
            std::rethrow_exception(error);
        }
    }

    c4c::exporters::EndpointConfig endpoint(std::string_view path = "/api/calm-logs/v1/logs") const
    {
        c4c::exporters::EndpointConfig config;
        config.use_case = "business_process_monitoring";
        config.url = alm.url(path);
        config.auth = c4c::exporters::AuthKind::none;
        config.gzip = false;
        config.timeout = 5s;
        return config;
    }

    exporters::ResourceInfo resource(std::string use_case = "business_process_monitoring") const
    {
        return {"acme-prod", "https://my123456.crm.ondemand.com", std::move(use_case)};
    }

    asio::io_context io;
    FakeAlm alm;
    http::Client client;

private:
    static http::ClientOptions client_options()
    {
        http::ClientOptions options;
        options.timeout = 5s;
        options.max_connections = 2;  // as the daemon gives an endpoint: two batches in flight
        return options;
    }

    void drive(bool& done, std::chrono::milliseconds limit)
    {
        bool timed_out = false;
        asio::steady_timer watchdog(io, limit);
        watchdog.async_wait([&](boost::system::error_code ec) {
            if (!ec && !done) {
                timed_out = true;
                io.stop();
            }
        });
        io.restart();
        io.run();
        watchdog.cancel();
        io.restart();
        io.poll();  // let the watchdog's cancellation complete
        io.restart();
        REQUIRE_MESSAGE(!timed_out, "test coroutine did not finish in time");
    }
};

/// Waits on the loop until `predicate` holds or `limit` passes; returns whether it holds.
inline asio::awaitable<bool> eventually(std::function<bool()> predicate, std::chrono::milliseconds limit = 5s)
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!predicate()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            co_return false;
        }
        timer.expires_after(5ms);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return true;
}

inline asio::awaitable<void> pause_for(std::chrono::milliseconds wait)
{
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace exporter_tests
