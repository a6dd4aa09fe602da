#include "tests/fakes/alm_sink.hpp"

#include "tests/fakes/json_scan.hpp"

#include <algorithm>
#include <cctype>
#include <random>

namespace c4c::sim {

namespace {

constexpr std::size_t k_max_inflated_bytes = 512u << 20;
constexpr std::size_t k_kept_metrics_bodies = 1000;

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

ServerResponse json_error(unsigned status, std::string_view message)
{
    nlohmann::json body = {{"error", message}};
    return json_response(status, body.dump());
}

/// 200 {} for a post the sink took, with the scripted fault (if any) applied to it.
ServerResponse accepted(const std::optional<FaultRule>& fault, std::string_view kind)
{
    auto response = json_response(200, "{}");
    if (fault) {
        apply_fault(*fault, kind, response);
    }
    return response;
}

/// The plain JSON value of an OTLP AnyValue.
nlohmann::json plain_value(const nlohmann::json& any)
{
    if (!any.is_object()) {
        return any;
    }
    if (auto it = any.find("stringValue"); it != any.end()) {
        return *it;
    }
    if (auto it = any.find("intValue"); it != any.end()) {
        if (it->is_string()) {
            try {
                return std::stoll(it->get<std::string>());
            } catch (const std::exception&) {
                return *it;
            }
        }
        return *it;
    }
    if (auto it = any.find("doubleValue"); it != any.end()) {
        return *it;
    }
    if (auto it = any.find("boolValue"); it != any.end()) {
        return *it;
    }
    if (auto it = any.find("arrayValue"); it != any.end()) {
        nlohmann::json out = nlohmann::json::array();
        if (it->is_object() && it->contains("values") && (*it)["values"].is_array()) {
            for (const auto& v : (*it)["values"]) {
                out.push_back(plain_value(v));
            }
        }
        return out;
    }
    if (auto it = any.find("kvlistValue"); it != any.end()) {
        nlohmann::json out = nlohmann::json::object();
        if (it->is_object() && it->contains("values") && (*it)["values"].is_array()) {
            for (const auto& kv : (*it)["values"]) {
                if (kv.is_object() && kv.contains("key") && kv["key"].is_string()) {
                    out[kv["key"].get<std::string>()] = plain_value(kv.value("value", nlohmann::json()));
                }
            }
        }
        return out;
    }
    return any;
}

/// Attribute list -> {key: plain value}; nullopt when the list is malformed.
std::optional<nlohmann::json> attribute_map(const nlohmann::json& list)
{
    if (!list.is_array()) {
        return std::nullopt;
    }
    nlohmann::json out = nlohmann::json::object();
    for (const auto& kv : list) {
        if (!kv.is_object() || !kv.contains("key") || !kv["key"].is_string() || !kv.contains("value") ||
            !kv["value"].is_object()) {
            return std::nullopt;
        }
        out[kv["key"].get<std::string>()] = plain_value(kv["value"]);
    }
    return out;
}

std::string string_attr(const nlohmann::json& map, const char* key)
{
    auto it = map.find(key);
    if (it == map.end()) {
        return {};
    }
    return it->is_string() ? it->get<std::string>() : it->dump();
}

/// A non-empty run of decimal digits: how a 64-bit OTLP integer comes as a JSON string.
bool is_decimal(std::string_view s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::optional<std::string> nano_string(const nlohmann::json& record, const char* key)
{
    auto it = record.find(key);
    if (it == record.end()) {
        return std::nullopt;
    }
    if (it->is_string()) {
        const auto& s = it->get_ref<const std::string&>();
        return is_decimal(s) ? std::optional<std::string>(s) : std::nullopt;
    }
    if (it->is_number_unsigned() || it->is_number_integer()) {
        return it->dump();
    }
    return std::nullopt;
}

struct ParsedRecord {
    std::string use_case;
    std::string event_id;
    std::string time_unix_nano;
    std::string observed;
    std::string severity_text;
    std::string body;
    nlohmann::json attributes;
};

/// Validates an OTLP logs body; on failure returns nullopt and sets `error`.
std::optional<std::vector<ParsedRecord>> parse_logs(const nlohmann::json& doc, std::string& error)
{
    if (!doc.is_object() || !doc.contains("resourceLogs") || !doc["resourceLogs"].is_array()) {
        error = "body must be an object with a \"resourceLogs\" array";
        return std::nullopt;
    }
    std::vector<ParsedRecord> out;
    std::size_t r = 0;
    for (const auto& rl : doc["resourceLogs"]) {
        std::string where = "resourceLogs[" + std::to_string(r++) + "]";
        if (!rl.is_object() || !rl.contains("resource") || !rl["resource"].is_object()) {
            error = where + ".resource is missing";
            return std::nullopt;
        }
        auto resource = attribute_map(rl["resource"].value("attributes", nlohmann::json()));
        if (!resource) {
            error = where + ".resource.attributes must be an array of {key, value}";
            return std::nullopt;
        }
        auto use_case = resource->find("sap.calm.use_case");
        if (use_case == resource->end() || !use_case->is_string() || use_case->get<std::string>().empty()) {
            error = where + ".resource.attributes lacks sap.calm.use_case";
            return std::nullopt;
        }
        if (!rl.contains("scopeLogs") || !rl["scopeLogs"].is_array()) {
            error = where + ".scopeLogs must be an array";
            return std::nullopt;
        }
        std::size_t s = 0;
        for (const auto& sl : rl["scopeLogs"]) {
            std::string swhere = where + ".scopeLogs[" + std::to_string(s++) + "]";
            if (!sl.is_object() || !sl.contains("logRecords") || !sl["logRecords"].is_array()) {
                error = swhere + ".logRecords must be an array";
                return std::nullopt;
            }
            std::size_t k = 0;
            for (const auto& lr : sl["logRecords"]) {
                std::string lwhere = swhere + ".logRecords[" + std::to_string(k++) + "]";
                if (!lr.is_object()) {
                    error = lwhere + " must be an object";
                    return std::nullopt;
                }
                auto attributes = attribute_map(lr.value("attributes", nlohmann::json()));
                if (!attributes) {
                    error = lwhere + ".attributes must be an array of {key, value}";
                    return std::nullopt;
                }
                auto id = attributes->find("event.id");
                if (id == attributes->end() || !id->is_string() || id->get<std::string>().empty()) {
                    error = lwhere + ".attributes lacks event.id";
                    return std::nullopt;
                }
                auto time = nano_string(lr, "timeUnixNano");
                if (!time) {
                    error = lwhere + ".timeUnixNano is missing or not an integer";
                    return std::nullopt;
                }
                ParsedRecord p;
                p.use_case = use_case->get<std::string>();
                p.event_id = id->get<std::string>();
                p.time_unix_nano = *time;
                p.observed = nano_string(lr, "observedTimeUnixNano").value_or("");
                if (auto sev = lr.find("severityText"); sev != lr.end() && sev->is_string()) {
                    p.severity_text = sev->get<std::string>();
                }
                if (auto body = lr.find("body"); body != lr.end()) {
                    auto plain = plain_value(*body);
                    p.body = plain.is_string() ? plain.get<std::string>() : plain.dump();
                }
                p.attributes = std::move(*attributes);
                out.push_back(std::move(p));
            }
        }
    }
    return out;
}

/// One pass over an OTLP logs body without building a DOM (driven by json_scan::scan): accepts exactly
/// what parse_logs() accepts (or less), and collects each record's use case and event.id, all that
/// answering and counting need. The records' other fields are read from the kept body only when the
/// control API asks for them. A DOM of every batch was most of the simulator's CPU. A body it refuses
/// goes through parse_logs(), which says what is wrong (or accepts it after all).
class LogsScanner {
public:
    struct Id {
        std::size_t resource = 0;  ///< index into use_cases
        std::string event_id;
    };
    std::vector<std::string> use_cases;  ///< one per resourceLogs element
    std::vector<Id> ids;                 ///< in document order

    bool other() { return scalar(Scalar::other, {}); }
    bool integer() { return scalar(Scalar::integer, {}); }
    bool string(std::string_view value) { return scalar(Scalar::string, value); }
    bool key(std::string_view name)
    {
        top().key = key_of(name);
        return true;
    }
    bool open(bool object)
    {
        auto ctx = child(object);
        if (!ctx) {
            return false;
        }
        if (++m_depth == m_frames.size()) {
            m_frames.emplace_back();
        }
        auto& f = top();
        f.ctx = *ctx;
        f.key = Key::other;
        f.a = f.b = false;
        f.attr = Attr::other;
        f.text.clear();
        if (*ctx == Ctx::resource_log) {
            use_cases.emplace_back();
        }
        return true;
    }

private:
    enum class Ctx : std::uint8_t {
        document,
        root,
        resource_logs,
        resource_log,
        resource,
        attributes,
        kv,
        any_value,
        scope_logs,
        scope_log,
        log_records,
        log_record,
        skip,
    };
    /// The member names that matter; any other is `other`.
    enum class Key : std::uint8_t {
        other,
        resource_logs,
        resource,
        scope_logs,
        attributes,
        log_records,
        key,
        value,
        string_value,
        time,
    };
    /// What an attribute's key names: the two attributes the sink reads.
    enum class Attr : std::uint8_t { other, use_case, event_id };
    enum class Scalar : std::uint8_t { string, integer, other };
    struct Frame {
        Ctx ctx = Ctx::document;
        Key key = Key::other;     ///< objects: the member being read
        bool a = false;           ///< root: resourceLogs; resource_log: resource; resource, log_record: attributes;
                                  ///< kv: key; any_value: stringValue is a string; scope_log: logRecords
        bool b = false;           ///< resource_log: scopeLogs; kv: value; log_record: timeUnixNano
        Attr attr = Attr::other;  ///< kv: what its key names
        std::string text;         ///< kv, any_value: the stringValue (when a string); log_record: event.id
    };
    // Frames are reused (never destroyed while scanning) so that their strings keep their capacity.
    std::vector<Frame> m_frames{Frame{}};
    std::size_t m_depth = 0;  ///< m_frames[m_depth] is the innermost open value

    Frame& top() { return m_frames[m_depth]; }

    static Key key_of(std::string_view name)
    {
        static constexpr std::pair<std::string_view, Key> k_keys[] = {
            {"resourceLogs", Key::resource_logs},
            {"resource", Key::resource},
            {"scopeLogs", Key::scope_logs},
            {"attributes", Key::attributes},
            {"logRecords", Key::log_records},
            {"key", Key::key},
            {"value", Key::value},
            {"stringValue", Key::string_value},
            {"timeUnixNano", Key::time},
        };
        for (const auto& [text, key] : k_keys) {
            if (text == name) {
                return key;
            }
        }
        return Key::other;
    }

    /// What a container opening under the top frame is; nullopt when it may not be one there.
    std::optional<Ctx> child(bool object)
    {
        auto& t = top();
        const bool array = !object;
        auto member = [&](Key name, bool want_array, Ctx ctx, bool& seen) -> std::optional<Ctx> {
            if (t.key != name) {
                return Ctx::skip;
            }
            if (want_array != array) {
                return std::nullopt;
            }
            seen = true;
            return ctx;
        };
        switch (t.ctx) {
        case Ctx::document:
            return object ? std::optional{Ctx::root} : std::nullopt;
        case Ctx::root:
            return member(Key::resource_logs, true, Ctx::resource_logs, t.a);
        case Ctx::resource_logs:
            return object ? std::optional{Ctx::resource_log} : std::nullopt;
        case Ctx::resource_log:
            if (t.key == Key::resource) {
                return member(Key::resource, false, Ctx::resource, t.a);
            }
            return member(Key::scope_logs, true, Ctx::scope_logs, t.b);
        case Ctx::resource:
        case Ctx::log_record:
            return member(Key::attributes, true, Ctx::attributes, t.a);
        case Ctx::attributes:
            return object ? std::optional{Ctx::kv} : std::nullopt;
        case Ctx::kv:
            if (t.key == Key::key) {
                return std::nullopt;
            }
            return member(Key::value, false, Ctx::any_value, t.b);
        case Ctx::scope_logs:
            return object ? std::optional{Ctx::scope_log} : std::nullopt;
        case Ctx::scope_log:
            return member(Key::log_records, true, Ctx::log_records, t.a);
        case Ctx::log_records:
            return object ? std::optional{Ctx::log_record} : std::nullopt;
        case Ctx::any_value:
        case Ctx::skip:
            return Ctx::skip;
        }
        return std::nullopt;
    }

    bool scalar(Scalar kind, std::string_view value)
    {
        auto& t = top();
        switch (t.ctx) {
        case Ctx::document:
            return false;
        case Ctx::root:
            return t.key != Key::resource_logs;
        case Ctx::resource_logs:
        case Ctx::attributes:
        case Ctx::scope_logs:
        case Ctx::log_records:
            return false;
        case Ctx::resource_log:
            return t.key != Key::resource && t.key != Key::scope_logs;
        case Ctx::resource:
            return t.key != Key::attributes;
        case Ctx::scope_log:
            return t.key != Key::log_records;
        case Ctx::kv:
            if (t.key == Key::key) {
                if (kind != Scalar::string) {
                    return false;
                }
                t.a = true;
                t.attr = value == "sap.calm.use_case" ? Attr::use_case
                         : value == "event.id"        ? Attr::event_id
                                                      : Attr::other;
                return true;
            }
            return t.key != Key::value;
        case Ctx::any_value:
            if (t.key == Key::string_value) {
                t.a = kind == Scalar::string;
                t.text.assign(value);
            }
            return true;
        case Ctx::log_record:
            if (t.key == Key::attributes) {
                return false;
            }
            if (t.key == Key::time) {
                // A string of digits or an integer, as nano_string() takes it.
                t.b = kind == Scalar::integer || (kind == Scalar::string && is_decimal(value));
                return t.b;
            }
            return true;
        case Ctx::skip:
            return true;
        }
        return false;
    }

public:
    bool close()
    {
        Frame& done = top();
        --m_depth;
        Frame& parent = top();
        switch (done.ctx) {
        case Ctx::root:
            return done.a;
        case Ctx::resource_log:
            return done.a && done.b && !use_cases.back().empty();
        case Ctx::resource:
            return done.a;
        case Ctx::kv: {
            if (!done.a || !done.b) {
                return false;
            }
            // parent: the attribute list; below it its owner. Of repeated keys the last one counts.
            auto& owner = m_frames[m_depth - 1];
            if (owner.ctx == Ctx::resource && done.attr == Attr::use_case) {
                use_cases.back() = done.text;
            } else if (owner.ctx == Ctx::log_record && done.attr == Attr::event_id) {
                owner.text = done.text;
            }
            return true;
        }
        case Ctx::any_value:
            // "" unless the value has a string stringValue: plain_value() is a string only then
            if (done.a) {
                parent.text = done.text;
            } else {
                parent.text.clear();
            }
            return true;
        case Ctx::scope_log:
            return done.a;
        case Ctx::log_record:
            if (!done.a || !done.b || done.text.empty()) {
                return false;
            }
            ids.push_back(Id{use_cases.size() - 1, done.text});
            return true;
        default:
            return true;
        }
    }
};

/// The use case and event.id of every record of a logs body, in document order: from LogsScanner when it
/// accepts the body, else from parse_logs() (which names the problem in `error` when there is one).
std::optional<LogsScanner> scan_logs(std::string_view body, std::string& error)
{
    LogsScanner scanner;
    if (json_scan::scan(body, scanner)) {
        return scanner;
    }
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded()) {
        error = "body is not valid JSON";
        return std::nullopt;
    }
    std::string problem;
    auto records = parse_logs(doc, problem);
    if (!records) {
        error = "invalid OTLP logs: " + problem;
        return std::nullopt;
    }
    LogsScanner out;
    for (auto& r : *records) {
        out.use_cases.push_back(std::move(r.use_case));
        out.ids.push_back(LogsScanner::Id{out.use_cases.size() - 1, std::move(r.event_id)});
    }
    return out;
}

}  // namespace

AlmSink::AlmSink(SinkOptions options, Faults& faults) : m_options(std::move(options)), m_faults(faults) {}

std::optional<ServerResponse> AlmSink::check_auth(const ServerRequest& request)
{
    if (!m_options.basic && !m_options.oauth_client) {
        return std::nullopt;
    }
    if (m_options.basic) {
        auto creds = basic_credentials(request);
        if (creds && *creds == *m_options.basic) {
            return std::nullopt;
        }
    }
    if (m_options.oauth_client) {
        auto header = request.header("authorization");
        if (header && header->size() > 7 && lower(header->substr(0, 7)) == "bearer ") {
            auto it = m_tokens.find(header->substr(7));
            if (it != m_tokens.end() && it->second > now_ms()) {
                return std::nullopt;
            }
        }
    }
    ++m_auth_failures;
    auto r = json_error(401, "unauthorized: missing, wrong or expired credentials");
    r.headers.emplace_back("WWW-Authenticate", m_options.oauth_client ? "Bearer" : "Basic realm=\"Cloud ALM\"");
    return r;
}

std::optional<AlmSink::Post> AlmSink::accept_post(const ServerRequest& request, std::string_view kind,
                                                  std::optional<ServerResponse>& error)
{
    if (request.method != "POST") {
        error = json_error(405, "use POST");
        return std::nullopt;
    }
    Post post;
    post.fault = m_faults.take(kind);
    if (post.fault && !post.fault->processes_request()) {
        error = fault_response(*post.fault, kind);
        return std::nullopt;
    }
    if (auto denied = check_auth(request)) {
        error = std::move(denied);
        return std::nullopt;
    }
    auto type = lower(request.header("content-type").value_or(""));
    if (type.substr(0, type.find(';')) != "application/json") {
        error = json_error(415, "Content-Type must be application/json");
        return std::nullopt;
    }
    auto encoding = lower(request.header("content-encoding").value_or("identity"));
    post.gzip = encoding == "gzip";
    if (post.gzip) {
        auto out = gunzip(request.body, k_max_inflated_bytes);
        if (!out) {
            error = json_error(400, "body is not valid gzip");
            return std::nullopt;
        }
        post.inflated = std::move(*out);
    } else if (encoding != "identity" && !encoding.empty()) {
        error = json_error(415, "unsupported Content-Encoding " + encoding);
        return std::nullopt;
    }
    return post;
}

ServerResponse AlmSink::handle_logs(const ServerRequest& request)
{
    std::optional<ServerResponse> error;
    auto post = accept_post(request, "logs", error);
    if (!post) {
        return *error;
    }
    std::string problem;
    auto scanned = scan_logs(post->json(request), problem);
    if (!scanned) {
        return json_error(400, problem);
    }
    std::vector<std::string_view> ids;
    ids.reserve(scanned->ids.size());
    for (const auto& r : scanned->ids) {
        ids.push_back(r.event_id);
    }
    std::string matched;
    if (auto reject = m_faults.take_reject("logs", ids, matched)) {
        auto r = json_error(reject->status, "rejected: the batch contains refused event id " + matched);
        if (reject->retry_after) {
            r.headers.emplace_back("Retry-After", *reject->retry_after);
        }
        return r;
    }

    // Per resourceLogs element: its use case as stored once, and its counters.
    struct Resource {
        std::string_view use_case;
        UseCaseStats* stats = nullptr;  ///< once it has a record
    };
    std::vector<Resource> resources;
    resources.reserve(scanned->use_cases.size());
    for (const auto& use_case : scanned->use_cases) {
        resources.push_back(Resource{*m_use_cases.insert(use_case).first});
    }
    const auto body_index = static_cast<std::uint32_t>(m_bodies.size());
    bool keep_body = false;
    std::uint32_t ordinal = 0;
    for (auto& p : scanned->ids) {
        Resource& resource = resources[p.resource];
        if (resource.stats == nullptr) {  // only a use case with records is counted
            resource.stats = &m_stats[std::string(resource.use_case)];
        }
        UseCaseStats& stats = *resource.stats;
        ++stats.records;
        if (auto known = m_record_index.find(RecordKey{resource.use_case, p.event_id}); known != m_record_index.end()) {
            ++stats.duplicates;
            ++m_records[known->second].count;
            ++ordinal;
            continue;
        }
        ++stats.unique;
        // The key views the stored record's fields, which a deque never moves.
        const Record& record =
            m_records.emplace_back(Record{resource.use_case, std::move(p.event_id), 1, body_index, ordinal++});
        m_record_index.emplace(RecordKey{record.use_case, record.event_id}, m_records.size() - 1);
        keep_body = true;
    }
    if (keep_body) {
        m_bodies.push_back(KeptBody{request.body, post->gzip});
    }
    // A request counts once for each use case it carried records of.
    std::set<UseCaseStats*> carried;
    for (const auto& resource : resources) {
        if (resource.stats != nullptr) {
            carried.insert(resource.stats);
        }
    }
    for (UseCaseStats* use_case : carried) {
        auto& stats = *use_case;
        ++stats.requests;
        stats.gzip_requests += post->gzip ? 1 : 0;
        stats.max_batch_records = std::max<std::uint64_t>(stats.max_batch_records, scanned->ids.size());
        stats.max_body_bytes = std::max<std::uint64_t>(stats.max_body_bytes, post->json(request).size());
    }
    return accepted(post->fault, "logs");
}

ServerResponse AlmSink::handle_metrics(const ServerRequest& request)
{
    std::optional<ServerResponse> error;
    auto post = accept_post(request, "metrics", error);
    if (!post) {
        return *error;
    }
    auto doc = nlohmann::json::parse(post->json(request), nullptr, false);
    if (doc.is_discarded()) {
        return json_error(400, "body is not valid JSON");
    }
    if (!doc.is_object() || !doc.contains("resourceMetrics") || !doc["resourceMetrics"].is_array()) {
        return json_error(400, "invalid OTLP metrics: body must be an object with a \"resourceMetrics\" array");
    }
    for (const auto& rm : doc["resourceMetrics"]) {
        if (!rm.is_object() || (rm.contains("scopeMetrics") && !rm["scopeMetrics"].is_array())) {
            return json_error(400, "invalid OTLP metrics: resourceMetrics[] must be objects with a scopeMetrics array");
        }
    }
    ++m_metrics_posts;
    m_metrics.push_back(std::move(doc));
    while (m_metrics.size() > k_kept_metrics_bodies) {
        m_metrics.pop_front();
    }
    return accepted(post->fault, "metrics");
}

ServerResponse AlmSink::handle_token(const ServerRequest& request)
{
    if (!m_options.oauth_client) {
        return json_error(404, "OAuth is not enabled (start the simulator with --oauth-client ID:SECRET)");
    }
    if (request.method != "POST") {
        return json_error(405, "use POST");
    }
    auto fault = m_faults.take("token");
    if (fault && !fault->processes_request()) {
        return fault_response(*fault, "token");
    }
    auto form = parse_query("?" + request.body);
    auto grant = query_value(form, "grant_type");
    auto creds = basic_credentials(request);
    // Like UAA/XSUAA: with this header the Basic credentials are form-url-encoded before base64.
    auto encoded = request.header("x-cf-encoded-credentials");
    if (creds && encoded && *encoded == "true") {
        creds = std::pair{percent_decode(creds->first), percent_decode(creds->second)};
    }
    if (!creds) {
        auto id = query_value(form, "client_id");
        auto secret = query_value(form, "client_secret");
        if (id && secret) {
            creds = std::pair{*id, *secret};
        }
    }
    if (!creds || *creds != *m_options.oauth_client) {
        ++m_auth_failures;
        auto r = json_response(401, R"({"error":"invalid_client","error_description":"Bad credentials"})");
        r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"UAA/client\"");
        return r;
    }
    if (!grant || *grant != "client_credentials") {
        return json_response(400, R"({"error":"unsupported_grant_type"})");
    }
    static std::mt19937_64 rng{std::random_device{}()};
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string token = "simtok-" + std::to_string(++m_token_counter) + "-";
    for (int i = 0; i < 32; ++i) {
        token += k_hex[rng() & 15];
    }
    m_tokens[token] = now_ms() + m_options.token_ttl_s * 1000;
    ++m_tokens_issued;
    nlohmann::json body = {{"access_token", token},
                           {"token_type", "bearer"},
                           {"expires_in", m_options.token_ttl_s},
                           {"scope", "calm-api.logs.write calm-api.metrics.write"},
                           {"jti", token.substr(token.size() - 16)}};
    auto response = json_response(200, body.dump());
    if (fault) {
        apply_fault(*fault, "token", response);
    }
    return response;
}

