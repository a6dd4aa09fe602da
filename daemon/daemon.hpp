#pragma once

// The daemon: owns the event loop and wires configuration, state store, collectors, exporters and
// the self-monitoring server together.
//
// Thread model: ONE io_context on ONE thread (the loop) runs all of the daemon's own work (polls,
// deliveries, the HTTP server, signals, the systemd watchdog); no other thread touches the daemon's
// objects. SQLite calls are made inline from the loop: in WAL mode with synchronous=NORMAL a page-sized
// commit is a few writes without fsync, far below the poll and send latencies around it. The state
// store (infra/state_store.hpp) runs two threads of its own behind its interface and synchronizes with
// them inside it: a packing thread that deflates a large page while the loop inserts its ids (the job
// is handed over under a mutex; the loop waits for its future before commit_page returns), and a WAL
// checkpointer with its own SQLite connection (the loop wakes it through a mutex-guarded flag and
// collects its failures from an atomic; past 4000 WAL frames the loop takes the checkpointer's mutex
// and completes a checkpoint itself). So the loop takes locks only inside the state store.
//
// Tasks: every source of every tenant is a periodic coroutine (interval, initial jitter, error
// backoff); every endpoint is a delivery coroutine woken when a page is committed. Each tenant's tasks
// are spawned in its own group with a cancellation slot; shutdown, and a reload for the tenants whose
// configuration changed, emit terminal cancellation, close the HTTP clients and wait at most
// `shutdown_timeout` for the tasks to end. A reload builds the new and changed tenants before it stops
// anything and keeps the running set when that fails; unchanged tenants run on untouched. Nothing is
// lost by abandoning work: an event leaves the outbox only after a 2xx, and a checkpoint moves only
// together with its page.
//
// Files: runtime.{hpp,cpp} (each tenant's running objects and their adapters to the state store),
// tenant_set.{hpp,cpp} (the running tenants: build, start, stop, reload),
// scheduler.{hpp,cpp} (one poll, the periodic poll loop), dry_run_store.{hpp,cpp} (`--once --dry-run`),
// health_snapshot.{hpp,cpp} (what Health Monitoring is sent), config.{hpp,cpp} (the configuration),
// daemon.cpp (set-up, service tasks, reload, shutdown, `--once`).

#include "daemon/config.hpp"

#include <memory>

namespace c4c::daemon {

struct RunOptions {
    bool once = false;     ///< poll every source once, deliver, exit
    bool dry_run = false;  ///< with once: print events as JSON Lines, send nothing, change no state
};

class Daemon {
public:
    /// `registry`: the feeds and kinds of endpoint it can run (those `config` was loaded with).
    Daemon(Config config, RunOptions options, Registry registry = {});
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    /// Runs until SIGTERM/SIGINT (or, with `once`, until polled and delivered). Returns the exit code:
    /// 0 on a clean stop (once: everything accepted), 1 when `once` left something undelivered.
    /// Throws std::runtime_error for start-up failures (state store, listen address).
    int run();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace c4c::daemon
