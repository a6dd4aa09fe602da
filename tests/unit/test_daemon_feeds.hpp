#pragma once

// Feeds that exist only in the daemon's tests, added the way a real one is (a collector and its
// CollectorKind, one row in the table the daemon is given): each poll stores one event, its body the
// configured word and the poll's number, numbered on from the feed's checkpoint.

#include "collectors/collector.hpp"
#include "daemon/config.hpp"
#include "infra/config_reader.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace c4c::daemon::test {

/// What a test feed is called and configured by.
struct WordFeed {
    std::string_view name;          ///< the source and its feed: [tenants.sources.<name>]
    std::string_view use_case;      ///< the endpoint it feeds: [tenants.endpoints.<use_case>]
    std::string_view key;           ///< its one key of its own (not empty)
    std::string_view default_word;  ///< the key's default
    std::string_view object_type;   ///< of its events
};

/// A test feed's settings: the value of its key.
struct WordSettings {
    std::string word;

    friend bool operator==(const WordSettings&, const WordSettings&) = default;
};

/// What the collectors of one feed did, per tenant (the loop's thread only).
struct PollLog {
    std::map<std::string, int> polls;
    std::map<std::string, std::vector<const void*>> collectors;  ///< each collector that polled, in order
};

/// The poll log of `feed`.
template <const WordFeed& feed>
inline PollLog poll_log;

template <const WordFeed& feed>
class WordCollector final : public collectors::Collector {
public:
    boost::asio::awaitable<collectors::PollOutcome> poll(collectors::PollContext& context) override
    {
        const std::string tenant(context.tenant);
        ++poll_log<feed>.polls[tenant];
        auto& seen = poll_log<feed>.collectors[tenant];
        if (seen.empty() || seen.back() != this) {
            seen.push_back(this);
        }
        const auto previous = context.store.checkpoint(feed.name);
        const int number = previous.empty() ? 1 : std::stoi(previous) + 1;
        const auto now_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(context.now.time_since_epoch()).count();
        infra::Event event;
        event.id = infra::make_event_id(context.tenant, feed.name, feed.object_type, std::to_string(number), now_ns);
        event.source = context.source.name;
        event.object_type = std::string(feed.object_type);
        event.object_id = std::to_string(number);
        event.time_unix_nano = now_ns;
        event.observed_unix_nano = now_ns;
        event.body = context.source.settings.get<WordSettings>().word + " #" + std::to_string(number);
        collectors::PollOutcome outcome;
        outcome.records = 1;
        std::size_t stored = 0;
        const std::vector<infra::Event> events{event};
        const std::string checkpoint = std::to_string(number);
        outcome.ok = context.store.commit(feed.name, collectors::FeedPage{events, {}, checkpoint, now_ns}, stored) ==
                     collectors::CommitStatus::committed;
        outcome.stored = stored;
        co_return outcome;
    }
};

template <const WordFeed& feed>
collectors::SourceSettings read_word_settings(infra::ConfigReader& reader, infra::ConfigSection& section)
{
    WordSettings settings{std::string(feed.default_word)};
    reader.read(section, feed.key, settings.word, infra::checks::not_empty);
    return settings;
}

template <const WordFeed& feed>
std::unique_ptr<collectors::Collector> make_word_collector(const collectors::SourceConfig& /*config*/)
{
    return std::make_unique<WordCollector<feed>>();
}

/// The row of `feed` in a collector table.
template <const WordFeed& feed>
inline const collectors::CollectorKind word_feed_kind{
    .name = feed.name,
    .use_case = feed.use_case,
    .defaults = {.interval = std::chrono::seconds(60),
                 .page_size = 10,
                 .lookback = std::chrono::hours(1),
                 .overlap = std::chrono::minutes(0)},
    .read_settings = &read_word_settings<feed>,
    .make = &make_word_collector<feed>,
    .failed_items = std::nullopt,
};

/// The production feeds and a test's own.
class TestRegistry {
public:
    explicit TestRegistry(const collectors::CollectorKind& own)
        : m_collectors(collectors::collector_kinds().begin(), collectors::collector_kinds().end())
    {
        m_collectors.push_back(&own);
    }
    Registry registry() const { return Registry{.collectors = m_collectors}; }

private:
    std::vector<const collectors::CollectorKind*> m_collectors;
};

}  // namespace c4c::daemon::test
