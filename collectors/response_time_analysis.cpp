#include "collectors/response_time_analysis.hpp"

#include "collectors/c4c_request.hpp"
#include "collectors/odata_page.hpp"
#include "collectors/sap_time_zones.hpp"
#include "collectors/tenant_clock.hpp"
#include "infra/config_reader.hpp"
#include "infra/logging.hpp"
#include "infra/text.hpp"
#include "infra/time.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace c4c::collectors {

void throw_exception_from_error(const RtaParseError& error, const boost::source_location&)
{
    throw std::runtime_error(error.message);
}

namespace {

using json = nlohmann::json;

constexpr const char* k_object_type = "ResponseTimeAnalysis";
// Beyond this, nanoseconds since the epoch no longer fit an int64 (year 2262).
constexpr std::int64_t k_max_unix_seconds = std::numeric_limits<std::int64_t>::max() / 1'000'000'000;

RtaParseError rta_error(RtaErrc code, std::string message)
{
    return RtaParseError{code, std::move(message)};
}

// A text field: absent or null is empty; a number is taken in its JSON form (IDs sent unquoted).
bool text_field(const json& row, const char* name, std::string& out)
{
    const auto it = row.find(name);
    if (it == row.end() || it->is_null()) {
        out.clear();
        return true;
    }
    if (it->is_string()) {
        out = it->get_ref<const std::string&>();
        return true;
    }
    if (it->is_number()) {
        out = it->dump();
        return true;
    }
    return false;
}

// A key figure: a JSON number or a numeric string ("246.000"); absent, null or "" is no value.
bool key_figure(const json& row, const char* name, std::optional<double>& out, std::string& bad)
{
    out.reset();
    const auto it = row.find(name);
    if (it == row.end() || it->is_null()) {
        return true;
    }
    if (it->is_number()) {
        out = it->get<double>();
        return true;
    }
    if (!it->is_string()) {
        bad = it->type_name();
        return false;
    }
    const std::string_view text = infra::trim_blanks(it->get_ref<const std::string&>());
    if (text.empty()) {
        return true;
    }
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
        bad = fmt::format("'{}'", infra::printable(text));
        return false;
    }
    out = value;
    return true;
}

std::optional<std::uint64_t> parse_count(const json& value)
{
    if (value.is_number_unsigned()) {
        return value.get<std::uint64_t>();
    }
    if (!value.is_string()) {
        return std::nullopt;
    }
    const std::string_view text = infra::trim_blanks(value.get_ref<const std::string&>());
    std::uint64_t count = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return count;
}

std::string format_ms(double value)
{
    // Shortest form that reads back exactly: 1228, 12.5.
    return fmt::format("{}", value);
}

std::int64_t to_seconds_ceil(infra::Duration d)
{
    return std::chrono::ceil<std::chrono::seconds>(d).count();
}

std::optional<std::int64_t> parse_checkpoint(std::string_view text)
{
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0) {
        return std::nullopt;
    }
    return value;
}

