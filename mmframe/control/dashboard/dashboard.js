// mmframe dashboard: polls /state, /health and /history; POSTs pause/resume/flatten and run-time
// parameter changes (/params, validated by the server exactly as any other client's) with the token.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "mmframe-control-token";

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls) td.className = cls;
  return td;
}

function signClass(value) {
  const n = parseFloat(value);
  return n > 0 ? "pos" : n < 0 ? "neg" : "";
}

function fillRows(tbodyId, rows, empty) {
  const tbody = $(tbodyId);
  tbody.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(empty, "dim");
    td.colSpan = 8;
    tr.appendChild(td);
    tbody.appendChild(tr);
    return;
  }
  for (const cells of rows) {
    const tr = document.createElement("tr");
    cells.forEach((c) => tr.appendChild(c));
    tbody.appendChild(tr);
  }
}

function money(value) {
  return value === null || value === undefined ? "–" : "$" + value;
}

function time(ns) {
  return new Date(ns / 1e6).toLocaleTimeString();
}

function renderState(s) {
  $("pipeline").textContent = s.pipeline + (s.mode === "paper" ? " - paper trading (fills simulated)" : "");
  const badge = $("trading-state");
  badge.textContent = s.trading.state;
  badge.className = "badge " + s.trading.state;
  badge.dataset.state = s.trading.state;
  $("venue").textContent = "venue: " + s.venue.status;
  for (const key of ["net", "realised", "unrealised", "fees"]) {
    const el = $("pnl-" + key);
    el.textContent = money(s.pnl[key]);
    el.className = key === "fees" ? "" : signClass(s.pnl[key]);
  }
  $("pnl-day-start").textContent = money(s.pnl.day_start);
  const reason = s.risk.halt_reason ? " — " + s.risk.halt_reason : "";
  $("risk-summary").textContent =
    "state: " + s.risk.state + reason + " · rules: " + (s.risk.rules.join(", ") || "none");
  // Repeated verdicts come grouped by market, rule and verdict, with a count and the latest reason.
  fillRows("verdicts", (s.risk.verdict_groups || []).slice(0, 10).map((g) => [
    cell(time(g.last_ns)), cell(g.ticker, "name"), cell(g.rule, "name"), cell(g.verdict),
    countCell(g.count), cell(g.reason, "text"),
  ]), "no verdicts");
  fillRows("positions", s.positions.map((p) => [
    cell(p.ticker, "name"), cell(p.position, signClass(p.position)), cell(p.avg_price), cell(p.mark),
    cell(p.realised_pnl, signClass(p.realised_pnl)), cell(p.unrealised_pnl, signClass(p.unrealised_pnl)), cell(p.fees),
  ]), "flat");
  fillRows("markets", s.markets.map((m) => {
    const q = m.last_quote || { bids: [], asks: [] };
    return [
      cell(m.ticker, "name"), cell(m.book.best_bid), cell(m.book.best_ask),
      cell(q.bids.length ? q.bids[0].size + " @ " + q.bids[0].price : null),
      cell(q.asks.length ? q.asks[0].size + " @ " + q.asks[0].price : null),
      cell(m.position, signClass(m.position)), cell((m.quote_uptime * 100).toFixed(1) + "%"),
    ];
  }), "no markets");
  fillRows("orders", s.working_orders.map((o) => [
    cell(o.ticker, "name"), cell(o.side), cell(o.price), cell(o.remaining), cell(o.filled), cell(o.status),
  ]), "no working orders");
  renderParams(s.components || {});
}

function countCell(count) {
  const td = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = "count";
  badge.textContent = "×" + count;
  td.appendChild(badge);
  return td;
}

// --- run-time parameters ---------------------------------------------------------------------

let paramsShown = "";

function renderParams(components) {
  const form = $("params");
  const editable = Object.entries(components).filter(([, c]) => c.updatable && c.updatable.length);
  const signature = JSON.stringify(editable);
  // Redraw only when the values changed and nobody is typing in the form.
  if (signature === paramsShown || form.contains(document.activeElement)) return;
  paramsShown = signature;
  form.replaceChildren();
  if (!editable.length) {
    form.textContent = "no component has run-time parameters";
    return;
  }
  for (const [target, component] of editable) {
    const fieldset = document.createElement("fieldset");
    fieldset.dataset.target = target;
    const legend = document.createElement("legend");
    legend.textContent = target === "strategy" ? "strategy (" + component.use + ")" : target;
    fieldset.appendChild(legend);
    for (const field of component.updatable) {
      const label = document.createElement("label");
      label.textContent = field;
      const input = document.createElement("input");
      input.name = field;
      input.dataset.field = field;
      const value = component.params[field];
      input.value = value === undefined || value === null ? "" : String(value);
      input.dataset.original = input.value;
      input.setAttribute("aria-label", target + " " + field);
      label.appendChild(input);
      fieldset.appendChild(label);
    }
    const apply = document.createElement("button");
    apply.type = "button";
    apply.textContent = "Apply";
    apply.dataset.target = target;
    apply.addEventListener("click", () => applyParams(fieldset));
    fieldset.appendChild(apply);
    form.appendChild(fieldset);
  }
}

