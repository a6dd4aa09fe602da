#include "collectors/webservice_messages.hpp"

#include "collectors/c4c_request.hpp"
#include "collectors/tenant_clock.hpp"
#include "infra/config_reader.hpp"
#include "infra/time.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <unordered_set>
#include <utility>
#include <vector>

namespace c4c::collectors {

namespace asio = boost::asio;
using Clock = std::chrono::system_clock;

namespace {

constexpr std::size_t k_body_note_max_bytes = 512;

/// Cuts `text` to at most `max_bytes`, at a UTF-8 character boundary, marking the cut with an ellipsis.
void truncate_utf8(std::string& text, std::size_t max_bytes)
{
    constexpr std::string_view k_ellipsis = "\xE2\x80\xA6";
    if (text.size() <= max_bytes) {
        return;
    }
    std::size_t cut = max_bytes > k_ellipsis.size() ? max_bytes - k_ellipsis.size() : 0;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
        --cut;
    }
    text.resize(cut);
    text.append(k_ellipsis);
}

std::string_view direction_word(std::string_view code)
{
    if (code == "1") {
        return "outbound";
    }
    if (code == "2") {
        return "inbound";
    }
    return {};
}

std::string status_name(const soap::Message& message)
{
    if (!message.status_text.empty()) {
        return message.status_text;
    }
    switch (message.status_code) {
    case soap::k_waiting:
        return "Waiting";
    case soap::k_in_process:
        return "In Process";
    case soap::k_successful:
        return "Successful";
    case soap::k_failed:
        return "Failed";
    case soap::k_cancelled:
        return "Cancelled";
    case 0:
        return {};
    default:
        return fmt::format("status {}", message.status_code);
    }
}

std::string severity_word(int code)
{
    switch (code) {
    case soap::k_information:
        return "info";
    case soap::k_warning:
        return "warning";
    case soap::k_error:
        return "error";
    default:
        return fmt::format("severity {}", code);
    }
}

/// The note that best explains the message: the first error, else the first warning.
const soap::LogItem* headline_item(const soap::Message& message)
{
    for (int wanted : {static_cast<int>(soap::k_error), static_cast<int>(soap::k_warning)}) {
        for (const auto& item : message.log_items) {
            if (item.severity_code == wanted && !item.note.empty()) {
                return &item;
            }
        }
    }
    return nullptr;
}

std::string log_text(const std::vector<soap::LogItem>& items)
{
    std::string text;
    for (const auto& item : items) {
        if (!text.empty()) {
            text += "; ";
        }
        text += '[';
        text += severity_word(item.severity_code);
        text += ']';
        if (!item.type_id.empty()) {
            text += ' ';
            text += item.type_id;
        }
        if (!item.note.empty()) {
            text += ' ';
            text += item.note;
        }
        if (text.size() > k_message_log_max_bytes) {
            break;
        }
    }
    truncate_utf8(text, k_message_log_max_bytes);
    return text;
}

void add_string(Event& event, std::string_view key, std::string value)
{
    if (!value.empty()) {
        event.attributes.push_back(Attribute{key, std::move(value)});
    }
}

PollOutcome soap_fault_outcome(const PollContext& context, std::string_view what)
{
    PollOutcome outcome;
    outcome.ok = false;
    outcome.reason = FailureReason::Kind::soap_fault;
    outcome.message = fmt::format("tenant {} source {}: {}; check the source path ({}) and the communication "
                                  "arrangement's web service; nothing from this page was stored",
                                  context.tenant, context.source.name, what,
                                  context.source.settings.get<WebserviceMessagesSettings>().path);
    return outcome;
}

std::string query_log_summary(const soap::QueryPage& page)
{
    std::string text;
    for (const auto& item : page.log_items) {
        if (item.severity_code >= soap::k_error && !item.note.empty()) {
            if (!text.empty()) {
                text += "; ";
            }
            text += item.type_id.empty() ? item.note : fmt::format("{} {}", item.type_id, item.note);
        }
    }
    truncate_utf8(text, k_body_note_max_bytes);
    return text.empty() ? std::string("(no note)") : text;
}

QuarantineReason quarantine_reason(soap::BadMessage::Problem problem)
{
    switch (problem) {
    case soap::BadMessage::Problem::missing_id:
        return QuarantineReason::missing_key;
    case soap::BadMessage::Problem::invalid_time:
        return QuarantineReason::invalid_time;
    case soap::BadMessage::Problem::invalid_value:
        return QuarantineReason::invalid_value;
    }
    return QuarantineReason::invalid_value;
}

QuarantinedRecord quarantined(soap::BadMessage bad)
{
    return QuarantinedRecord{quarantine_reason(bad.problem), std::move(bad.id), std::move(bad.message),
                             std::move(bad.raw)};
}

std::optional<std::int64_t> checkpoint_time_ns(std::optional<Clock::time_point> checkpoint)
{
    if (!checkpoint) {
        return std::nullopt;
    }
    return infra::unix_nanos(*checkpoint);
}

asio::awaitable<PollOutcome> poll_pages(PollContext& context)
{
    const std::string old_checkpoint = context.store.checkpoint(k_messages_feed);
    const auto checkpoint = parse_messages_checkpoint(old_checkpoint);
    if (!old_checkpoint.empty() && !checkpoint) {
        spdlog::warn("tenant {} source {}: stored checkpoint '{}' is unreadable; reading from now - lookback",
                     context.tenant, context.source.name, old_checkpoint);
    }
    auto interval = query_interval(checkpoint, tenant_now(context), context.source.lookback, context.source.overlap);
    const std::string url = context.c4c.url + context.source.settings.get<WebserviceMessagesSettings>().path;

    PollOutcome outcome;
    std::optional<Clock::time_point> tenant_sent;  // of the first page
    std::optional<Clock::time_point> newest;
    std::string last_returned_id;
    // A backfill window is one query interval, paged like any other; its cursor is the page's
    // LastReturnedObjectID, from which the same query resumes.
    std::optional<std::int64_t> window_end_ns;
    if (context.window) {
        interval = QueryInterval{std::chrono::floor<std::chrono::milliseconds>(context.window->from),
                                 std::chrono::floor<std::chrono::milliseconds>(context.window->to)};
        window_end_ns = infra::unix_nanos(context.window->to);
        last_returned_id = parse_messages_window_cursor(old_checkpoint).value_or(std::string());
    }
    std::unordered_set<std::string> returned_ids;
    for (int page_number = 1;; ++page_number) {
        if (!context.store.accepting()) {
            co_return with_progress(commit_failure(context, CommitStatus::outbox_full), outcome);
        }
        infra::http::Request request;
        request.method = infra::http::Method::post;
        request.url = url;
        request.headers = {
            {"Content-Type", "text/xml; charset=utf-8"},
            {"SOAPAction", fmt::format("\"{}\"", soap::k_soap_action)},
            {"Accept", "text/xml"},
        };
        request.body =
            soap::build_query_request(interval.lower, interval.upper, context.source.page_size, last_returned_id);
        auto reply = co_await c4c_request(context, std::move(request));
        const std::string where = fmt::format("{} (page {})", url, page_number);
        if (page_number == 1) {
            tenant_sent = reply.tenant_sent;
        }

        if (!reply.ok) {
            // SOAP 1.1 answers faults with HTTP 500; their text says more than the status.
            if (!reply.auth_failed && reply.response.status != 0 && !reply.response.body.empty()) {
                const auto parsed = soap::parse_query_response_in_place(reply.response.body);
                if (!parsed && parsed.error().kind == soap::ParseError::Kind::fault) {
                    co_return with_progress(
                        soap_fault_outcome(context, fmt::format("{} answered HTTP {} with {}", where,
                                                                reply.response.status, parsed.error().message)),
                        outcome);
                }
            }
            co_return with_progress(failed_outcome(context, reply), outcome);
        }

        auto parsed = soap::parse_query_response_in_place(reply.response.body);
        reply.response.body = std::string();
        if (!parsed) {
            const auto& error = parsed.error();
            co_return with_progress(
                error.kind == soap::ParseError::Kind::fault
                    ? soap_fault_outcome(context, fmt::format("{} answered with {}", where, error.message))
                    : parse_failure(context, where, error.message),
                outcome);
        }
        const soap::QueryPage& page = *parsed;

        // An A2X query reports a refused selection in the response's own Log, without any message; taking
        // that for an empty interval would advance the checkpoint over data never read.
        if (page.messages.empty() && page.bad_messages.empty() && page.max_log_severity >= soap::k_error) {
            co_return with_progress(soap_fault_outcome(context, fmt::format("{} reported an error for the query: {}",
                                                                            where, query_log_summary(page))),
                                    outcome);
        }
        // A tenant that claims more hits without making progress would keep this loop going forever.
        if (page.more_hits) {
            std::string_view problem;
            if (page.messages.empty() && page.bad_messages.empty()) {
                problem = "MoreHitsAvailableIndicator is true but the page holds no message";
            } else if (page.last_returned_id.empty()) {
                problem = "MoreHitsAvailableIndicator is true but LastReturnedObjectID is empty";
            } else if (!returned_ids.insert(page.last_returned_id).second) {
                problem = "LastReturnedObjectID repeats an earlier page";
            }
            if (!problem.empty()) {
                co_return with_progress(parse_failure(context, where,
                                                      fmt::format("{} (LastReturnedObjectID '{}'); paging stopped",
                                                                  problem, page.last_returned_id)),
                                        outcome);
            }
        }

        const auto observed = infra::unix_nanos(Clock::now());
        std::vector<Event> events;
        events.reserve(page.messages.size());
        for (const auto& message : page.messages) {
            if (window_end_ns && message.last_change_time_ns >= *window_end_ns) {
                continue;  // the query's upper bound is inclusive, the window's is not
            }
            events.push_back(normalize_message(context.tenant, message, observed));
            const Clock::time_point changed{
                std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(message.last_change_time_ns))};
            newest = std::max(newest.value_or(changed), changed);
            if (message.status_code == soap::k_failed) {
                ++outcome.failed_messages;
            }
        }
        std::vector<QuarantinedRecord> bad;
        bad.reserve(page.bad_messages.size());
        for (auto& message : page.bad_messages) {
            bad.push_back(quarantined(message));
        }
        outcome.records += page.messages.size() + bad.size();

        const bool last_page = !page.more_hits;
        std::string new_checkpoint = old_checkpoint;
        std::optional<std::int64_t> new_checkpoint_ns = checkpoint_time_ns(checkpoint);
        if (window_end_ns) {
            new_checkpoint = last_page ? std::string("end") : "after=" + page.last_returned_id;
            new_checkpoint_ns = std::nullopt;
        } else if (last_page) {
            // Without a TenantClock (tests, tools) the host's clock is the tenant's.
            const auto end = context.clock != nullptr ? interval_checkpoint(interval, tenant_sent, newest)
                                                      : std::optional<Clock::time_point>(interval.upper);
            if (end) {
                new_checkpoint = soap::format_iso8601_ms(*end);
                new_checkpoint_ns = checkpoint_time_ns(parse_messages_checkpoint(new_checkpoint));
            }
        }
        std::size_t stored = 0;
        const auto status =
            context.store.commit(k_messages_feed, FeedPage{events, bad, new_checkpoint, new_checkpoint_ns}, stored);
        if (status != CommitStatus::committed) {
            co_return with_progress(commit_failure(context, status), outcome);
        }
        outcome.stored += stored;
        spdlog::debug("tenant {} source {}: page {}: {} messages, {} new events{}", context.tenant, context.source.name,
                      page_number, page.messages.size(), stored,
                      last_page ? fmt::format(", checkpoint {}", new_checkpoint) : std::string());
        if (last_page) {
            co_return outcome;
        }
        last_returned_id = page.last_returned_id;
    }
}

}  // namespace

