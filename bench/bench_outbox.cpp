// The durable outbox: enqueue (events + checkpoint, one SQLite transaction per page) and dequeue, send and
// delete (CloudAlmExporter::drain against the simulator's Cloud ALM sink over loopback), in the daemon's
// own settings (WAL, synchronous=NORMAL, a file under a temporary directory).
//
//   bench_outbox [--events N] [--page-rows N,N] [--batch N,N] [--runs N] [--drain no]
//                [--sink http://127.0.0.1:PORT] [--sim PATH]
//
// Without --sink, c4c-sim is started (--sim, default the one built beside this benchmark) and stopped
// again. The send figure is bounded by whichever side is slower; the CPU seconds of this process are
// printed beside it so that the daemon's own cost per event is visible. Never fails on time.

#include "bench/bench_util.hpp"
#include "exporters/cloud_alm.hpp"
#include "exporters/endpoint_config.hpp"
#include "exporters/otlp_json.hpp"
#include "infra/event.hpp"
#include "infra/http/client.hpp"
#include "infra/state_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef C4C_SIM_BIN
#define C4C_SIM_BIN "c4c-sim"
#endif

extern char** environ;

namespace {

using namespace c4c;
namespace asio = boost::asio;

/// Realistic payloads: business-object events encoded as the daemon stores them (~900 bytes each).
struct Payloads {
    std::vector<std::string> ids;
    std::vector<std::string> json;

    explicit Payloads(std::size_t count)
    {
        for (std::size_t i = 0; i < count; ++i) {
            infra::Event event;
            const std::string object = fmt::format("00163E{:026X}", i * 2654435761u);
            event.id = infra::make_event_id("acme-prod", "business_objects", "OpportunityCollection", object,
                                            static_cast<std::int64_t>(i));
            event.source = "business_objects";
            event.object_type = "OpportunityCollection";
            event.object_id = object;
            event.time_unix_nano = 1'795'600'000'000'000'000 + static_cast<std::int64_t>(i) * 1'000'000;
            event.observed_unix_nano = event.time_unix_nano + 5'000'000'000;
            event.body = fmt::format("Opportunity {} changed: status 2 (In Process)", 1000 + i);
            for (const auto& [key, value] :
                 {std::pair{"sap.c4c.id", fmt::format("{}", 1000 + i)},
                  std::pair{"sap.c4c.status_code", std::string("2")},
                  std::pair{"sap.c4c.status_text", std::string("In Process")},
                  std::pair{"sap.c4c.name", fmt::format("Opportunity {} \u2013 \u00d8stergaard A/S", 1000 + i)},
                  std::pair{"sap.c4c.created_by", std::string("KENJI.SATO")},
                  std::pair{"sap.c4c.last_changed_by", std::string("ANNA.MUELLER")},
                  std::pair{"sap.c4c.creation_time", std::string("2026-11-25T00:58:02.037Z")},
                  std::pair{"sap.c4c.amount", std::string("37148.00")},
                  std::pair{"sap.c4c.currency", std::string("EUR")}}) {
                event.attributes.push_back(infra::Attribute{key, value});
            }
            ids.push_back(event.id);
            json.push_back(exporters::encode_log_record(event));
        }
    }
};

std::filesystem::path fresh_dir(std::string_view name)
{
    auto dir = std::filesystem::temp_directory_path() / fmt::format("c4c-bench-{}-{}", name, ::getpid());
    std::filesystem::remove_all(dir);
    return dir;
}

void fill(infra::StateStore& store, std::int64_t endpoint, const Payloads& payloads, std::size_t page_rows,
          std::size_t offset = 0)
{
    std::vector<infra::PendingEvent> page;
    for (std::size_t first = 0; first < payloads.ids.size(); first += page_rows) {
        page.clear();
        for (std::size_t i = first; i < std::min(first + page_rows, payloads.ids.size()); ++i) {
            page.push_back(
                infra::PendingEvent{payloads.ids[i], static_cast<std::int64_t>(i + offset), payloads.json[i]});
        }
        std::size_t stored = 0;
        if (store.commit_page("acme-prod/business_objects/OpportunityCollection", endpoint, page,
                              std::to_string(first + offset), stored) != infra::CommitResult::committed) {
            throw std::runtime_error("commit_page failed");
        }
    }
}

void bench_enqueue(const Payloads& payloads, std::size_t page_rows, double seconds)
{
    const auto dir = fresh_dir("enqueue");
    int pass = 0;
    bench::Result result = bench::best_of(seconds, [&] {
        // A fresh store per pass (the seen table would otherwise drop every event after the first pass).
        std::filesystem::remove_all(dir);
        infra::StateStore store(dir);
        const auto endpoint = store.endpoint_id("acme-prod", "business_process_monitoring");
        ++pass;
        fill(store, endpoint, payloads, page_rows);
        return payloads.ids.size();
    });
    std::filesystem::remove_all(dir);
    double mb = 0;
    for (const auto& json : payloads.json) {
        mb += static_cast<double>(json.size()) / 1e6;
    }
    bench::print(fmt::format("enqueue {:>4}/page", page_rows), "commit_page (+seen, +ckpt)", result,
                 payloads.ids.size(), mb);
}

struct StoreOutbox final : exporters::Outbox, exporters::DeliveryObserver {
    StoreOutbox(infra::StateStore& store_, std::int64_t id_) : store(store_), id(id_) {}
    std::vector<exporters::OutboxRow> peek(std::size_t max_events, std::size_t max_bytes, std::int64_t after) override
    {
        return store.peek(id, max_events, max_bytes, after);
    }
    bool remove(std::span<const exporters::OutboxRow> rows) override { return store.remove(id, rows); }
    bool reject(const exporters::OutboxRow& row, std::string_view answer) override
    {
        return store.reject(id, row, answer);
    }
    std::size_t size() override { return store.figures(id).events; }
    std::optional<exporters::CompressedRows> peek_compressed(std::size_t max_events, std::size_t max_json_bytes,
                                                             std::int64_t after) override
    {
        return store.peek_compressed(id, max_events, max_json_bytes, after);
    }
    bool remove_compressed(const exporters::CompressedRows& rows) override { return store.remove(id, rows); }
    std::int64_t aligned_end(std::int64_t first_seq, std::int64_t last_seq) override
    {
        return store.aligned_end(id, first_seq, last_seq);
    }
    void sent(std::size_t count, std::chrono::duration<double>) override { delivered += count; }
    void failed(const exporters::SendFailure& reason) override { ++failures, last_failure = reason.label(); }
    void rejected(std::size_t) override {}
    void paused(bool, std::string_view) override {}
    void endpoint_up(bool) override {}