// False when arrays and objects nest deeper than `limit`. Exact for well-formed JSON; on anything else
// the parser reports an error anyway.
bool nesting_within(std::string_view text, int limit)
{
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) {
                return false;
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

struct RowProblem {
    QuarantinedRecord record;
    bool zone_unreadable = false;  ///< the tz database failed: not the record's fault, the poll fails instead
};

std::optional<RowProblem> row_problem(QuarantineReason reason, const RtaRow& row, std::string detail)
{
    return RowProblem{QuarantinedRecord{reason, row.step_id, std::move(detail), {}}, false};
}

// One element of d.results (1-based `index`, for messages) into `row`, or why it cannot be normalized.
// Messages name the row by CSTEP_ID, never by its user.
std::optional<RowProblem> parse_row(const json& item, std::size_t index, RtaRow& row)
{
    if (!item.is_object()) {
        return row_problem(QuarantineReason::invalid_value, row, fmt::format("row {}: not an object", index));
    }
    struct TextField {
        const char* name;
        std::string* target;
    };
    // CSTEP_ID first: it names the row in the messages below.
    for (const TextField field :
         {TextField{"CSTEP_ID", &row.step_id}, TextField{"CUSER", &row.user},
          TextField{"CUI_COMPONENT", &row.ui_component}, TextField{"TUI_COMPONENT", &row.ui_component_text}}) {
        if (!text_field(item, field.name, *field.target)) {
            return row_problem(QuarantineReason::invalid_value, row,
                               fmt::format("row {} (CSTEP_ID '{}'): {} is not a string", index,
                                           infra::printable(row.step_id), field.name));
        }
    }

    const auto ts = item.find("CTIMESTAMP");
    if (ts == item.end() || !ts->is_string()) {
        return row_problem(QuarantineReason::invalid_time, row,
                           fmt::format("row {} (CSTEP_ID '{}'): CTIMESTAMP missing or not a string", index,
                                       infra::printable(row.step_id)));
    }
    const std::string& ts_text = ts->get_ref<const std::string&>();
    const auto seconds = parse_rta_timestamp(ts_text);
    if (!seconds) {
        const std::string detail =
            fmt::format("row {} (CSTEP_ID '{}', CTIMESTAMP '{}'): {}", index, infra::printable(row.step_id),
                        infra::printable(ts_text), seconds.error().message);
        switch (seconds.error().code) {
        case TimeErrc::zone_unreadable:
            return RowProblem{QuarantinedRecord{{}, row.step_id, detail, {}}, true};
        case TimeErrc::unknown_zone:
            return row_problem(QuarantineReason::unknown_timezone, row, detail);
        case TimeErrc::malformed_timestamp:
        case TimeErrc::invalid_time:
            break;
        }
        return row_problem(QuarantineReason::invalid_time, row, detail);
    }
    if (*seconds < 0 || *seconds > k_max_unix_seconds) {
        return row_problem(QuarantineReason::invalid_time, row,
                           fmt::format("row {} (CSTEP_ID '{}'): CTIMESTAMP '{}' is out of range", index,
                                       infra::printable(row.step_id), infra::printable(ts_text)));
    }
    row.timestamp_unix_s = *seconds;

    struct Figure {
        const char* name;
        std::optional<double>* target;
    };
    for (const Figure figure : {Figure{"KRESPONSE_TIME", &row.response_ms}, Figure{"KSERVER_TIME", &row.server_ms},
                                Figure{"KNETWORK_TIME", &row.network_ms}, Figure{"KCLIENT_TIME", &row.client_ms}}) {
        std::string bad;
        if (!key_figure(item, figure.name, *figure.target, bad)) {
            return row_problem(QuarantineReason::invalid_value, row,
                               fmt::format("row {} (CSTEP_ID '{}'): {} {} is not a number", index,
                                           infra::printable(row.step_id), figure.name, bad));
        }
    }
    return std::nullopt;
}

}  // namespace

