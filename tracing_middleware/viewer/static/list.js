// The trace list: filters (kept in the address), pages, and new traces appearing while it is open.
"use strict";

(() => {
  const { el, getJSON, duration, localTime, serviceColor, showNotice, base, pollMs } = TM;
  const params = new URLSearchParams(location.search);
  const form = document.getElementById("filters");
  const rows = document.getElementById("rows");
  const empty = document.getElementById("empty");
  const older = document.getElementById("older");
  const newer = document.getElementById("newer");
  const live = document.getElementById("live");
  const FILTERS = ["q", "service", "project", "tag", "meta", "since", "errors"];
  let lastShown = "";
  let nextCursor = null;

  // The form shows the filters in the address; submitting it reloads with them (a GET form).
  for (const name of FILTERS) {
    const input = form.elements[name];
    const value = params.get(name) || "";
    if (!input) continue;
    if (input.type === "checkbox") input.checked = value === "1";
    else if (input.tagName === "SELECT") ensureOption(input, value);
    else input.value = value;
  }

  function ensureOption(select, value) {
    if (value && ![...select.options].some((o) => o.value === value)) select.append(el("option", { value, text: value }));
    select.value = value;
  }

  async function loadOptions() {
    try {
      const found = await getJSON("/api/options");
      for (const [name, values] of [["service", found.services], ["project", found.projects]]) {
        const select = form.elements[name];
        const chosen = params.get(name) || "";
        for (const value of values) if (![...select.options].some((o) => o.value === value)) select.append(el("option", { value, text: value }));
        select.value = chosen;
      }
    } catch (_) {
      /* the list itself reports store problems */
    }
  }

  function query(cursor) {
    const q = new URLSearchParams();
    for (const name of FILTERS) if (params.get(name)) q.set(name, params.get(name));
    if (cursor) q.set("cursor", cursor);
    return q;
  }

  function row(trace) {
    const link = el("a", { href: `${base}/traces/${encodeURIComponent(trace.trace_id)}`, text: trace.name || "(unnamed)" });
    const services = el("td", { class: "services" });
    for (const name of trace.services) {
      const chip = el("span", { class: "chip", text: name });
      chip.style.borderColor = serviceColor(name);
      services.append(chip);
    }
    const status = el("td", { class: "status" });
    if (trace.error_count) status.append(el("span", { class: "badge error", text: `${trace.error_count} error${trace.error_count > 1 ? "s" : ""}` }));
    else status.append(el("span", { class: "badge ok", text: "ok" }));
    if (trace.in_progress) {
      status.append(el("span", { class: "badge progress", text: "in progress",
        title: trace.waiting_runs ? "some runs wait for a parent that is not stored (still running, or recorded elsewhere)" : "some runs have not finished" }));
    }
    const tr = el(
      "tr",
      { data: { traceId: trace.trace_id }, class: trace.error_count ? "has-error" : "" },
      el("td", { class: "name" }, link),
      services,
      el("td", { text: trace.project || "" }),
      el("td", { class: "num", text: String(trace.run_count) }),
      el("td", { class: "time", text: localTime(trace.start_us), title: new Date(trace.start_us / 1000).toISOString() }),
      el("td", { class: "num", text: duration(trace.duration_us) }),
      status,
    );
    tr.addEventListener("click", (event) => {
      if (event.target.closest("a")) return;
      location.href = link.href;
    });
    return tr;
  }

  async function refresh() {
    let page;
    try {
      page = await getJSON(`/api/traces?${query(params.get("cursor"))}`);
    } catch (error) {
      showNotice(`Cannot list traces: ${error.message}`);
      return;
    }
    showNotice(page.notice || "");
    const shown = JSON.stringify(page);
    if (shown === lastShown) return; // nothing new: leave the rows (and the reader's selection) alone
    lastShown = shown;
    rows.replaceChildren(...page.traces.map(row));
    empty.hidden = page.traces.length > 0;
    nextCursor = page.next;
    older.disabled = !nextCursor;
  }

  function go(cursor, back) {
    const q = query(cursor);
    if (back.length) q.set("back", back.join(","));
    location.search = q.toString();
  }

  const back = (params.get("back") || "").split(",").filter(Boolean);
  newer.disabled = !params.get("cursor");
  older.addEventListener("click", () => nextCursor && go(nextCursor, [...back, params.get("cursor") || "-"]));
  newer.addEventListener("click", () => {
    const previous = back.pop();
    go(previous && previous !== "-" ? previous : null, back);
  });

  loadOptions();
  refresh();
  if (!params.get("cursor")) {
    // Only the first page follows new traces; older pages stay put while they are read.
    live.textContent = "● live";
    setInterval(() => {
      if (!document.hidden) refresh();
    }, pollMs);
  }
})();