    infra::StateStore& store;
    std::int64_t id;
    std::size_t delivered = 0;
    std::size_t failures = 0;
    std::string last_failure;
};

void bench_drain(const Payloads& payloads, const std::string& sink, std::size_t batch, bool gzip, int runs)
{
    const auto dir = fresh_dir("drain");
    double best_wall = 0;
    double best_cpu = 0;
    std::size_t failures = 0;
    for (int run = 0; run < runs; ++run) {
        std::filesystem::remove_all(dir);
        infra::StateStore store(dir);
        const auto endpoint = store.endpoint_id("acme-prod", "business_process_monitoring");
        // As the daemon does (daemon/runtime.cpp): chunks that fit the endpoint's batches.
        const exporters::ResourceInfo resource{"acme-prod", "http://c4c", "business_process_monitoring"};
        const std::size_t envelope =
            exporters::logs_envelope_prefix(resource).size() + exporters::logs_envelope_suffix().size();
        store.set_chunk_limits(endpoint, batch, exporters::EndpointConfig{}.max_batch_bytes - envelope);
        fill(store, endpoint, payloads, 1000);

        asio::io_context io{1};
        exporters::EndpointConfig config;
        config.use_case = "business_process_monitoring";
        config.url = sink + "/api/calm-logs/v1/logs?useCase=BPM";
        config.max_batch_events = static_cast<int>(batch);
        config.gzip = gzip;
        infra::http::ClientOptions client_options;
        client_options.max_connections = 2;
        infra::http::Client client(io.get_executor(), client_options);
        StoreOutbox outbox(store, endpoint);
        exporters::CloudAlmExporter exporter(io.get_executor(), config,
                                             exporters::ResourceInfo{"acme-prod", "http://c4c", config.use_case},
                                             client, outbox, outbox);
        // The sink keeps what it received; start from an empty one so that every run stores anew.
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                infra::http::Request reset;
                reset.method = infra::http::Method::post;
                reset.url = sink + "/_sim/reset_sink";
                reset.headers = {{"Content-Type", "application/json"}};
                reset.body = "{}";
                co_await client.send(std::move(reset));
            },
            [](std::exception_ptr) {});
        io.run();
        io.restart();
        bool drained = false;
        const double cpu0 = bench::cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        asio::co_spawn(io, exporter.drain(std::chrono::minutes(5)), [&](std::exception_ptr e, bool ok) {
            drained = !e && ok;
            client.close();
        });
        io.run();
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cpu = bench::cpu_seconds() - cpu0;
        if (!drained || outbox.delivered != payloads.ids.size()) {
            std::printf("drain failed: %zu of %zu delivered, %zu failures (last: %s)\n", outbox.delivered,
                        payloads.ids.size(), outbox.failures, outbox.last_failure.c_str());
            std::filesystem::remove_all(dir);
            return;
        }
        failures += outbox.failures;
        if (run == 0 || wall < best_wall) {
            best_wall = wall;
            best_cpu = cpu;
        }
    }
    std::filesystem::remove_all(dir);
    const double n = static_cast<double>(payloads.ids.size());
    std::printf("%-22s %-24s %10.0f items/s  (this process: %.2f us CPU/event = %.0f events per CPU-s)%s\n",
                fmt::format("drain batch {:>5}", batch).c_str(), gzip ? "peek+POST gzip+remove" : "peek+POST+remove",
                n / best_wall, best_cpu / n * 1e6, n / best_cpu,
                failures ? fmt::format(" [{} transient failures]", failures).c_str() : "");
    std::fflush(stdout);
}