boost::system::result<RtaPage, RtaParseError> parse_rta_page(std::string_view body)
{
    // nlohmann's parser keeps no stack of its own, but its DOM of "[[[[..." takes about 70 bytes per byte:
    // a 64 MiB body would take over 4 GiB.
    if (!nesting_within(body, k_rta_max_depth)) {
        return rta_error(RtaErrc::parse,
                         fmt::format("not an RTA page: JSON nested deeper than {} levels", k_rta_max_depth));
    }
    const json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        return rta_error(RtaErrc::parse, "not valid JSON");
    }
    const auto d_it = doc.is_object() ? doc.find("d") : doc.end();
    if (d_it == doc.end() || !d_it->is_object()) {
        return rta_error(RtaErrc::parse, "missing d (not an OData v2 JSON response)");
    }
    const json& d = *d_it;
    const auto results = d.find("results");
    if (results == d.end() || !results->is_array()) {
        return rta_error(RtaErrc::parse, "missing d.results");
    }

    RtaPage page;
    if (const auto count = d.find("__count"); count != d.end() && !count->is_null()) {
        page.count = parse_count(*count);
        if (!page.count) {
            return rta_error(RtaErrc::parse, "d.__count is not a non-negative integer");
        }
    }
    if (const auto next = d.find("__next"); next != d.end() && next->is_string()) {
        page.next = next->get<std::string>();
    }

    page.rows.reserve(results->size());
    std::size_t index = 0;
    std::vector<std::size_t> bad_objects;  // for each bad row that is an object: its place among the objects
    std::size_t objects = 0;
    for (const json& item : *results) {
        ++index;
        RtaRow row;
        auto problem = parse_row(item, index, row);
        if (!problem) {
            page.rows.push_back(std::move(row));
        } else if (problem->zone_unreadable) {
            return rta_error(RtaErrc::timezone, std::move(problem->record.detail));
        } else {
            if (item.is_object()) {
                bad_objects.push_back(objects);
            }
            problem->record.raw = item.is_object() ? std::string() : item.dump();
            page.bad_rows.push_back(std::move(problem->record));
        }
        objects += item.is_object() ? 1 : 0;
    }
    page.elements = index;
    if (!bad_objects.empty()) {
        // nlohmann keeps no offsets, and its dump() reorders members: the rows' text as C4C sent it comes
        // from the OData page parser, which reads d.results' objects in the same order. (Should the two
        // disagree on a pathological body, say duplicate members, the dump is kept instead.)
        const auto spans = parse_odata_page(body);
        const bool same = spans && spans->rows.size() == objects;
        std::size_t next = 0;
        for (auto& record : page.bad_rows) {
            if (!record.raw.empty()) {
                continue;  // not an object: its dump is its text
            }
            const std::size_t place = bad_objects[next++];
            if (same) {
                const ODataRow& row = spans->rows[place];
                record.raw = std::string(body.substr(row.raw_offset(), row.raw_size()));
            } else {
                std::size_t seen = 0;
                for (const json& item : *results) {
                    if (item.is_object() && seen++ == place) {
                        record.raw = item.dump();
                        break;
                    }
                }
            }
        }
    }
    return page;
}

Event normalize_rta_row(std::string_view tenant, const RtaRow& row, const Pseudonymizer* pseudonymizer,
                        std::int64_t observed_unix_nano)
{
    const std::string user =
        pseudonymizer != nullptr && !row.user.empty() ? pseudonymizer->pseudonym(row.user) : row.user;

    Event event;
    event.source = k_source_response_time_analysis;
    event.object_type = k_object_type;
    event.object_id = row.step_id;
    event.time_unix_nano = row.timestamp_unix_s * 1'000'000'000;
    event.observed_unix_nano = observed_unix_nano;
    event.severity = Severity::info;

    const std::string key =
        fmt::format("{}\x1f{}\x1f{}\x1f{}", row.timestamp_unix_s, user, row.ui_component, row.step_id);
    event.id = make_event_id(tenant, event.source, event.object_type, key, event.time_unix_nano);

    std::string label;
    if (!row.ui_component_text.empty() && !row.ui_component.empty()) {
        label = fmt::format("{} ({})", row.ui_component_text, row.ui_component);
    } else if (!row.ui_component_text.empty() || !row.ui_component.empty()) {
        label = row.ui_component_text.empty() ? row.ui_component : row.ui_component_text;
    } else {
        label = fmt::format("step {}", row.step_id);
    }
    if (row.response_ms) {
        event.body = fmt::format("{}: {} ms response", label, format_ms(*row.response_ms));
        std::vector<std::string> parts;
        for (const auto& [name, value] : {std::pair{"server", &row.server_ms}, std::pair{"network", &row.network_ms},
                                          std::pair{"client", &row.client_ms}}) {
            if (*value) {
                parts.push_back(fmt::format("{} {}", name, format_ms(**value)));
            }
        }
        if (!parts.empty()) {
            event.body += fmt::format(" ({})", fmt::join(parts, ", "));
        }
    } else {
        event.body = fmt::format("{}: response time not reported", label);
    }

    auto& attributes = event.attributes;
    if (!user.empty()) {
        attributes.push_back({"sap.c4c.rta.user", user});
    }
    attributes.push_back({"sap.c4c.rta.user_pseudonymized", pseudonymizer != nullptr});
    if (!row.ui_component.empty()) {
        attributes.push_back({"sap.c4c.rta.ui_component", row.ui_component});
    }
    if (!row.ui_component_text.empty()) {
        attributes.push_back({"sap.c4c.rta.ui_component_text", row.ui_component_text});
    }
    if (!row.step_id.empty()) {
        attributes.push_back({"sap.c4c.rta.step_id", row.step_id});
    }
    for (const auto& [name, value] : {std::pair{"sap.c4c.rta.response_time_ms", &row.response_ms},
                                      std::pair{"sap.c4c.rta.server_time_ms", &row.server_ms},
                                      std::pair{"sap.c4c.rta.network_time_ms", &row.network_ms},
                                      std::pair{"sap.c4c.rta.client_time_ms", &row.client_ms}}) {
        if (*value) {
            attributes.push_back({name, **value});
        }
    }
    return event;
}

