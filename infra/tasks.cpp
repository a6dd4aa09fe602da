#include "infra/tasks.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace c4c::infra {

namespace asio = boost::asio;

asio::awaitable<bool> sleep_for(std::chrono::steady_clock::duration duration)
{
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !ec;
}

asio::awaitable<bool> cancelled()
{
    auto state = co_await asio::this_coro::cancellation_state;
    co_return state.cancelled() != asio::cancellation_type::none;
}

TaskGroup::~TaskGroup()
{
    cancel_all();
}

void TaskGroup::spawn(const asio::any_io_executor& executor, std::string name, asio::awaitable<void> task)
{
    // Forget finished tasks so a long-running group does not grow.
    m_tasks->remove_if([](const Task& t) { return t.done; });
    auto& entry = m_tasks->emplace_back();
    entry.name = std::move(name);
    std::weak_ptr<std::list<Task>> tasks = m_tasks;
    Task* slot_owner = &entry;
    asio::co_spawn(
        executor, std::move(task),
        asio::bind_cancellation_slot(entry.signal.slot(), [tasks, slot_owner](const std::exception_ptr& error) {
            auto alive = tasks.lock();
            const std::string task_name = alive ? slot_owner->name : std::string("task");
            if (alive) {
                slot_owner->done = true;
            }
            if (!error) {
                return;
            }
            try {
                std::rethrow_exception(error);
            } catch (const boost::system::system_error& e) {
                if (e.code() != asio::error::operation_aborted) {
                    spdlog::error("task '{}' ended with an error: {}", task_name, e.what());
                }
            } catch (const std::exception& e) {
                spdlog::error("task '{}' ended with an error: {}", task_name, e.what());
            }
        }));
}

void TaskGroup::cancel_all()
{
    for (auto& task : *m_tasks) {
        if (!task.done) {
            task.signal.emit(asio::cancellation_type::terminal);
        }
    }
}

asio::awaitable<bool> TaskGroup::wait(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (live() > 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            co_return false;
        }
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
            co_return live() == 0;
        }
    }
    co_return true;
}

std::size_t TaskGroup::live() const
{
    return static_cast<std::size_t>(
        std::count_if(m_tasks->begin(), m_tasks->end(), [](const Task& t) { return !t.done; }));
}

}  // namespace c4c::infra
