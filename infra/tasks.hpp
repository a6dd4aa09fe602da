#pragma once

// A group of coroutines spawned on the event loop that can be cancelled together and awaited with a
// deadline. A task that ends with an exception is logged with its name (never silently detached).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <string>

namespace c4c::infra {

/// Waits `duration` on the calling coroutine's executor: true when it passed, false when cancelled.
boost::asio::awaitable<bool> sleep_for(std::chrono::steady_clock::duration duration);
/// True when the calling coroutine has been asked to stop (its cancellation state).
boost::asio::awaitable<bool> cancelled();

class TaskGroup {
public:
    explicit TaskGroup(std::string name) : m_name(std::move(name)) {}
    ~TaskGroup();
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;

    /// Starts `task` on `executor` with its own cancellation slot.
    void spawn(const boost::asio::any_io_executor& executor, std::string name, boost::asio::awaitable<void> task);
    /// Emits terminal cancellation to every running task.
    void cancel_all();
    /// Waits until every task ended (true) or `timeout` passed (false).
    boost::asio::awaitable<bool> wait(std::chrono::milliseconds timeout);
    /// Tasks still running.
    std::size_t live() const;

private:
    struct Task {
        std::string name;
        boost::asio::cancellation_signal signal;
        bool done = false;
    };
    std::string m_name;
    std::shared_ptr<std::list<Task>> m_tasks = std::make_shared<std::list<Task>>();
};

}  // namespace c4c::infra