Normalized normalize_rta_raw(std::string_view tenant, std::string_view raw, const Pseudonymizer* pseudonymizer,
                             std::int64_t observed_unix_nano)
{
    const auto quarantined = [&](QuarantineReason reason, std::string detail) {
        return QuarantinedRecord{reason, {}, std::move(detail), std::string(raw)};
    };
    if (!nesting_within(raw, k_rta_max_depth)) {
        return quarantined(QuarantineReason::invalid_value, "the row is nested too deep");
    }
    const json item = json::parse(raw.begin(), raw.end(), nullptr, /*allow_exceptions=*/false);
    if (item.is_discarded()) {
        return quarantined(QuarantineReason::invalid_value, "the row is not valid JSON");
    }
    RtaRow row;
    if (auto problem = parse_row(item, 1, row)) {
        // The tz database being unreadable is no verdict on the row: it stays as it was.
        problem->record.raw = std::string(raw);
        if (problem->zone_unreadable) {
            problem->record.reason = QuarantineReason::unknown_timezone;
        }
        return std::move(problem->record);
    }
    return normalize_rta_row(tenant, row, pseudonymizer, observed_unix_nano);
}

std::optional<std::uint64_t> parse_rta_window_cursor(std::string_view cursor)
{
    constexpr std::string_view k_prefix = "skip=";
    if (!cursor.starts_with(k_prefix)) {
        return std::nullopt;
    }
    cursor.remove_prefix(k_prefix.size());
    std::uint64_t skip = 0;
    const auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), skip);
    if (cursor.empty() || ec != std::errc{} || end != cursor.data() + cursor.size()) {
        return std::nullopt;
    }
    return skip;
}

std::string rta_page_url(std::string_view c4c_url, const SourceConfig& source, std::int64_t since_unix_s,
                         std::uint64_t skip)
{
    while (!c4c_url.empty() && c4c_url.back() == '/') {
        c4c_url.remove_suffix(1);
    }
    const std::string datasource = url_encode(source.settings.get<ResponseTimeAnalysisSettings>().datasource);
    const std::string filter = fmt::format("CTIMESTAMP ge '{}'", format_rta_filter_timestamp(since_unix_s));
    return fmt::format("{}/sap/c4c/odata/analytics/ds/{}.svc/{}?$format=json&$select={}&$filter={}&$orderby={}"
                       "&$top={}&$skip={}&$inlinecount=allpages",
                       c4c_url, datasource, datasource, url_encode(k_rta_select), url_encode(filter),
                       url_encode("CTIMESTAMP asc"), std::max(1, source.page_size), skip);
}

