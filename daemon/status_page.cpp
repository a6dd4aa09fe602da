#include "daemon/status_page.hpp"

#include "infra/text.hpp"
#include "infra/time.hpp"
#include "infra/version.hpp"

#include <unistd.h>

#include <chrono>
#include <span>
#include <string>
#include <vector>

namespace c4c::daemon {

using namespace c4c::infra;

namespace {

// Style and script inline (no external assets: the page works where the monitoring port is reached
// through a tunnel, offline). The state is written out in every row; colour only repeats it.
constexpr const char* k_head = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>c4c-alm-collector status</title>
<link rel="icon" href="data:,">
<noscript><meta http-equiv="refresh" content="5"></noscript>
<style>
:root{color-scheme:light dark;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
body{margin:1.5rem auto;max-width:84rem;padding:0 1rem}
h1{font-size:1.35rem;margin:0 0 .2rem}
h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
p{margin:.2rem 0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #8885;vertical-align:top}
th{font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.state{display:inline-block;min-width:5.5em;text-align:center;font-weight:700;border-radius:.3rem;padding:.05rem .45rem;color:#fff}
.good .state{background:#1a7f37}
.bad .state{background:#c62828}
.warn .state{background:#9a6700}
.idle .state{background:#57606a}
tr.bad td{background:#c6282814}
.detail{display:block;font-size:.88em;opacity:.8;overflow-wrap:anywhere}
.summary{font-weight:600}
#offline{background:#c62828;color:#fff;padding:.5rem .8rem;border-radius:.3rem;margin:.6rem 0}
</style>
</head>
<body data-refreshes="0">
<h1>c4c-alm-collector</h1>
<p id="offline" role="alert" hidden></p>
)html";

constexpr const char* k_tail = R"html(<script>
(function () {
  var refreshes = 0, failedSince = null;
  function refresh() {
    fetch(location.pathname, {cache: "no-store"}).then(function (answer) {
      if (!answer.ok) { throw new Error("HTTP " + answer.status); }
      return answer.text();
    }).then(function (text) {
      var next = new DOMParser().parseFromString(text, "text/html").getElementById("status");
      if (!next) { throw new Error("no status in the answer"); }
      document.getElementById("status").replaceWith(next);
      document.body.setAttribute("data-refreshes", String(++refreshes));
      document.getElementById("offline").hidden = true;
      failedSince = null;
    }).catch(function (error) {
      failedSince = failedSince || new Date();
      var banner = document.getElementById("offline");
      banner.textContent = "The daemon has not answered since " + failedSince.toISOString() + " (" + error.message +
        "): the figures below are older.";
      banner.hidden = false;
    });
  }
  setInterval(refresh, 5000);
})();
</script>
</body>
</html>
)html";

std::string escape(std::string_view text)
{
    return xml_escape(text);
}

struct Look {
    const char* row;    ///< row class: good, bad, warn, idle
    const char* label;  ///< the state as a person reads it
};

Look source_look(const std::string& state)
{
    if (state == "ok") {
        return {"good", "OK"};
    }
    if (state == "down") {
        return {"bad", "DOWN"};
    }
    if (state == "blocked") {
        return {"warn", "BLOCKED"};
    }
    if (state == "disabled") {
        return {"idle", "DISABLED"};
    }
    return {"idle", "WAITING"};
}

Look endpoint_look(const std::string& state)
{
    if (state == "paused") {
        return {"bad", "PAUSED"};
    }
    if (state == "retrying") {
        return {"warn", "RETRYING"};
    }
    return {"good", "OK"};
}

std::string ago(std::optional<std::int64_t> ms, std::int64_t now_ms)
{
    if (!ms) {
        return "never";
    }
    return format_age(age_seconds(*ms, now_ms)) + " ago";
}

std::string time_element(std::optional<std::int64_t> ms, std::int64_t now_ms)
{
    if (!ms) {
        return "never";
    }
    return "<time datetime=\"" + format_iso8601_ms(*ms) + "\" title=\"" + format_iso8601_ms(*ms) + "\">" +
           ago(ms, now_ms) + "</time>";
}

/// A column after Tenant, the row's name and State.
struct Column {
    const char* heading;
    bool numeric = false;  ///< right-aligned
};

/// A section with a table of one kind of thing every tenant has (its sources, its endpoints): a row each,
/// with the tenant, the thing's name and its state first.
struct TableShape {
    const char* id;         ///< of the section and its heading: "sources"
    const char* title;      ///< "Sources"
    const char* name;       ///< the heading of the names' column: "Source"
    const char* attribute;  ///< the rows' data- attribute holding the name: "source"
    std::span<const Column> columns;
};

struct Row {
    const std::string& tenant;
    const std::string& name;
    Look look;
    std::string detail;              ///< HTML after the state, or ""
    std::vector<std::string> cells;  ///< HTML, one per column
};

void table(std::string& out, const TableShape& shape, const std::vector<Row>& rows)
{
    out += std::string("<section aria-labelledby=\"") + shape.id + "\"><h2 id=\"" + shape.id + "\">" + shape.title +
           "</h2>\n<table>\n<thead><tr><th scope=\"col\">Tenant</th><th scope=\"col\">" + shape.name +
           "</th><th scope=\"col\">State</th>";
    for (const auto& column : shape.columns) {
        out += std::string(column.numeric ? "<th scope=\"col\" class=\"n\">" : "<th scope=\"col\">") + column.heading +
               "</th>";
    }
    out += "</tr></thead>\n<tbody>\n";
    for (const auto& row : rows) {
        out += "<tr class=\"" + std::string(row.look.row) + "\" data-tenant=\"" + escape(row.tenant) + "\" data-" +
               shape.attribute + "=\"" + escape(row.name) + "\"><td>" + escape(row.tenant) + "</td><td>" +
               escape(row.name) + "</td><td><span class=\"state\">" + row.look.label + "</span>" + row.detail + "</td>";
        for (std::size_t i = 0; i < row.cells.size(); ++i) {
            out += std::string(shape.columns[i].numeric ? "<td class=\"n\">" : "<td>") + row.cells[i] + "</td>";
        }
        out += "</tr>\n";
    }
    out += "</tbody>\n</table></section>\n";
}

constexpr Column k_source_columns[] = {{"Last success"}, {"Checkpoint lag"}, {"Last poll"}, {"Quarantined", true}};
constexpr TableShape k_sources{"sources", "Sources", "Source", "source", k_source_columns};

constexpr Column k_endpoint_columns[] = {{"Queued", true}, {"Size", true}, {"Oldest", true}, {"Set aside", true}};
constexpr TableShape k_endpoints{"endpoints", "Endpoints", "Endpoint", "endpoint", k_endpoint_columns};

void sources_table(std::string& out, const Status& status)
{
    const auto now = status.generated_at_ms;
    std::vector<Row> rows;
    for (const auto& tenant : status.tenants) {
        for (const auto& source : tenant.sources) {
            const auto& poll = source.last_poll;
            std::string detail;
            if (poll && !poll->ok) {
                detail = "<span class=\"detail\">" + escape(poll->outcome) +
                         (poll->message.empty() ? std::string() : ": " + escape(poll->message)) + "</span>";
            }
            std::string lag = "-";
            if (source.checkpoint_ms) {
                lag = "<span title=\"checkpoint " + format_iso8601_ms(*source.checkpoint_ms) + "\">" +
                      format_age(age_seconds(*source.checkpoint_ms, now)) + "</span>";
            }
            rows.push_back({tenant.name,
                            source.name,
                            source_look(source.state),
                            std::move(detail),
                            {time_element(poll ? poll->last_success_ms : std::nullopt, now), std::move(lag),
                             time_element(poll ? std::optional(poll->polled_at_ms) : std::nullopt, now),
                             std::to_string(source.quarantined)}});
        }
    }
    table(out, k_sources, rows);
}

void endpoints_table(std::string& out, const Status& status)
{
    const auto now = status.generated_at_ms;
    std::vector<Row> rows;
    for (const auto& tenant : status.tenants) {
        for (const auto& endpoint : tenant.endpoints) {
            std::string detail;
            if (endpoint.state != "ok") {
                detail = "<span class=\"detail\">" + escape(endpoint.reason) +
                         (endpoint.since_ms ? ", since " + ago(endpoint.since_ms, now) : std::string()) + "</span>";
            }
            const bool queue = endpoint.has_outbox;
            rows.push_back({tenant.name,
                            endpoint.name,
                            endpoint_look(endpoint.state),
                            std::move(detail),
                            {queue ? std::to_string(endpoint.figures.events) : "-",
                             queue ? format_bytes(endpoint.figures.bytes) : "-",
                             endpoint.oldest_ms ? format_age(age_seconds(*endpoint.oldest_ms, now)) : "-",
                             queue ? std::to_string(endpoint.figures.rejected) : "-"}});
        }
    }
    table(out, k_endpoints, rows);
}

std::string summary(const Status& status)
{
    std::size_t sources = 0;
    std::size_t down = 0;
    std::size_t paused = 0;
    for (const auto& tenant : status.tenants) {
        for (const auto& source : tenant.sources) {
            ++sources;
            down += source.state == "down" ? 1 : 0;
        }
        for (const auto& endpoint : tenant.endpoints) {
            paused += endpoint.state == "paused" ? 1 : 0;
        }
    }
    std::string text = down == 0 ? "All " + std::to_string(sources) + " sources OK"
                                 : std::to_string(down) + " of " + std::to_string(sources) + " sources DOWN";
    if (paused > 0) {
        text += ", " + std::to_string(paused) + " endpoint" + (paused == 1 ? "" : "s") + " PAUSED";
    }
    return text;
}

}  // namespace

std::string status_page(const Status& status)
{
    std::string out = k_head;
    out += "<main id=\"status\">\n<p class=\"summary\">" + escape(summary(status)) + "</p>\n<p>Version " +
           std::string(k_version) + " &middot; " + std::to_string(status.tenants.size()) + " tenant" +
           (status.tenants.size() == 1 ? "" : "s") + " &middot; updated <time datetime=\"" +
           format_iso8601_ms(status.generated_at_ms) + "\">" + format_iso8601_ms(status.generated_at_ms) +
           "</time></p>\n";
    if (!status.note.empty()) {
        out += "<p>" + escape(status.note) + "</p>\n";
    }
    sources_table(out, status);
    endpoints_table(out, status);
    out += "</main>\n";
    out += k_tail;
    return out;
}

std::optional<http::ServerResponse> serve_status(const http::ServerRequest& request, const Config& config,
                                                 StateStore* store)
{
    const auto path = request.path();
    if ((request.method != "GET" && request.method != "HEAD") || (path != "/" && path != "/status")) {
        return std::nullopt;
    }
    const Status status = collect_status(config, store, DaemonStatus{true, static_cast<long>(::getpid()), "daemon"},
                                         std::chrono::system_clock::now());
    http::ServerResponse response;
    response.headers.emplace_back("Cache-Control", "no-store");
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (path == "/status") {
        response.content_type = "application/json";
        response.body = status_json(status);
    } else {
        response.content_type = "text/html; charset=utf-8";
        response.headers.emplace_back("Content-Security-Policy",
                                      "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                                      "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'");
        response.body = status_page(status);
    }
    return response;
}

}  // namespace c4c::daemon