/// c4c-sim on 127.0.0.1, stopped when this goes out of scope.
class Sim {
public:
    explicit Sim(const std::string& binary)
    {
        int out[2];
        if (::pipe(out) != 0) {
            throw std::runtime_error("pipe failed");
        }
        std::vector<std::string> args{binary, "--listen", "127.0.0.1:0", "--quiet", "--objects", "1"};
        std::vector<char*> argv;
        for (auto& arg : args) {
            argv.push_back(arg.data());
        }
        argv.push_back(nullptr);
        // fork + exec rather than posix_spawn: the child asks to be killed when this process dies, so a
        // benchmark stopped by a signal (^C, a closed pipe) leaves no simulator behind.
        m_pid = ::fork();
        if (m_pid < 0) {
            throw std::runtime_error("cannot start " + binary);
        }
        if (m_pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::dup2(out[1], 1);
            ::close(out[0]);
            ::close(out[1]);
            ::execv(binary.c_str(), argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        std::string line;
        char c = 0;
        while (::read(out[0], &c, 1) == 1 && c != '\n') {
            line.push_back(c);
        }
        ::close(out[0]);
        const auto at = line.find("http://");
        if (at == std::string::npos) {
            throw std::runtime_error("c4c-sim did not start: " + line);
        }
        url = line.substr(at);
    }
    ~Sim()
    {
        ::kill(m_pid, SIGTERM);
        int status = 0;
        ::waitpid(m_pid, &status, 0);
    }
    Sim(const Sim&) = delete;
    Sim& operator=(const Sim&) = delete;

    std::string url;

private:
    pid_t m_pid = 0;
};

}  // namespace

int main(int argc, char** argv)
{
    spdlog::set_level(spdlog::level::warn);
    const bench::Args args(
        argc, argv,
        "usage: bench_outbox [--seconds 1] [--events 100000] [--page-rows 100,1000] [--drain yes|no]\n"
        "                    [--sink http://127.0.0.1:PORT | --sim PATH] [--runs 3] [--batch 100,1000,5000]\n",
        {"--seconds", "--events", "--page-rows", "--drain", "--sink", "--sim", "--runs", "--batch"});
    const double seconds = args.number("--seconds", 1.0);
    const auto events = static_cast<std::size_t>(args.number("--events", 100'000));
    const Payloads payloads(events);
    std::printf("bench_outbox: %zu events of ~%zu bytes, state store under %s\n", events, payloads.json[0].size(),
                std::filesystem::temp_directory_path().c_str());
    for (auto rows : args.list("--page-rows", {100, 1000})) {
        bench_enqueue(payloads, rows, seconds);
    }

    if (args.text("--drain", "yes") == "no") {
        return 0;
    }
    std::optional<Sim> sim;
    std::string sink = args.text("--sink", "");
    if (sink.empty()) {
        sim.emplace(args.text("--sim", C4C_SIM_BIN));
        sink = sim->url;
    }
    const int runs = static_cast<int>(args.number("--runs", 3));
    for (auto batch : args.list("--batch", {100, 1000, 5000})) {
        bench_drain(payloads, sink, batch, true, runs);
    }
    bench_drain(payloads, sink, 1000, false, runs);
    return 0;
}
