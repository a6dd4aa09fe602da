#pragma once

// Plain chrono timing and printing shared by the micro-benchmarks. No framework: a benchmark here is a
// pass over prepared input, repeated for a while, of which the fastest pass is reported (other processes
// on the machine only ever make a pass slower).

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

/// CPU seconds (user + system) this process has used.
inline double cpu_seconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

struct Result {
    double seconds = 0;      ///< of the fastest pass
    double cpu_seconds = 0;  ///< CPU time of the fastest pass (beside wall time: the machine may be shared)
    std::size_t items = 0;   ///< what one pass reported having done
    int passes = 0;
};

/// Runs `pass` (returning how many items it processed) until `budget` seconds have gone by (at least
/// three passes) and returns the fastest.
template <class Pass>
Result best_of(double budget, Pass&& pass)
{
    using clock = std::chrono::steady_clock;
    Result best;
    const auto start = clock::now();
    for (;;) {
        const auto t0 = clock::now();
        const double cpu0 = cpu_seconds();
        const std::size_t items = pass();
        const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
        const double cpu = cpu_seconds() - cpu0;
        if (best.passes == 0 || elapsed < best.seconds) {
            best.seconds = elapsed;
            best.items = items;
            best.cpu_seconds = cpu;
        }
        ++best.passes;
        if (best.passes >= 3 && std::chrono::duration<double>(clock::now() - start).count() >= budget) {
            return best;
        }
    }
}

/// One line: label, what, items/s, MB/s of input (when mb > 0), wall and CPU time per item.
inline void print(std::string_view label, std::string_view what, const Result& result, std::size_t items, double mb)
{
    const double rate = static_cast<double>(items) / result.seconds;
    char throughput[32] = "";
    if (mb > 0) {
        std::snprintf(throughput, sizeof throughput, "%8.1f MB/s", mb / result.seconds);
    }
    std::printf("%-22.*s %-26.*s %10.0f items/s %13s %8.2f us/item (CPU %.2f us)\n", static_cast<int>(label.size()),
                label.data(), static_cast<int>(what.size()), what.data(), rate, throughput, 1e6 / rate,
                1e6 * result.cpu_seconds / static_cast<double>(items));
    std::fflush(stdout);
}

/// `--name value` options.
class Args {
public:
    /// Options are `--name value` pairs of the names in `known`; `--help` prints `usage` and exits 0,
    /// anything else prints it and exits 2.
    Args(int argc, char** argv, std::string_view usage, std::initializer_list<std::string_view> known)
        : m_args(argv + 1, argv + argc)
    {
        for (std::size_t i = 0; i < m_args.size(); i += 2) {
            if (m_args[i] == "--help" || m_args[i] == "-h") {
                std::printf("%.*s", static_cast<int>(usage.size()), usage.data());
                std::exit(0);
            }
            bool listed = false;
            for (auto name : known) {
                listed = listed || m_args[i] == name;
            }
            if (!listed || i + 1 >= m_args.size()) {
                std::fprintf(stderr, "%s: %s\n%.*s", argv[0],
                             listed ? ("missing value after " + m_args[i]).c_str()
                                    : ("unknown option " + m_args[i]).c_str(),
                             static_cast<int>(usage.size()), usage.data());
                std::exit(2);
            }
        }
    }

    std::string text(std::string_view name, std::string fallback) const
    {
        for (std::size_t i = 0; i + 1 < m_args.size(); ++i) {
            if (m_args[i] == name) {
                return m_args[i + 1];
            }
        }
        return fallback;
    }
    double number(std::string_view name, double fallback) const
    {
        const std::string value = text(name, "");
        return value.empty() ? fallback : std::strtod(value.c_str(), nullptr);
    }
    /// A comma-separated list of sizes.
    std::vector<std::size_t> list(std::string_view name, std::initializer_list<std::size_t> fallback) const
    {
        const std::string value = text(name, "");
        if (value.empty()) {
            return fallback;
        }
        std::vector<std::size_t> out;
        const char* p = value.c_str();
        while (*p) {
            char* end = nullptr;
            out.push_back(std::strtoul(p, &end, 10));
            p = *end == ',' ? end + 1 : end;
            if (end == p && *p) {
                break;
            }
        }
        return out;
    }

private:
    std::vector<std::string> m_args;
};

}  // namespace bench