nlohmann::json AlmSink::use_case_stats() const
{
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [use_case, s] : m_stats) {
        out[use_case] = {{"requests", s.requests},
                         {"records", s.records},
                         {"unique", s.unique},
                         {"duplicates", s.duplicates},
                         {"gzip_requests", s.gzip_requests},
                         {"max_batch_records", s.max_batch_records},
                         {"max_body_bytes", s.max_body_bytes}};
    }
    return out;
}

nlohmann::json AlmSink::received(const std::string& use_case) const
{
    // Materialize the records not asked for before, a kept body at a time (a body's new records are
    // consecutive in m_records).
    std::optional<std::uint32_t> parsed_body;
    std::vector<ParsedRecord> parsed;
    for (auto i = m_materialized.size(); i < m_records.size(); ++i) {
        const auto& r = m_records[i];
        if (parsed_body != r.body) {
            parsed_body = r.body;
            parsed.clear();
            const auto& kept = m_bodies[r.body];
            auto text = kept.gzip ? gunzip(kept.data, k_max_inflated_bytes) : std::optional<std::string>(kept.data);
            std::string problem;
            if (auto records = parse_logs(nlohmann::json::parse(text.value_or(""), nullptr, false), problem)) {
                parsed = std::move(*records);
            }
        }
        nlohmann::json entry = {{"event_id", r.event_id}, {"use_case", r.use_case}};
        if (r.ordinal < parsed.size()) {  // always: the body was accepted by the same checks
            auto& p = parsed[r.ordinal];
            entry["time_unix_nano"] = std::move(p.time_unix_nano);
            entry["observed_time_unix_nano"] = std::move(p.observed);
            entry["severity_text"] = std::move(p.severity_text);
            entry["body"] = std::move(p.body);
            entry["object_type"] = string_attr(p.attributes, "sap.c4c.object_type");
            entry["object_id"] = string_attr(p.attributes, "sap.c4c.object_id");
            entry["source"] = string_attr(p.attributes, "sap.c4c.source");
            entry["attributes"] = std::move(p.attributes);
        }
        m_materialized.push_back(std::move(entry));
    }
    nlohmann::json records = nlohmann::json::array();
    for (std::size_t i = 0; i < m_records.size(); ++i) {
        if (!use_case.empty() && m_records[i].use_case != use_case) {
            continue;
        }
        auto& entry = records.emplace_back(m_materialized[i]);
        entry["count"] = m_records[i].count;
    }
    return {{"records", std::move(records)}};
}

nlohmann::json AlmSink::metrics_received() const
{
    nlohmann::json bodies = nlohmann::json::array();
    for (const auto& b : m_metrics) {
        bodies.push_back(b);
    }
    return {{"bodies", std::move(bodies)}};
}

void AlmSink::reset()
{
    m_stats.clear();
    m_records.clear();
    m_bodies.clear();
    m_materialized.clear();
    m_record_index.clear();
    m_metrics.clear();
    m_metrics_posts = 0;
    m_tokens_issued = 0;
    m_auth_failures = 0;
}

}  // namespace c4c::sim
