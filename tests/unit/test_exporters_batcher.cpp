#include "exporters/batcher.hpp"
#include "exporters/otlp_json.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <random>

using c4c::exporters::BatchLimits;
using c4c::exporters::OutboxRow;
using c4c::exporters::ResourceInfo;

namespace {

std::vector<OutboxRow> make_rows(std::size_t count, std::size_t payload_bytes)
{
    std::vector<OutboxRow> rows;
    for (std::size_t i = 0; i < count; ++i) {
        OutboxRow row;
        row.seq = static_cast<std::int64_t>(i + 1);
        row.event_id = "id" + std::to_string(i);
        // A JSON object of exactly payload_bytes bytes (at least {"a":""}: 8 bytes).
        row.payload = R"({"a":")" + std::string(payload_bytes - 8, 'x') + R"("})";
        REQUIRE(row.payload.size() == payload_bytes);
        rows.push_back(std::move(row));
    }
    return rows;
}

const ResourceInfo k_resource{"acme-prod", "https://my123456.crm.ondemand.com", "integration_monitoring"};

std::size_t envelope_bytes()
{
    return c4c::exporters::logs_envelope_prefix(k_resource).size() + c4c::exporters::logs_envelope_suffix().size();
}

}  // namespace

TEST_CASE("batcher: max_batch_events")
{
    const auto rows = make_rows(25, 100);
    const BatchLimits limits{10, 1u << 20, envelope_bytes()};
    const auto batches = c4c::exporters::split_batches(rows, limits);
    REQUIRE(batches.size() == 3);
    CHECK(batches[0].size() == 10);
    CHECK(batches[1].size() == 10);
    CHECK(batches[2].size() == 5);
    CHECK(batches[2].front().seq == 21);
    CHECK(c4c::exporters::first_batch_length(rows, limits) == 10);
    CHECK(c4c::exporters::split_batches({}, limits).empty());
}

TEST_CASE("batcher: max_batch_bytes counts the whole body, envelope and commas included")
{
    const std::size_t envelope = envelope_bytes();
    const auto rows = make_rows(10, 100);
    // Exactly three rows fit: envelope + 3*100 + 2 commas.
    const BatchLimits limits{1000, envelope + 302, envelope};
    const auto batches = c4c::exporters::split_batches(rows, limits);
    REQUIRE(batches.size() == 4);
    for (const auto& batch : batches) {
        const std::string body = c4c::exporters::build_logs_body(k_resource, batch);
        CHECK(body.size() == c4c::exporters::logs_body_size(batch, envelope));
        CHECK(body.size() <= limits.max_bytes);
        CHECK(nlohmann::json::parse(body)["resourceLogs"][0]["scopeLogs"][0]["logRecords"].size() == batch.size());
    }
    CHECK(batches[0].size() == 3);
    CHECK(batches[3].size() == 1);

    // One byte less and only two fit.
    const BatchLimits tighter{1000, envelope + 301, envelope};
    CHECK(c4c::exporters::first_batch_length(rows, tighter) == 2);
}

TEST_CASE("batcher: a row larger than max_batch_bytes goes alone")
{
    const std::size_t envelope = envelope_bytes();
    auto rows = make_rows(5, 100);
    rows[2].payload = R"({"a":")" + std::string(5000, 'y') + R"("})";
    const BatchLimits limits{1000, envelope + 1000, envelope};
    const auto batches = c4c::exporters::split_batches(rows, limits);
    REQUIRE(batches.size() == 3);
    CHECK(batches[0].size() == 2);
    CHECK(batches[1].size() == 1);
    CHECK(batches[1].front().seq == 3);
    CHECK(batches[2].size() == 2);

    // Even when the first row alone is too big, it forms a batch.
    const BatchLimits tiny{1000, 10, envelope};
    CHECK(c4c::exporters::split_batches(rows, tiny).size() == rows.size());
}

TEST_CASE("batcher: random rows are all covered, in order, within limits")
{
    std::mt19937 random(7);
    std::vector<OutboxRow> rows;
    for (int i = 0; i < 500; ++i) {
        OutboxRow row;
        row.seq = i;
        row.payload = R"({"a":")" + std::string(random() % 3000, 'z') + R"("})";
        rows.push_back(std::move(row));
    }
    const std::size_t envelope = envelope_bytes();
    const BatchLimits limits{37, envelope + 20000, envelope};
    std::int64_t expected = 0;
    for (const auto& batch : c4c::exporters::split_batches(rows, limits)) {
        CHECK(!batch.empty());
        CHECK(batch.size() <= limits.max_events);
        CHECK((batch.size() == 1 || c4c::exporters::logs_body_size(batch, envelope) <= limits.max_bytes));
        for (const auto& row : batch) {
            CHECK(row.seq == expected++);
        }
    }
    CHECK(expected == 500);
}

TEST_CASE("gzip: round trip, header, garbage and truncation")
{
    std::string text;
    for (int i = 0; i < 20000; ++i) {
        text += R"({"key":"event.id","value":{"stringValue":")" + std::to_string(i) + R"("}},)";
    }
    const std::string packed = c4c::exporters::gzip_compress(text);
    REQUIRE(packed.size() > 18);
    CHECK(static_cast<unsigned char>(packed[0]) == 0x1f);  // gzip magic, not a zlib stream
    CHECK(static_cast<unsigned char>(packed[1]) == 0x8b);
    CHECK(packed.size() < text.size() / 5);
    const auto unpacked = c4c::exporters::gunzip(packed);
    REQUIRE(unpacked);
    CHECK(*unpacked == text);

    CHECK(c4c::exporters::gunzip(c4c::exporters::gzip_compress("")) == std::string());
    CHECK_FALSE(c4c::exporters::gunzip("not gzip at all"));
    CHECK_FALSE(c4c::exporters::gunzip(packed.substr(0, packed.size() / 2)));
    CHECK_FALSE(c4c::exporters::gunzip(packed, 1000));  // larger than allowed

    // Two members decode as their concatenation (RFC 1952).
    const auto both = c4c::exporters::gunzip(c4c::exporters::gzip_compress("ab") + c4c::exporters::gzip_compress("cd"));
    CHECK(both == std::string("abcd"));
}
