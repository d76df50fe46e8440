// The services view: calls between services in a time window (count, errors, p50/p95 latency), as a
// table and as a small map. Calls from outside the store (a trace's first service) come from "entry".
"use strict";

(() => {
  const { el, getJSON, duration, serviceColor, showNotice } = TM;
  const SVG = "http://www.w3.org/2000/svg";
  const params = new URLSearchParams(location.search);
  const form = document.getElementById("filters");
  const rows = document.getElementById("rows");
  const empty = document.getElementById("empty");
  const graph = document.getElementById("graph");
  if (params.has("since")) form.elements.since.value = params.get("since");

  const label = (name) => (name === null ? "entry" : name || "(no service)");

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function drawGraph(calls) {
    // Columns by call depth from the entries; one node per service.
    const level = new Map();
    const names = new Set();
    for (const c of calls) {
      names.add(label(c.caller));
      names.add(label(c.callee));
    }
    for (const c of calls) if (c.caller === null) level.set("entry", 0);
    for (let pass = 0; pass < names.size; pass++) {
      for (const c of calls) {
        const from = level.has(label(c.caller)) ? level.get(label(c.caller)) : 0;
        if (!level.has(label(c.caller))) level.set(label(c.caller), 0);
        if (!level.has(label(c.callee)) || level.get(label(c.callee)) < from + 1) {
          if (from + 1 < names.size) level.set(label(c.callee), from + 1);
        }
      }
    }
    const columns = new Map();
    for (const name of names) {
      const l = level.get(name) || 0;
      if (!columns.has(l)) columns.set(l, []);
      columns.get(l).push(name);
    }
    const pos = new Map();
    let height = 0;
    for (const [l, members] of columns) {
      members.sort().forEach((name, i) => pos.set(name, { x: 20 + l * 260, y: 30 + i * 64 }));
      height = Math.max(height, 30 + members.length * 64);
    }
    const width = 20 + Math.max(0, ...columns.keys()) * 260 + 170;
    graph.setAttribute("viewBox", `0 0 ${width} ${height}`);
    graph.setAttribute("width", width);
    graph.setAttribute("height", height);
    graph.replaceChildren();
    for (const c of calls) {
      const a = pos.get(label(c.caller));
      const b = pos.get(label(c.callee));
      const line = svg("line", { x1: a.x + 150, y1: a.y + 14, x2: b.x, y2: b.y + 14, class: c.errors ? "edge error" : "edge" });
      // The label sits near the callee's end of the line, where lines from one caller fan apart.
      const lx = a.x + 150 + (b.x - a.x - 150) * 0.62;
      const ly = a.y + 14 + (b.y - a.y) * 0.62 - 4;
      graph.append(line, svg("text", { x: lx, y: ly, class: "edge-label" },
        `${c.count} · p95 ${c.p95_us === null ? "—" : duration(c.p95_us)}`));
    }
    for (const [name, p] of pos) {
      graph.append(svg("rect", { x: p.x, y: p.y, width: 150, height: 28, rx: 6, class: "node",
        stroke: name === "entry" ? "#888" : serviceColor(name) }));
      graph.append(svg("text", { x: p.x + 75, y: p.y + 18, class: "node-label" }, name.length > 20 ? `${name.slice(0, 19)}…` : name));
    }
  }

  async function load() {
    const q = new URLSearchParams();
    const since = params.has("since") ? params.get("since") : "1d";
    if (since) q.set("since", since);
    let found;
    try {
      found = await getJSON(`/api/services?${q}`);
    } catch (error) {
      showNotice(`Cannot read the calls: ${error.message}`);
      return;
    }
    showNotice(found.truncated ? "Only the most recent calls of this window are counted." : "");
    const traces = (service) => {
      const q = new URLSearchParams({ service: service || "" });
      if (since) q.set("since", since);
      return el("a", { href: `${TM.base}/?${q}`, text: label(service), title: "traces through this service" });
    };
    rows.replaceChildren(...found.calls.map((c) => el("tr", { data: { caller: label(c.caller), callee: label(c.callee) } },
      el("td", {}, c.caller === null ? "entry" : traces(c.caller)), el("td", {}, traces(c.callee)),
      el("td", { class: "num", text: String(c.count) }), el("td", { class: "num", text: String(c.errors) }),
      el("td", { class: "num", text: `${(c.error_rate * 100).toFixed(1)}%` }),
      el("td", { class: "num", text: c.p50_us === null ? "—" : duration(c.p50_us) }),
      el("td", { class: "num", text: c.p95_us === null ? "—" : duration(c.p95_us) }))));
    empty.hidden = found.calls.length > 0;
    drawGraph(found.calls);
  }

  load();
})();
