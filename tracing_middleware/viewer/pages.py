"""The viewer's HTML: small static shells that load the shipped scripts, and message pages (404, 403, 500).

No value from the store is ever put into HTML here: the scripts fetch JSON and show every value with
``textContent``. What the shells do carry (the mount path, a validated id) is escaped anyway. The
Content-Security-Policy allows scripts and styles from the viewer itself only, and no inline script.
"""

from __future__ import annotations

from html import escape

__all__ = ["SECURITY_HEADERS", "message_page", "shell"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}

_NAV = (("list", "", "Traces"), ("services", "/services", "Services"))


def _head(title: str, base: str, script: str | None) -> str:
    scripts = ""
    if script is not None:
        scripts = (
            f'<script src="{escape(base)}/static/common.js" defer></script>'
            f'<script src="{escape(base)}/static/{escape(script)}.js" defer></script>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · tracing-middleware</title>"
        f'<link rel="stylesheet" href="{escape(base)}/static/viewer.css">{scripts}</head>'
    )


def _header(base: str, current: str) -> str:
    links = "".join(
        f'<a href="{escape(base)}{path or "/"}"{" aria-current=page" if key == current else ""}>{label}</a>'
        for key, path, label in _NAV
    )
    return (
        f'<header class="top"><a class="brand" href="{escape(base)}/">tracing-middleware</a><nav>{links}</nav></header>'
    )


_LIST_BODY = """
<form id="filters" class="filters" autocomplete="off">
  <input name="q" type="search" placeholder="run name contains…" aria-label="run name contains">
  <select name="service" aria-label="service"><option value="">all services</option></select>
  <select name="project" aria-label="project"><option value="">all projects</option></select>
  <input name="tag" placeholder="tag" aria-label="tag">
  <input name="meta" placeholder="metadata key=value" aria-label="metadata key=value">
  <select name="since" aria-label="time window">
    <option value="">any time</option><option value="15m">last 15 min</option><option value="1h">last hour</option>
    <option value="6h">last 6 hours</option><option value="1d">last day</option><option value="7d">last week</option>
  </select>
  <label><input name="errors" type="checkbox" value="1"> errors only</label>
  <button type="submit">Filter</button> <a href="?" class="clear">clear</a>
</form>
<p id="notice" class="notice" hidden></p>
<table class="traces"><thead><tr><th>Name</th><th>Services</th><th>Project</th><th class="num">Runs</th>
<th>Start</th><th class="num">Duration</th><th>Status</th></tr></thead><tbody id="rows"></tbody></table>
<p id="empty" class="empty" hidden>No traces match.</p>
<nav class="pager"><button id="newer" type="button" disabled>← newer</button>
<button id="older" type="button" disabled>older →</button><span id="live" class="live"></span></nav>
"""

_TRACE_BODY = """
<section class="trace-head"><h1 id="title">Loading…</h1><p id="facts" class="facts"></p>
<p id="notice" class="notice" hidden></p></section>
<div class="trace-layout">
  <div class="waterfall" id="waterfall">
    <div class="wf-head"><div class="wf-name">Run</div><div class="wf-axis" id="axis"></div>
      <div class="wf-dur">Duration</div></div>
    <div class="wf-scroll" id="scroll"><div class="wf-spacer" id="spacer">
      <div class="wf-rows" id="rows"></div></div></div>
  </div>
  <aside class="detail" id="detail" hidden></aside>
</div>
"""

_SERVICES_BODY = """
<form id="filters" class="filters">
  <select name="since" aria-label="time window">
    <option value="15m">last 15 min</option><option value="1h">last hour</option>
    <option value="6h">last 6 hours</option><option value="1d" selected>last day</option>
    <option value="7d">last week</option><option value="">any time</option>
  </select>
  <button type="submit">Show</button>
</form>
<p id="notice" class="notice" hidden></p>
<svg id="graph" class="graph" role="img" aria-label="service map"></svg>
<table class="calls"><thead><tr><th>Caller</th><th>Callee</th><th class="num">Calls</th><th class="num">Errors</th>
<th class="num">Error rate</th><th class="num">p50</th><th class="num">p95</th></tr></thead>
<tbody id="rows"></tbody></table>
<p id="empty" class="empty" hidden>No calls in this window.</p>
"""

_BODIES = {"list": ("Traces", _LIST_BODY), "trace": ("Trace", _TRACE_BODY), "services": ("Services", _SERVICES_BODY)}


def shell(page: str, base: str, poll_ms: int, trace_id: str = "") -> str:
    """The HTML of ``page`` (``list``, ``trace`` or ``services``); its script fills it in."""
    title, body = _BODIES[page]
    attrs = f'data-page="{page}" data-base="{escape(base)}" data-poll-ms="{int(poll_ms)}"'
    if trace_id:
        attrs += f' data-trace-id="{escape(trace_id)}"'
    return (
        _head(title, base, page)
        + f"<body {attrs}>{_header(base, 'list' if page == 'trace' else page)}<main>{body}</main></body></html>"
    )


def message_page(title: str, text: str, base: str = "") -> str:
    """A page that says one thing (not found, refused, failed), with a link home; no script."""
    return (
        _head(title, base, None)
        + f'<body class="message"><main><h1>{escape(title)}</h1><p>{escape(text)}</p>'
        + f'<p><a href="{escape(base)}/">All traces</a></p></main></body></html>'
    )
