// The trace page: a waterfall (one row per run, bars on one time axis for the whole trace), collapsible
// subtrees, a detail panel, and deep links (?run=<id>). Only the rows on screen are in the DOM, so a
// trace of 10,000 runs opens and scrolls as fast as a small one.
"use strict";

(() => {
  const { el, getJSON, duration, localTime, preciseTime, serviceColor, assignColors, showNotice } = TM;
  const traceId = document.body.dataset.traceId;
  const ROW = 26; // px per row; matches .wf-row in viewer.css
  const OVERSCAN = 12;
  const scroll = document.getElementById("scroll");
  const spacer = document.getElementById("spacer");
  const rowsBox = document.getElementById("rows");
  const axis = document.getElementById("axis");
  const detail = document.getElementById("detail");
  const title = document.getElementById("title");
  const facts = document.getElementById("facts");

  let nodes = new Map(); // id -> node
  let tops = []; // top-level nodes, in start order
  let visible = []; // the flattened rows that are not inside a collapsed subtree
  let t0 = 0;
  let span = 1;
  let selected = new URLSearchParams(location.search).get("run");
  const collapsed = new Set();
  let inProgress = false;
  let lastPayload = "";
  let scheduled = false;

  function build(payload) {
    const cols = payload.columns;
    const at = Object.fromEntries(cols.map((c, i) => [c, i]));
    nodes = new Map();
    const ordered = payload.runs.map((r) => ({
      id: r[at.id], parent: r[at.parent_run_id], name: r[at.name], type: r[at.run_type], start: r[at.start_us],
      end: r[at.end_us], error: r[at.error], service: r[at.service], children: [], depth: 0, placeholder: false,
    }));
    for (const node of ordered) nodes.set(node.id, node);
    const anchor = ordered[0];
    tops = [];
    const waiting = new Map(); // a missing parent -> a placeholder row holding its stored children
    for (const node of ordered) {
      if (node.parent && nodes.has(node.parent)) nodes.get(node.parent).children.push(node);
      else if (!node.parent) tops.push(node);
      else {
        // Its parent is not stored yet: the trace is still being written. Say so; do not promote it.
        let holder = waiting.get(node.parent);
        if (!holder) {
          holder = { id: `waiting:${node.parent}`, runId: node.parent, parent: null,
            name: `parent run ${node.parent.slice(0, 13)}… not stored (still running, or recorded elsewhere)`,
            type: "", start: node.start, end: null, error: false, service: null, children: [], depth: 0, placeholder: true };
          waiting.set(node.parent, holder);
          tops.push(holder);
        }
        holder.children.push(node);
        holder.start = Math.min(holder.start, node.start);
      }
    }
    const unfinished = ordered.some((n) => n.end === null);
    inProgress = waiting.size > 0 || unfinished;
    t0 = Math.min(...tops.map((n) => n.start));
    let t1 = t0;
    for (const node of ordered) t1 = Math.max(t1, node.end === null ? node.start : node.end);
    span = Math.max(t1 - t0, 1);
    const byStart = (a, b) => a.start - b.start || (a.id < b.id ? -1 : 1);
    tops.sort(byStart);
    const stack = [...tops];
    while (stack.length) {
      const node = stack.pop();
      node.children.sort(byStart);
      for (const child of node.children) {
        child.depth = node.depth + 1;
        stack.push(child);
      }
    }
    const errors = ordered.filter((n) => n.error).length;
    const services = [...new Set(ordered.map((n) => n.service).filter(Boolean))].sort();
    // Colours in the order services join the trace, so caller and callee always differ.
    assignColors([...new Set(ordered.slice().sort((a, b) => a.start - b.start).map((n) => n.service).filter(Boolean))]);
    title.textContent = anchor.name || "(unnamed)";
    facts.replaceChildren(
      `${localTime(t0)} · ${duration(t1 - t0)} · ${ordered.length} run${ordered.length > 1 ? "s" : ""} · `,
      el("span", { class: errors ? "badge error" : "badge ok", text: errors ? `${errors} error${errors > 1 ? "s" : ""}` : "ok" }),
      " · ", ...services.flatMap((s) => [chip(s), " "]), ` · trace ${traceId}`,
    );
    const notes = [];
    if (waiting.size) notes.push(`In progress: ${waiting.size} run${waiting.size > 1 ? "s wait" : " waits"} for a parent run `
      + "that is not stored yet (it is still running, or its service records elsewhere).");
    if (unfinished) notes.push("In progress: some runs have not finished.");
    showNotice(notes.join(" "));
    drawAxis();
  }

  function chip(service) {
    const node = el("span", { class: "chip", text: service });
    node.style.borderColor = serviceColor(service);
    return node;
  }

  function flatten() {
    visible = [];
    const stack = [...tops].reverse();
    while (stack.length) {
      const node = stack.pop();
      visible.push(node);
      if (!collapsed.has(node.id)) for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
    }
    spacer.style.height = `${visible.length * ROW}px`;
  }

  function drawAxis() {
    axis.replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => {
      const tick = el("span", { class: "tick", text: duration(Math.round(span * f)) });
      tick.style.left = `${f * 100}%`;
      return tick;
    }));
  }

  function rowFor(node, index) {
    const hasKids = node.children.length > 0;
    const name = el("div", { class: "wf-name" });
    name.style.paddingLeft = `${6 + node.depth * 14}px`;
    name.append(hasKids
      ? el("button", { type: "button", class: "toggle", data: { toggle: "" }, "aria-label": collapsed.has(node.id) ? "expand" : "collapse",
        text: collapsed.has(node.id) ? "▸" : "▾" })
      : el("span", { class: "toggle-space" }));
    if (node.error) name.append(el("span", { class: "err-mark", text: "✗", title: "error" }));
    const dot = el("span", { class: "dot" });
    dot.style.background = node.placeholder ? "transparent" : serviceColor(node.service);
    name.append(dot, el("span", { class: "label", text: node.name || "(unnamed)", title: node.name || "" }));
    if (node.type && node.type !== "chain") name.append(el("span", { class: "type", text: node.type }));
    const end = node.end === null ? t0 + span : node.end;
    const bar = el("div", { class: `wf-bar${node.error ? " error" : ""}${node.end === null ? " running" : ""}`, data: { bar: "" } });
    bar.style.left = `${((node.start - t0) / span) * 100}%`;
    bar.style.width = `${(Math.max(end - node.start, 0) / span) * 100}%`;
    if (!node.placeholder) bar.style.background = serviceColor(node.service);
    const track = el("div", { class: "wf-track" }, bar);
    const attrs = { class: `wf-row${node.placeholder ? " placeholder" : ""}${node.id === selected ? " selected" : ""}`,
      role: "treeitem", "aria-level": String(node.depth + 1),
      data: node.placeholder ? { index: String(index), waitingFor: node.runId } : { index: String(index), runId: node.id } };
    if (hasKids) attrs["aria-expanded"] = collapsed.has(node.id) ? "false" : "true";
    return el("div", attrs, name, track, el("div", { class: "wf-dur", text: node.placeholder ? "" : duration(node.end === null ? null : node.end - node.start) }));
  }

  function render() {
    scheduled = false;
    const first = Math.max(0, Math.floor(scroll.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((scroll.scrollTop + scroll.clientHeight) / ROW) + OVERSCAN);
    rowsBox.style.transform = `translateY(${first * ROW}px)`;
    rowsBox.replaceChildren(...visible.slice(first, last).map((node, i) => rowFor(node, first + i)));
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(render);
    }
  }

  function field(label, value) {
    return [el("dt", { text: label }), el("dd", { text: value === null || value === undefined ? "—" : String(value) })];
  }

  function block(label, value) {
    if (value === null || value === undefined || (typeof value === "object" && Object.keys(value).length === 0)) return null;
    const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    return el("section", { class: "block" }, el("h3", { text: label }), el("pre", { text }));
  }

  async function openDetail(id) {
    detail.hidden = false;
    detail.replaceChildren(el("p", { text: "Loading…" }));
    let run;
    try {
      run = await getJSON(`/api/runs/${encodeURIComponent(id)}`);
    } catch (error) {
      detail.replaceChildren(el("p", { text: `Cannot load run ${id}: ${error.message}` }));
      return;
    }
    if (id !== selected) return; // another row was clicked meanwhile
    const node = nodes.get(id);
    const close = el("button", { type: "button", class: "close", "aria-label": "close", text: "×" });
    close.addEventListener("click", () => select(null));
    const metadata = run.extra && run.extra.metadata;
    const tags = el("div", { class: "tags" }, ...(run.tags || []).map((t) => el("span", { class: "chip", text: String(t) })));
    const parts = [
      el("header", {}, el("h2", { text: run.name || "(unnamed)" }), close),
      el("dl", { class: "facts" },
        ...field("status", run.error ? "error" : run.end_time ? "success" : "running"),
        ...field("type", run.run_type), ...field("service", run.service), ...field("project", run.session_name),
        ...field("start", node ? preciseTime(node.start) : run.start_time),
        ...field("end", node && node.end !== null ? preciseTime(node.end) : run.end_time),
        ...field("duration", duration(run.duration_us)),
        ...field("starts at", node ? `+${duration(node.start - t0)} into the trace` : null),
        ...field("run id", run.id), ...field("parent run id", run.parent_run_id), ...field("trace id", run.trace_id),
        ...field("span id", run.span_id), ...field("dotted order", run.dotted_order)),
      run.error ? el("section", { class: "block error" }, el("h3", { text: "Error" }), el("pre", { text: run.error })) : null,
      block("Inputs", run.inputs), block("Outputs", run.outputs), block("Metadata", metadata),
      (run.tags || []).length ? el("section", { class: "block" }, el("h3", { text: "Tags" }), tags) : null,
      block("Events", run.events),
    ];
    detail.replaceChildren(...parts.filter(Boolean)); // replaceChildren would print a null as "null"
  }

  function select(id) {
    selected = id;
    const url = new URL(location.href);
    if (id) url.searchParams.set("run", id);
    else url.searchParams.delete("run");
    history.replaceState(null, "", url);
    if (id) openDetail(id);
    else detail.hidden = true;
    schedule();
  }

  function reveal(id) {
    // Open every collapsed ancestor, then scroll the row into the middle of the view.
    let node = nodes.get(id);
    while (node && node.parent && nodes.has(node.parent)) {
      collapsed.delete(node.parent);
      node = nodes.get(node.parent);
    }
    flatten();
    const index = visible.findIndex((n) => n.id === id);
    if (index >= 0) scroll.scrollTop = Math.max(0, index * ROW - scroll.clientHeight / 3);
  }

  rowsBox.addEventListener("click", (event) => {
    const rowEl = event.target.closest(".wf-row");
    if (!rowEl) return;
    const node = visible[Number(rowEl.dataset.index)];
    if (!node) return;
    if (event.target.closest("[data-toggle]")) {
      if (collapsed.has(node.id)) collapsed.delete(node.id);
      else collapsed.add(node.id);
      flatten();
      schedule();
      return;
    }
    if (!node.placeholder) select(node.id);
  });
  // Keyboard: up/down move the selection, left/right collapse and expand, as in a file tree.
  scroll.tabIndex = 0;
  scroll.addEventListener("keydown", (event) => {
    if (!["ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight"].includes(event.key)) return;
    event.preventDefault();
    let index = visible.findIndex((n) => n.id === selected);
    const node = visible[index];
    if (event.key === "ArrowRight" && node && collapsed.has(node.id)) {
      collapsed.delete(node.id);
      flatten();
      schedule();
      return;
    }
    if (event.key === "ArrowLeft" && node && node.children.length && !collapsed.has(node.id)) {
      collapsed.add(node.id);
      flatten();
      schedule();
      return;
    }
    if (event.key === "ArrowLeft") index = node && node.parent ? visible.findIndex((n) => n.id === node.parent) : index;
    else {
      const step = event.key === "ArrowUp" ? -1 : 1;
      do index += step; while (index >= 0 && index < visible.length && visible[index].placeholder);
    }
    if (index < 0 || index >= visible.length) return;
    const top = index * ROW;
    if (top < scroll.scrollTop) scroll.scrollTop = top;
    else if (top + ROW > scroll.scrollTop + scroll.clientHeight) scroll.scrollTop = top + ROW - scroll.clientHeight;
    select(visible[index].id);
  });
  scroll.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", schedule);

  async function load(first) {
    let payload;
    try {
      payload = await getJSON(`/api/traces/${encodeURIComponent(traceId)}/waterfall`);
    } catch (error) {
      title.textContent = error.status === 404 ? "Trace not found" : "Cannot load the trace";
      showNotice(error.message);
      return;
    }
    const text = JSON.stringify(payload.runs.length) + payload.runs.map((r) => `${r[0]}${r[5]}`).join();
    if (text !== lastPayload) {
      lastPayload = text;
      build(payload);
      flatten();
      if (first && selected) {
        if (nodes.has(selected)) {
          reveal(selected);
          openDetail(selected);
        } else {
          showNotice(`Run ${selected} is not part of this trace.`);
          selected = null;
        }
      }
      render();
    }
    document.body.dataset.loaded = "1";
    if (inProgress) setTimeout(() => load(false), 2000); // follow a trace that is still being written
  }

  load(true);
})();
