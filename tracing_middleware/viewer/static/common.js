// Shared helpers of the trace viewer. Every value from the store goes into the page as text
// (textContent, createTextNode), never as HTML.
"use strict";

const TM = (() => {
  const body = document.body;
  const base = body.dataset.base || "";
  const pollMs = Number(body.dataset.pollMs) || 1000;

  // el("div", {class: "x", data: {runId: id}, text: "..."}, child, "text child", ...)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key === "data") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function getJSON(path) {
    const response = await fetch(base + path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    let payload = null;
    try {
      payload = await response.json();
    } catch (_) {
      payload = null;
    }
    if (!response.ok) throw new ApiError(response.status, (payload && payload.error) || response.statusText);
    return payload;
  }

  function duration(us) {
    if (us === null || us === undefined) return "running";
    if (us < 1000) return `${Math.round(us)}µs`;
    if (us < 1e6) return `${(us / 1000).toFixed(1)}ms`;
    if (us < 6e7) return `${(us / 1e6).toFixed(2)}s`;
    return `${Math.floor(us / 6e7)}m${Math.round((us % 6e7) / 1e6)}s`;
  }

  const pad = (n, w = 2) => String(n).padStart(w, "0");
  function localTime(us) {
    const d = new Date(us / 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function preciseTime(us) {
    return `${localTime(us)}.${pad(Math.floor(us % 1e6), 6)}`;
  }

  // A colour per service: distinct palette entries for the services a page names (assignColors),
  // else one derived from the name, so a service keeps its colour across the list's pages.
  const PALETTE = ["#7b3fbf", "#2f9e63", "#d97706", "#2563eb", "#db2777", "#0891b2", "#65a30d", "#dc2626", "#4b5563", "#9333ea"];
  const assigned = new Map();
  function assignColors(names) {
    assigned.clear();
    names.forEach((name, i) => assigned.set(name, i < PALETTE.length ? PALETTE[i] : null));
  }
  function serviceColor(name) {
    if (assigned.get(name)) return assigned.get(name);
    let hash = 2166136261;
    for (const ch of String(name || "")) hash = Math.imul(hash ^ ch.codePointAt(0), 16777619);
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b); // mix, so similar names land far apart
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
    return PALETTE[((hash ^ (hash >>> 16)) >>> 0) % PALETTE.length];
  }

  function showNotice(text) {
    const notice = document.getElementById("notice");
    if (!notice) return;
    notice.hidden = !text;
    notice.textContent = text || "";
  }

  return { base, pollMs, el, getJSON, ApiError, duration, localTime, preciseTime, serviceColor, assignColors, showNotice };
})();