function parseValue(text) {
  // Numbers, booleans and null as JSON; anything else as a string. The server validates.
  try { return JSON.parse(text); } catch (error) { return text; }
}

async function applyParams(fieldset) {
  const target = fieldset.dataset.target;
  const params = {};
  for (const input of fieldset.querySelectorAll("input")) {
    if (input.value.trim() !== input.dataset.original) params[input.dataset.field] = parseValue(input.value.trim());
  }
  if (!Object.keys(params).length) { say(target + ": nothing changed"); return; }
  const secret = token();
  if (!secret) { say("a control token is needed", true); return; }
  try {
    const response = await fetch("/params", {
      method: "POST",
      headers: { "Authorization": "Bearer " + secret, "Content-Type": "application/json" },
      body: JSON.stringify({ target, params }),
    });
    const body = await response.json();
    if (!response.ok) {
      if (response.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      say("params refused (" + response.status + "): " + body.error, true);
      return;
    }
    const changed = Object.keys(params).map((k) => k + "=" + JSON.stringify(body.params[k])).join(", ");
    say("params: " + target + " now " + changed);
    paramsShown = "";
    if (document.activeElement) document.activeElement.blur();
  } catch (error) {
    say("/params failed: " + error.message, true);
  }
  refresh();
}

function renderChart(points) {
  const svg = $("pnl-chart");
  const W = 600, H = 180, L = 56, R = 8, T = 10, B = 22;
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const add = (name, attrs, text) => {
    const el = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.appendChild(el);
    return el;
  };
  if (points.length < 2) {
    add("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "collecting PnL points…");
    return;
  }
  const xs = points.map((p) => p.ts_ns / 1e9), ys = points.map((p) => parseFloat(p.net));
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = Math.min(0, ...ys), y1 = Math.max(0, ...ys);
  if (y1 - y0 < 0.01) { y0 -= 0.01; y1 += 0.01; }
  const sx = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  add("line", { x1: L, x2: W - R, y1: sy(0), y2: sy(0), stroke: "#2a323c" });
  add("text", { x: L - 6, y: sy(y1) + 4, "text-anchor": "end" }, "$" + y1.toFixed(2));
  add("text", { x: L - 6, y: sy(y0) + 4, "text-anchor": "end" }, "$" + y0.toFixed(2));
  add("text", { x: L, y: H - 6 }, new Date(x0 * 1000).toLocaleTimeString());
  add("text", { x: W - R, y: H - 6, "text-anchor": "end" }, new Date(x1 * 1000).toLocaleTimeString());
  const d = xs.map((x, i) => (i ? "L" : "M") + sx(x).toFixed(1) + " " + sy(ys[i]).toFixed(1)).join(" ");
  const last = ys[ys.length - 1];
  add("path", { d, fill: "none", stroke: last < 0 ? "#f85149" : "#3fb950", "stroke-width": 2 });
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  return [response.status, await response.json()];
}

async function refresh() {
  try {
    const [, state] = await getJSON("/state");
    renderState(state);
    const [status, health] = await getJSON("/health");
    $("health").textContent = status === 200 ? "health: ready" : "health: not ready — " + health.reasons.join("; ");
    const [, history] = await getJSON("/history");
    renderChart(history.points);
  } catch (error) {
    $("health").textContent = "health: unreachable (" + error.message + ")";
  }
}

function token() {
  let value = $("token").value.trim() || sessionStorage.getItem(TOKEN_KEY) || "";
  if (!value) value = (window.prompt("Control token") || "").trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  return value;
}

function say(text, isError) {
  const el = $("message");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

async function post(path, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return;
  const secret = token();
  if (!secret) { say("a control token is needed", true); return; }
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Authorization": "Bearer " + secret, "Content-Type": "application/json" },
      body: JSON.stringify({ reason: "dashboard" }),
    });
    const body = await response.json();
    if (!response.ok) {
      if (response.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      say(path + " refused (" + response.status + "): " + body.error, true);
    } else if (path === "/flatten") {
      say("flatten: cancelled " + body.canceled + ", closes " + body.closes.length + (body.flat ? ", flat" : ", not flat"));
    } else {
      say(path.slice(1) + ": now " + body.state);
    }
  } catch (error) {
    say(path + " failed: " + error.message, true);
  }
  refresh();
}

$("btn-pause").addEventListener("click", () => post("/pause"));
$("btn-resume").addEventListener("click", () => post("/resume"));
$("btn-flatten").addEventListener("click", () => post("/flatten", "Cancel every order and close every position?"));
refresh();
setInterval(refresh, 1000);
