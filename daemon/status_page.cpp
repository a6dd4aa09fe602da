#include "daemon/status_page.hpp"

#include "infra/text.hpp"
#include "infra/time.hpp"
#include "infra/version.hpp"

#include <unistd.h>

#include <chrono>

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

void sources_table(std::string& out, const Status& status)
{
    const auto now = status.generated_at_ms;
    out += "<section aria-labelledby=\"sources\"><h2 id=\"sources\">Sources</h2>\n<table>\n<thead><tr>"
           "<th scope=\"col\">Tenant</th><th scope=\"col\">Source</th><th scope=\"col\">State</th>"
           "<th scope=\"col\">Last success</th><th scope=\"col\">Checkpoint lag</th><th scope=\"col\">Last poll</th>"
           "<th scope=\"col\" class=\"n\">Quarantined</th></tr></thead>\n<tbody>\n";
    for (const auto& tenant : status.tenants) {
        for (const auto& source : tenant.sources) {
            const Look look = source_look(source.state);
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
            out += "<tr class=\"" + std::string(look.row) + "\" data-tenant=\"" + escape(tenant.name) +
                   "\" data-source=\"" + escape(source.name) + "\"><td>" + escape(tenant.name) + "</td><td>" +
                   escape(source.name) + "</td><td><span class=\"state\">" + look.label + "</span>" + detail +
                   "</td><td>" + time_element(poll ? poll->last_success_ms : std::nullopt, now) + "</td><td>" + lag +
                   "</td><td>" + time_element(poll ? std::optional(poll->polled_at_ms) : std::nullopt, now) +
                   "</td><td class=\"n\">" + std::to_string(source.quarantined) + "</td></tr>\n";
        }
    }
    out += "</tbody>\n</table></section>\n";
}

void endpoints_table(std::string& out, const Status& status)
{
    const auto now = status.generated_at_ms;
    out += "<section aria-labelledby=\"endpoints\"><h2 id=\"endpoints\">Endpoints</h2>\n<table>\n<thead><tr>"
           "<th scope=\"col\">Tenant</th><th scope=\"col\">Endpoint</th><th scope=\"col\">State</th>"
           "<th scope=\"col\" class=\"n\">Queued</th><th scope=\"col\" class=\"n\">Size</th>"
           "<th scope=\"col\" class=\"n\">Oldest</th><th scope=\"col\" class=\"n\">Set aside</th></tr></thead>\n"
           "<tbody>\n";
    for (const auto& tenant : status.tenants) {
        for (const auto& endpoint : tenant.endpoints) {
            const Look look = endpoint_look(endpoint.state);
            std::string detail;
            if (endpoint.state != "ok") {
                detail = "<span class=\"detail\">" + escape(endpoint.reason) +
                         (endpoint.since_ms ? ", since " + ago(endpoint.since_ms, now) : std::string()) + "</span>";
            }
            const bool queue = endpoint.has_outbox;
            out += "<tr class=\"" + std::string(look.row) + "\" data-tenant=\"" + escape(tenant.name) +
                   "\" data-endpoint=\"" + escape(endpoint.name) + "\"><td>" + escape(tenant.name) + "</td><td>" +
                   escape(endpoint.name) + "</td><td><span class=\"state\">" + look.label + "</span>" + detail +
                   "</td><td class=\"n\">" + (queue ? std::to_string(endpoint.figures.events) : "-") +
                   "</td><td class=\"n\">" + (queue ? format_bytes(endpoint.figures.bytes) : "-") +
                   "</td><td class=\"n\">" +
                   (endpoint.oldest_ms ? format_age(age_seconds(*endpoint.oldest_ms, now)) : "-") +
                   "</td><td class=\"n\">" + (queue ? std::to_string(endpoint.figures.rejected) : "-") + "</td></tr>\n";
        }
    }
    out += "</tbody>\n</table></section>\n";
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