Event normalize_message(std::string_view tenant, const soap::Message& message, std::int64_t observed_unix_nano)
{
    Event event;
    event.id = make_event_id(tenant, k_source_webservice_messages, k_message_object_type, message.id,
                             message.last_change_time_ns);
    event.source = k_source_webservice_messages;
    event.object_type = k_message_object_type;
    event.object_id = message.id;
    event.time_unix_nano = message.last_change_time_ns;
    event.observed_unix_nano = observed_unix_nano;

    if (message.status_code == soap::k_failed || message.status_code == soap::k_cancelled ||
        message.max_log_severity >= soap::k_error) {
        event.severity = Severity::error;
    } else if (message.max_log_severity == soap::k_warning) {
        event.severity = Severity::warn;
    }

    const auto direction = direction_word(message.direction_code);
    const auto status = status_name(message);
    event.body = message.service_interface.empty() ? fmt::format("web-service message {}", message.id)
                                                   : message.service_interface;
    if (!direction.empty()) {
        event.body += ' ';
        event.body += direction;
    }
    if (!message.sender_system.empty() || !message.receiver_system.empty()) {
        event.body += fmt::format(" {} -> {}", message.sender_system.empty() ? "?" : message.sender_system,
                                  message.receiver_system.empty() ? "?" : message.receiver_system);
    }
    if (!status.empty()) {
        event.body += ": ";
        event.body += status;
    }
    if (const auto* item = headline_item(message)) {
        std::string note = item->note;
        truncate_utf8(note, k_body_note_max_bytes);
        event.body += ": ";
        event.body += note;
    }

    event.attributes.reserve(10);
    add_string(event, "sap.c4c.message.status_code",
               message.status_code != 0 ? std::to_string(message.status_code) : std::string());
    add_string(event, "sap.c4c.message.status_text", status);
    add_string(event, "sap.c4c.message.direction", std::string(direction));
    add_string(event, "sap.c4c.message.direction_code", message.direction_code);
    add_string(event, "sap.c4c.message.service_interface", message.service_interface);
    add_string(event, "sap.c4c.message.sender_system", message.sender_system);
    add_string(event, "sap.c4c.message.receiver_system", message.receiver_system);
    if (message.creation_time_ns) {
        add_string(event, "sap.c4c.message.creation_time", soap::format_iso8601_ns(*message.creation_time_ns));
    }
    if (message.max_log_severity > 0) {
        event.attributes.push_back(
            Attribute{"sap.c4c.message.max_log_severity", std::int64_t{message.max_log_severity}});
    }
    add_string(event, "sap.c4c.message.log", log_text(message.log_items));
    return event;
}