namespace {

class ResponseTimeAnalysisCollector final : public Collector {
public:
    boost::asio::awaitable<PollOutcome> poll(PollContext& context) override;

private:
    /// Loads the key once per state_dir (in a dry run without writing: pseudonymizer.hpp). Returns null
    /// with `error` set when it cannot.
    const Pseudonymizer* load_pseudonymizer(const PollContext& context, std::string& error);

    std::optional<Pseudonymizer> m_pseudonymizer;
    std::filesystem::path m_pseudonymizer_dir;
    infra::LogLimiter m_short_log{std::chrono::minutes(10)};
};

const Pseudonymizer* ResponseTimeAnalysisCollector::load_pseudonymizer(const PollContext& context, std::string& error)
{
    if (!m_pseudonymizer || m_pseudonymizer_dir != context.state_dir) {
        std::string note;
        auto opened = context.dry_run ? Pseudonymizer::open_without_writing(context.state_dir, note)
                                      : Pseudonymizer::open(context.state_dir);
        if (!opened) {
            error = opened.error().message;
            return nullptr;
        }
        if (!note.empty()) {
            spdlog::warn("tenant {} source {}: dry run: {}; user IDs are pseudonymized with a temporary key held in "
                         "memory for this run only (nothing is written), so these pseudonyms differ from those a "
                         "normal run sends",
                         context.tenant, context.source.name, note);
        }
        m_pseudonymizer.emplace(std::move(*opened));
        m_pseudonymizer_dir = context.state_dir;
    }
    return &*m_pseudonymizer;
}

boost::asio::awaitable<PollOutcome> ResponseTimeAnalysisCollector::poll(PollContext& context)
{
    const SourceConfig& source = context.source;
    const auto& settings = source.settings.get<ResponseTimeAnalysisSettings>();
    PollOutcome outcome;

    const Pseudonymizer* pseudonymizer = nullptr;
    if (settings.pseudonymize_users) {
        std::string error;
        pseudonymizer = load_pseudonymizer(context, error);
        if (pseudonymizer == nullptr) {
            PollOutcome failure;
            failure.ok = false;
            failure.reason = FailureReason::Kind::pseudonymization;
            failure.message =
                fmt::format("tenant {} source {}: {}; nothing was requested", context.tenant, source.name, error);
            co_return failure;
        }
    }

    const std::int64_t now_s = std::chrono::floor<std::chrono::seconds>(tenant_now(context).time_since_epoch()).count();
    const std::int64_t observed_ns = infra::unix_nanos(context.now);
    const std::string old_checkpoint = context.store.checkpoint(k_rta_feed);
    std::optional<std::int64_t> checkpoint = parse_checkpoint(old_checkpoint);
    if (!old_checkpoint.empty() && !checkpoint) {
        // Self-healing: re-reading the lookback window costs duplicates that the store drops.
        spdlog::warn("tenant {} source {}: checkpoint '{}' is not a time; reading from now - lookback", context.tenant,
                     source.name, infra::printable(old_checkpoint));
    }
    // A checkpoint ahead of the tenant's clock (its clock went back) counts as now, or rows stamped
    // before it would never be read.
    std::int64_t since =
        std::max<std::int64_t>(0, checkpoint ? std::min(*checkpoint, now_s) - to_seconds_ceil(source.overlap)
                                             : now_s - to_seconds_ceil(source.lookback));
    const std::uint64_t page_size = static_cast<std::uint64_t>(std::max(1, source.page_size));

    std::optional<std::int64_t> greatest = checkpoint;
    std::optional<std::uint64_t> promised;  // the last __count
    std::uint64_t skip = 0;
    // A backfill window: the same $skip walk from the window's start (rows are ordered by CTIMESTAMP and
    // the window lies in the past, so positions inside it stay put), resumed at the $skip its cursor
    // "skip=N" holds; it ends at the first page whose rows are all at or after the window's end.
    std::optional<std::int64_t> window_end_ns;
    if (context.window) {
        since = std::max<std::int64_t>(
            0, std::chrono::floor<std::chrono::seconds>(context.window->from.time_since_epoch()).count());
        window_end_ns = infra::unix_nanos(context.window->to);
        skip = parse_rta_window_cursor(old_checkpoint).value_or(0);
    }
    for (std::uint64_t pages = 0;; ++pages) {
        if (pages >= k_rta_max_pages) {
            PollOutcome failure;
            failure.ok = false;
            failure.reason = FailureReason::Kind::paging;
            failure.message = fmt::format("tenant {} source {}: data source {} did not end after {} pages; stopped "
                                          "(the checkpoint stays); lower the interval or raise page_size",
                                          context.tenant, source.name, settings.datasource, k_rta_max_pages);
            co_return with_progress(std::move(failure), outcome);
        }
        if (!context.store.accepting()) {
            co_return with_progress(commit_failure(context, CommitStatus::outbox_full), outcome);
        }

        infra::http::Request request;
        request.method = infra::http::Method::get;
        request.url = rta_page_url(context.c4c.url, source, since, skip);
        request.headers.emplace_back("Accept", "application/json");
        const C4cReply reply = co_await c4c_request(context, std::move(request));
        if (!reply.ok) {
            co_return with_progress(failed_outcome(context, reply), outcome);
        }

        auto parsed = parse_rta_page(reply.response.body);
        if (!parsed) {
            const std::string where = fmt::format("data source {} ($skip={})", settings.datasource, skip);
            if (parsed.error().code == RtaErrc::timezone) {
                PollOutcome failure;
                failure.ok = false;
                failure.reason = FailureReason::Kind::timezone;
                failure.message = fmt::format("tenant {} source {}: {}: {}; nothing from this page was stored and the "
                                              "checkpoint stays until the time zone data can be read",
                                              context.tenant, source.name, where, parsed.error().message);
                co_return with_progress(std::move(failure), outcome);
            }
            co_return with_progress(parse_failure(context, where, parsed.error().message), outcome);
        }
        const RtaPage page = std::move(parsed).value();  // has a value: checked above

        const std::vector<RtaRow>& rows = page.rows;
        outcome.records += page.elements;
        std::vector<Event> events;
        events.reserve(rows.size());
        bool all_past_window = window_end_ns && !rows.empty();
        for (const RtaRow& row : rows) {
            if (window_end_ns) {
                const std::int64_t row_ns = row.timestamp_unix_s * 1'000'000'000;
                if (row_ns >= *window_end_ns) {
                    continue;
                }
                all_past_window = false;
                if (row_ns < infra::unix_nanos(context.window->from)) {
                    continue;  // the filter's whole second holds rows before a `from` inside it
                }
            }
            events.push_back(normalize_rta_row(context.tenant, row, pseudonymizer, observed_ns));
            greatest = std::max(greatest.value_or(row.timestamp_unix_s), row.timestamp_unix_s);
        }

        // Quarantined rows take their places in the $skip walk like the others.
        const std::uint64_t read = page.elements;
        const bool last = read == 0 || (page.count ? skip + read >= *page.count : read < page_size) || all_past_window;
        skip += read;
        if (window_end_ns) {
            std::size_t stored = 0;
            const std::string cursor = "skip=" + std::to_string(skip);
            const CommitStatus status =
                context.store.commit(k_rta_feed, FeedPage{events, page.bad_rows, cursor, std::nullopt}, stored);
            if (status != CommitStatus::committed) {
                co_return with_progress(commit_failure(context, status), outcome);
            }
            outcome.stored += stored;
            if (last) {
                break;
            }
            continue;
        }
        if (page.count) {
            promised = page.count;
        }
        // Only once the whole window is stored may the checkpoint move. A row stamped in the future (a
        // misconfigured zone) must not carry the window past rows still to come: the checkpoint goes no
        // further than now on the tenant's clock (and never back).
        std::string new_checkpoint = old_checkpoint;
        const bool short_of_count = last && promised && skip < *promised;
        if (short_of_count) {
            if (auto suppressed = m_short_log.admit()) {
                spdlog::warn("tenant {} source {}: data source {} promised {} rows (__count) but the walk read {}; "
                             "the checkpoint stays, so the window is read again at the next poll{}",
                             context.tenant, source.name, settings.datasource, *promised, skip,
                             infra::suppressed_note(*suppressed));
            }
        } else if (last && greatest) {
            new_checkpoint = std::to_string(std::max(std::min(*greatest, now_s), checkpoint.value_or(0)));
        }
        if (events.empty() && page.bad_rows.empty() && new_checkpoint == old_checkpoint) {
            break;
        }
        std::size_t stored = 0;
        const auto new_checkpoint_s = parse_checkpoint(new_checkpoint);
        const CommitStatus status = context.store.commit(
            k_rta_feed,
            FeedPage{events, page.bad_rows, new_checkpoint,
                     new_checkpoint_s ? std::optional<std::int64_t>(*new_checkpoint_s * 1'000'000'000) : std::nullopt},
            stored);
        if (status != CommitStatus::committed) {
            co_return with_progress(commit_failure(context, status), outcome);
        }
        outcome.stored += stored;
        if (last) {
            break;
        }
    }
    co_return outcome;
}

}  // namespace

std::unique_ptr<Collector> make_response_time_analysis_collector(const SourceConfig&)
{
    return std::make_unique<ResponseTimeAnalysisCollector>();
}

namespace {

SourceSettings read_response_time_analysis_settings(infra::ConfigReader& reader, infra::ConfigSection& section)
{
    ResponseTimeAnalysisSettings settings;
    reader.read(section, "datasource", settings.datasource, infra::checks::word);
    reader.read(section, "pseudonymize_users", settings.pseudonymize_users);
    return settings;
}

}  // namespace

namespace {

// The checkpoint is whole unix seconds.
std::optional<std::chrono::system_clock::time_point> rta_checkpoint_instant(std::string_view checkpoint)
{
    const auto seconds = parse_checkpoint(checkpoint);
    if (!seconds || *seconds >= infra::k_max_unix_seconds) {
        return std::nullopt;
    }
    return std::chrono::system_clock::time_point(std::chrono::seconds(*seconds));
}

}  // namespace

namespace {

// The pseudonymization key is the one the source's polls use (state_dir's), so a retried row gets the pseudonym
// and the event.id its page would have given it.
Renormalized renormalize_rta(const RenormalizeContext& context, std::string_view raw)
{
    std::optional<Pseudonymizer> pseudonymizer;
    if (context.source.settings.get<ResponseTimeAnalysisSettings>().pseudonymize_users) {
        auto opened = Pseudonymizer::open(context.state_dir);
        if (!opened) {
            return Renormalized{std::nullopt, opened.error().message};
        }
        pseudonymizer.emplace(std::move(*opened));
    }
    return Renormalized{
        normalize_rta_raw(context.tenant, raw, pseudonymizer ? &*pseudonymizer : nullptr, context.observed_unix_nano),
        {}};
}

}  // namespace

const CollectorKind k_response_time_analysis_kind{
    .name = k_source_response_time_analysis,
    .use_case = "real_user_monitoring",
    .defaults = {.interval = std::chrono::minutes(5),
                 .page_size = 1000,
                 .lookback = std::chrono::hours(1),
                 .overlap = std::chrono::minutes(10)},
    .read_settings = &read_response_time_analysis_settings,
    .make = &make_response_time_analysis_collector,
    .failed_items = std::nullopt,
    .checkpoint_instant = &rta_checkpoint_instant,
    .renormalize = &renormalize_rta,
};

}  // namespace c4c::collectors
