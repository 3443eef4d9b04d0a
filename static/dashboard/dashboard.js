// edgepay operators' dashboard: reads the payments index through the operator APIs with a
// server credential held in memory only, and draws the last hour without a framework.
"use strict";

const STATES = ["accepted", "submitted", "completed", "failed"];
const HOUR_MS = 3600 * 1000;
const BUCKETS = 12;
const MAX_PAGES = 10;
const SVG = "http://www.w3.org/2000/svg";

let authorization = null; // "Basic …": never written to storage
let since = null;

const $ = (id) => document.getElementById(id);

function setState(output, state, text) {
  output.dataset.state = state;
  output.textContent = text;
}

async function api(path, init = {}) {
  const resp = await fetch(path, {
    ...init,
    credentials: "omit",
    headers: { ...(init.headers || {}), Authorization: authorization },
  });
  const text = await resp.text();
  let body = null;
  try { body = JSON.parse(text); } catch (_) { body = text; }
  if (!resp.ok) {
    const why = body && body.title ? `${body.title}${body.detail ? ": " + body.detail : ""}` : text;
    throw new Error(`${resp.status} ${why}`);
  }
  return body;
}

/// Every page of a listing (at most MAX_PAGES), following `next_cursor`.
async function all(path) {
  const rows = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const body = await api(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    rows.push(...body.data);
    if (!body.has_more) break;
    cursor = body.next_cursor;
  }
  return rows;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function ms(v) {
  if (v === null) return "–";
  return v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`;
}

function drawChart(rows, now) {
  const start = now - HOUR_MS;
  const width = BUCKETS * 50 + 40;
  const height = 180;
  const counts = Array.from({ length: BUCKETS }, () => Object.fromEntries(STATES.map((s) => [s, 0])));
  for (const row of rows) {
    const at = Date.parse(row.created);
    const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor(((at - start) / HOUR_MS) * BUCKETS)));
    if (STATES.includes(row.state)) counts[bucket][row.state] += 1;
  }
  const max = Math.max(1, ...counts.map((c) => STATES.reduce((n, s) => n + c[s], 0)));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const plot = height - 30;
  counts.forEach((c, i) => {
    let y = plot;
    for (const state of STATES) {
      if (c[state] === 0) continue;
      const h = Math.max(1, (c[state] / max) * (plot - 10));
      y -= h;
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(30 + i * 50 + 5));
      rect.setAttribute("y", String(y));
      rect.setAttribute("width", "40");
      rect.setAttribute("height", String(h));
      rect.setAttribute("class", `bar s-${state}`);
      rect.dataset.state = state;
      rect.dataset.count = String(c[state]);
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${c[state]} ${state}`;
      rect.appendChild(title);
      svg.appendChild(rect);
    }
    if (i % 3 === 0) {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", String(30 + i * 50 + 5));
      label.setAttribute("y", String(height - 10));
      label.textContent = new Date(start + (i * HOUR_MS) / BUCKETS).toISOString().slice(11, 16);
      svg.appendChild(label);
    }
  });
  const axis = document.createElementNS(SVG, "text");
  axis.setAttribute("x", "2");
  axis.setAttribute("y", "12");
  axis.textContent = String(max);
  svg.appendChild(axis);
  $("chart").replaceChildren(svg);
  $("legend").replaceChildren(...STATES.map((s) => {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `s-${s}`;
    li.append(swatch, s);
    return li;
  }));
}

function showDetail(link) {
  return async () => {
    $("detail").textContent = "loading…";
    try {
      $("detail").textContent = JSON.stringify(await api(link), null, 2);
    } catch (e) {
      $("detail").textContent = String(e.message);
    }
  };
}

function linkButton(text, link) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "link";
  b.textContent = text;
  // Only this gateway's own status and delivery-log links are followed.
  const url = new URL(link, location.origin);
  if (url.origin === location.origin && /^\/request\/[0-9a-f]{32}\/(status|callbacks)$/.test(url.pathname)) {
    b.addEventListener("click", showDetail(url.pathname));
  } else {
    b.disabled = true;
  }
  return b;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function render(rows, deadLetters, now) {
  $("total").textContent = `(${rows.length}${rows.length >= MAX_PAGES * 100 ? "+" : ""})`;
  drawChart(rows, now);

  const durations = rows
    .filter((r) => r.state === "completed" || r.state === "failed")
    .map((r) => Date.parse(r.updated) - Date.parse(r.created))
    .sort((a, b) => a - b);
  $("p50").textContent = ms(percentile(durations, 50));
  $("p99").textContent = ms(percentile(durations, 99));
  $("results").textContent = String(durations.length);

  const outcomes = {};
  for (const r of rows) outcomes[r.callback.state] = (outcomes[r.callback.state] || 0) + 1;
  $("callbacks").replaceChildren(...Object.keys(outcomes).sort().flatMap((k) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = String(outcomes[k]);
    dd.dataset.callbackState = k;
    return [dt, dd];
  }));

  const seen = new Set();
  const failures = [...rows.filter((r) => r.state === "failed"), ...deadLetters]
    .filter((r) => !seen.has(r.request_id) && seen.add(r.request_id))
    .sort((a, b) => Date.parse(b.created) - Date.parse(a.created))
    .slice(0, 20);
  $("failures").tBodies[0].replaceChildren(...failures.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.requestId = r.request_id;
    const links = document.createElement("td");
    links.append(linkButton("status", r.links.status));
    if (r.links.callbacks) links.append(linkButton("deliveries", r.links.callbacks));
    tr.append(
      cell(r.created.slice(11, 19)),
      cell(r.subject),
      cell(r.state, r.state),
      cell(r.result_status === null ? "–" : String(r.result_status)),
      cell(`${r.callback.state} (${r.callback.attempts})`, r.callback.state),
      links,
    );
    return tr;
  }));
}

async function load() {
  const now = Date.now();
  since = new Date(now - HOUR_MS).toISOString();
  setState($("load-state"), "busy", "loading…");
  $("load").disabled = true;
  try {
    const q = `since=${encodeURIComponent(since)}&limit=100`;
    const [rows, deadLetters] = await Promise.all([all(`/requests?${q}`), all(`/callbacks/dead-letters?${q}`)]);
    render(rows, deadLetters, now);
    $("overview").hidden = false;
    setState($("load-state"), "ok", `loaded ${new Date(now).toISOString().slice(11, 19)} UTC`);
  } catch (e) {
    setState($("load-state"), "error", e.message);
  } finally {
    $("load").disabled = false;
  }
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key-id").value.trim();
  const secret = $("secret").value;
  $("secret").value = "";
  authorization = "Basic " + btoa(`${key}:${secret}`);
  load();
});

$("replay").addEventListener("click", async () => {
  if (!authorization) return;
  $("replay").disabled = true;
  setState($("replay-state"), "busy", "replaying…");
  try {
    const body = await api("/callbacks/dead-letters/replay", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ since }),
    });
    setState($("replay-state"), "ok", `started ${body.started}, skipped ${body.skipped}${body.has_more ? ", more remain" : ""}`);
  } catch (e) {
    setState($("replay-state"), "error", e.message);
  } finally {
    $("replay").disabled = false;
  }
});