Normalized normalize_message_raw(std::string_view tenant, std::string_view raw, std::int64_t observed_unix_nano)
{
    auto message = soap::parse_message(raw);
    if (!message) {
        return quarantined(message.error());
    }
    return normalize_message(tenant, *message, observed_unix_nano);
}

QueryInterval query_interval(std::optional<Clock::time_point> checkpoint, Clock::time_point now,
                             std::chrono::milliseconds lookback, std::chrono::milliseconds overlap)
{
    const Clock::time_point upper = std::chrono::floor<std::chrono::milliseconds>(now);
    if (!checkpoint) {
        return {upper - lookback, upper};
    }
    const Clock::time_point from = std::chrono::floor<std::chrono::milliseconds>(*checkpoint);
    return {std::min(from, upper) - overlap, upper};
}

std::optional<Clock::time_point> interval_checkpoint(const QueryInterval& interval,
                                                     std::optional<Clock::time_point> tenant_sent,
                                                     std::optional<Clock::time_point> newest)
{
    const std::optional<Clock::time_point> tenant = tenant_sent ? tenant_sent : newest;
    if (!tenant) {
        return std::nullopt;
    }
    return std::chrono::floor<std::chrono::milliseconds>(std::min(interval.upper, *tenant));
}

std::optional<std::string> parse_messages_window_cursor(std::string_view cursor)
{
    constexpr std::string_view k_prefix = "after=";
    if (!cursor.starts_with(k_prefix) || cursor.size() == k_prefix.size()) {
        return std::nullopt;
    }
    return std::string(cursor.substr(k_prefix.size()));
}

std::optional<Clock::time_point> parse_messages_checkpoint(std::string_view checkpoint)
{
    const auto ns = soap::parse_iso8601_ns(checkpoint);
    if (!ns) {
        return std::nullopt;
    }
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(*ns)));
}

asio::awaitable<PollOutcome> WebServiceMessagesCollector::poll(PollContext& context)
{
    try {
        co_return co_await poll_pages(context);
    } catch (const std::exception& e) {
        PollOutcome outcome;
        outcome.ok = false;
        outcome.reason = FailureReason::Kind::internal;
        outcome.message = fmt::format("tenant {} source {}: unexpected error: {}; the poll is retried", context.tenant,
                                      context.source.name, e.what());
        co_return outcome;
    }
}

std::unique_ptr<Collector> make_webservice_messages_collector(const SourceConfig& /*config*/)
{
    return std::make_unique<WebServiceMessagesCollector>();
}

namespace {

SourceSettings read_webservice_messages_settings(infra::ConfigReader& reader, infra::ConfigSection& section)
{
    WebserviceMessagesSettings settings;
    reader.read(section, "path", settings.path, [](const std::string& path) {
        return path.starts_with('/') ? std::string() : "must start with \"/\"";
    });
    return settings;
}

}  // namespace

namespace {

Renormalized renormalize_message(const RenormalizeContext& context, std::string_view raw)
{
    return Renormalized{normalize_message_raw(context.tenant, raw, context.observed_unix_nano), {}};
}

}  // namespace

const CollectorKind k_webservice_messages_kind{
    .name = k_source_webservice_messages,
    .use_case = "integration_monitoring",
    .defaults = {.interval = std::chrono::seconds(60),
                 .page_size = 500,
                 .lookback = std::chrono::hours(24),
                 .overlap = std::chrono::minutes(2)},
    .read_settings = &read_webservice_messages_settings,
    .make = &make_webservice_messages_collector,
    .failed_items = FailedItemsMetric{.name = "c4c.webservice_messages.failed",
                                      .description = "Web-service messages seen in status Failed",
                                      .unit = "{message}"},
    .checkpoint_instant = &parse_messages_checkpoint,
    .renormalize = &renormalize_message,
};

}  // namespace c4c::collectors
