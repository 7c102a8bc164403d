// promig dashboard: plain JavaScript, no framework, no build step. The token lives in
// sessionStorage (this tab only); every API call sends it as a bearer token, and the live feed
// (/api/v1/events, server-sent events) takes it as ?token= because EventSource cannot set headers.
"use strict";

const KEY = "promig-token";
const $ = (id) => document.getElementById(id);
let source = null;
let last = {};
let failures = 0;

function token() { return sessionStorage.getItem(KEY) || ""; }

// Builds an element: el("p", {class: "x"}, "text", child...).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function pct(x) { return (x * 100).toFixed(0) + " %"; }
function level(risk) { return risk >= 0.5 ? "high" : risk >= 0.2 ? "medium" : "low"; }
function duration(s) {
  if (s === null || s === undefined) return "no estimate";
  if (s < 120) return s.toFixed(0) + " s";
  if (s < 7200) return (s / 60).toFixed(0) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function mib(bytes) { return (bytes / 1048576).toFixed(0) + " MiB"; }

async function api(method, path, body) {
  const headers = { "Authorization": "Bearer " + token(), "X-Operator": "dashboard" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  if (!r.ok) throw new Error((data && data.error) || (r.status + " " + r.statusText));
  return data;
}

function notice(text) { $("notice").textContent = text; }

// Re-renders a section only when its data changed, keeping keyboard focus on the same control.
function renderSection(id, data, build) {
  const text = JSON.stringify(data);
  if (last[id] === text) return;
  last[id] = text;
  const focused = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.key : null;
  const box = $(id);
  box.replaceChildren(build(data));
  if (focused) {
    const again = box.querySelector('[data-key="' + CSS.escape(focused) + '"]');
    if (again) again.focus();
  }
}

// Bits per second as people read them.
function bps(x) {
  if (x >= 1e9) return (x / 1e9).toFixed(2) + " Gb/s";
  if (x >= 1e6) return (x / 1e6).toFixed(1) + " Mb/s";
  return (x / 1e3).toFixed(0) + " kb/s";
}

// Chain k's marker: a letter and a shape in text (read by screen readers, visible without colour)
// plus an outline style per chain (class chain-k modulo 6).
const SHAPES = ["◆", "●", "▲", "■", "★", "✚"];
function chainMark(k) { return SHAPES[k % SHAPES.length] + "C" + (k + 1); }

// One link's migration load: a bar against capacity when the world reports it, and a label that
// says what the figure is.
function linkView(link, what) {
  if (!link) return null;
  const share = link.capacity_bps ? link.migration_bps / link.capacity_bps : null;
  const text = what + ": migration traffic " + bps(link.migration_bps) +
    (share === null ? " (capacity not reported)" : " of " + bps(link.capacity_bps) + " (" + pct(share) + ")") +
    " · " + link.migrations + (link.migrations === 1 ? " migration" : " migrations");
  return el("div", { class: "link" + (link.migrations ? " busy" : ""), "data-link": link.name },
    el("div", { class: "meta" }, text),
    // A meter, not a styled div: the page's content-security policy forbids inline styles.
    share === null ? null : el("meter", { class: "bar", min: "0", max: "1", low: "0.5", high: "0.8",
      optimum: "0", value: String(Math.min(1, share)), "aria-hidden": "true" }, pct(share)));
}

function chainsLegend(chains) {
  if (!chains.length) return el("p", { class: "empty" }, "No service chains in this world.");
  return el("ul", { class: "chains", "aria-label": "Service chains" }, chains.map((c) =>
    el("li", { class: "chain chain-" + (c.index % SHAPES.length) + (c.at_risk ? " at-risk" : ""), "data-chain": c.index },
      el("span", { class: "mark" }, chainMark(c.index)),
      " VNFs " + c.vnfs.join(" → ") + " · " + c.vms.length + " VMs on " + c.hosts.length + " hosts · ",
      c.at_risk
        ? el("strong", {}, "at risk: " + (c.hosts_at_risk.length ? c.hosts_at_risk.join(", ") : "a member is down"))
        : "no member host at risk",
      el("details", {}, el("summary", {}, "Members"), el("p", { class: "help" },
        c.vms.join(", ") + (c.hosts.length ? " on " + c.hosts.join(", ") : ""))))));
}

// A prediction built on missing or stale inputs says so: a host that looks safe for lack of
// data must not look like a safe host.
function confidenceView(c) {
  if (!c || c.fraction >= 1) return null;
  const gaps = c.missing.map((m) => m + " (missing)")
    .concat(c.stale.map((s) => s.input + " (" + duration(s.age_s) + " old)"));
  return el("div", { class: "meta low-confidence" },
    el("strong", {}, "confidence " + pct(c.fraction)),
    el("details", {}, el("summary", {}, gaps.length + " inputs lacking"),
      el("ul", {}, gaps.map((g) => el("li", {}, g)))));
}

function hostsView(hosts, vms, chains, links) {
  if (!hosts.length) return el("p", { class: "empty" }, "No hosts yet.");
  const chainOf = new Map(vms.filter((v) => v.chain !== null && v.chain !== undefined).map((v) => [v.name, v.chain]));
  const linkOf = new Map(links.map((l) => [l.kind === "rack-uplink" ? "rack " + l.rack : l.host, l]));
  const racks = new Map();
  for (const h of hosts) {
    if (!racks.has(h.rack)) racks.set(h.rack, []);
    racks.get(h.rack).push(h);
  }
  const moving = new Set((last.migratingVms || "").split("\n"));
  const wrap = el("div", { class: "racks" });
  for (const rack of [...racks.keys()].sort((a, b) => a - b)) {
    const list = el("ul", { class: "hostgrid" });
    for (const h of racks.get(rack)) {
      const lv = h.up ? level(h.risk) : "down";
      const inChains = [...new Set(h.vms.filter((v) => chainOf.has(v)).map((v) => chainOf.get(v)))].sort((a, b) => a - b);
      const cls = "host " + lv + (inChains.length ? " in-chain chain-" + (inChains[0] % SHAPES.length) : "");
      list.append(el("li", { class: cls, "data-host": h.name },
        el("div", { class: "name" }, h.name),
        el("div", { class: "meta" }, h.up
          ? ["risk ", el("strong", {}, pct(h.risk) + " (" + lv + ")"),
             h.risk >= 0.05 ? " · " + h.cause : "",
             h.risk >= 0.05 && h.time_left_s !== null && h.time_left_s !== undefined ? " · " + duration(h.time_left_s) + " left" : ""]
          : "down"),
        confidenceView(h.confidence),
        el("div", { class: "meta" }, "CPU " + pct(h.cpu_utilization) + " · memory " +
          (h.memory_reserved_mib / 1024).toFixed(1) + " / " + (h.memory_mib / 1024).toFixed(1) + " GiB"),
        inChains.length
          ? el("div", { class: "meta chains-here" }, "chains: ", inChains.map((k) =>
              el("span", { class: "mark chain-" + (k % SHAPES.length) }, chainMark(k))))
          : null,
        linkView(linkOf.get(h.name), "NIC"),
        h.vms.length
          ? el("ul", { class: "vms", "aria-label": h.vms.length + " VMs on " + h.name },
              h.vms.map((v) => {
                const k = chainOf.get(v);
                const c = (moving.has(v) ? "moving " : "") + (k === undefined ? "" : "mark chain-" + (k % SHAPES.length));
                return el("li", { class: c || null, "data-chain": k === undefined ? null : k },
                  (k === undefined ? "" : chainMark(k) + " ") + v + (moving.has(v) ? " (moving)" : ""));
              }))
          : el("div", { class: "meta" }, "no VMs")));
    }
    wrap.append(el("section", { class: "rack", "aria-label": "Rack " + rack },
      el("h3", {}, "Rack " + rack + " (" + racks.get(rack).length + " hosts)"),
      linkView(linkOf.get("rack " + rack), "Rack uplink"), list));
  }
  return el("div", {}, el("h3", {}, "Service chains"), chainsLegend(chains), wrap);
}

async function act(id, verb) {
  try {
    const r = await api("POST", "/api/v1/plans/" + id + "/" + verb);
    const state = r.plan ? r.plan.state : r.state;
    notice("Plan " + id + ": " + (verb === "approve" ? "approved" : "cancel requested") + " (now " + state + ").");
  } catch (e) {
    notice("Plan " + id + ": " + verb + " refused: " + e.message);
  }
}

// The agent's side of a plan's reason: the options it scored (the one taken first), waiting's
// score, and the features that weighed most.
function scoredView(sc) {
  return el("details", {}, el("summary", {}, "Agent's options (waiting scored " + sc.wait_score.toFixed(2) + ")"),
    el("ol", {}, sc.options.map((o) => el("li", {},
      el("strong", {}, o.destination + " by " + o.technique), " " + o.score.toFixed(2),
      o.unavailable ? " (not available then)" : "",
      o.weighed_most.length
        ? ": " + o.weighed_most.map((f) => f.feature + " " + (f.effect >= 0 ? "+" : "") + f.effect.toFixed(2)).join(", ")
        : ""))));
}

function plansView(plans) {
  if (!plans.length) return el("p", { class: "empty" }, "No open plans.");
  return el("div", { class: "cards" }, plans.map((p) => {
    const r = p.reason;
    const open = p.state === "recommended";
    return el("article", { class: "card plan", "data-plan": p.id, "aria-labelledby": "plan-" + p.id },
      el("h3", { id: "plan-" + p.id }, "Plan " + p.id + ": " + p.vm + " from " + p.source + " to " + p.destination + " ",
        el("span", { class: "state" }, p.state)),
      el("dl", {},
        el("dt", {}, "Cause"), el("dd", {}, r.cause),
        el("dt", {}, "Risk"), el("dd", {}, el("span", { class: "risk " + level(r.risk) }, pct(r.risk))),
        el("dt", {}, "Time left"), el("dd", {}, duration(r.time_left_s)),
        el("dt", {}, "Technique"), el("dd", {}, p.technique),
        el("dt", {}, "Predicted downtime"), el("dd", {}, r.predicted_downtime_ms.toFixed(1) + " ms"),
        el("dt", {}, "Predicted total"), el("dd", {}, r.predicted_total_s.toFixed(1) + " s"),
        el("dt", {}, "Constraints"), el("dd", {}, r.meets_constraints ? "met" : "best effort (none met)")),
      p.detail ? el("p", { class: "help" }, p.detail) : null,
      r.rejected.length
        ? el("details", {}, el("summary", {}, r.rejected.length + " rejected alternatives"),
            el("ul", {}, r.rejected.map((a) => el("li", {}, el("strong", {}, a.option), ": " + a.why))))
        : null,
      r.scored ? scoredView(r.scored) : null,
      el("div", { class: "actions" },
        open ? el("button", { type: "button", "data-key": "approve-" + p.id,
          onclick: () => act(p.id, "approve") }, "Approve plan " + p.id) : null,
        el("button", { type: "button", class: "secondary", "data-key": "cancel-" + p.id,
          onclick: () => act(p.id, "cancel") }, "Cancel plan " + p.id)));
  }));
}

function migrationsView(migs) {
  if (!migs.length) return el("p", { class: "empty" }, "No migration running.");
  return el("div", { class: "cards" }, migs.map((m) => {
    const g = m.progress;
    const total = g.transferred_bytes + g.remaining_bytes;
    const done = total > 0 ? g.transferred_bytes / total : 0;
    const id = "prog-" + m.plan.id;
    return el("article", { class: "card migration", "data-plan": m.plan.id },
      el("h3", {}, "Plan " + m.plan.id + ": " + m.plan.vm + " " + m.plan.source + " → " + m.plan.destination),
      el("label", { for: id }, "Transferred " + mib(g.transferred_bytes) + ", " + mib(g.remaining_bytes) + " left (" + pct(done) + ")"),
      el("progress", { id, max: "1", value: String(done) }, pct(done)),
      el("dl", {},
        el("dt", {}, "Phase"), el("dd", {}, String(g.status)),
        el("dt", {}, "Dirty rate"), el("dd", {}, g.dirty_pages_rate + " pages/s"),
        el("dt", {}, "Expected downtime"), el("dd", {}, g.expected_downtime_ms + " ms"),
        el("dt", {}, "Elapsed"), el("dd", {}, (g.elapsed_ms / 1000).toFixed(1) + " s")));
  }));
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function historyView(history) {
  const done = history.filter((p) => p.measured);
  if (!done.length) return el("p", { class: "empty" }, "No migration has finished yet.");
  const W = 560, H = 320, L = 60, B = 46, T = 16, R = 16;
  const max = Math.max(1, ...done.map((p) => Math.max(p.reason.predicted_downtime_ms, p.measured.downtime_ms))) * 1.1;
  const x = (v) => L + (W - L - R) * v / max;
  const y = (v) => H - B - (H - B - T) * v / max;
  const svg = s("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
    "aria-labelledby": "hist-title" });
  svg.append(s("title", { id: "hist-title" }, "Predicted against measured downtime of the last " + done.length + " migrations; points on the diagonal were predicted exactly"));
  for (let i = 0; i <= 4; i++) {
    const v = max * i / 4;
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#ddd" }));
    svg.append(s("text", { x: L - 6, y: y(v) + 4, "font-size": 11, "text-anchor": "end", fill: "#333" }, v.toFixed(0)));
    svg.append(s("text", { x: x(v), y: H - B + 16, "font-size": 11, "text-anchor": "middle", fill: "#333" }, v.toFixed(0)));
  }
  svg.append(s("line", { x1: x(0), y1: y(0), x2: x(max), y2: y(max), stroke: "#555", "stroke-dasharray": "5 4" }));
  svg.append(s("text", { x: (L + W - R) / 2, y: H - 8, "font-size": 12, "text-anchor": "middle", fill: "#111" }, "predicted downtime (ms)"));
  svg.append(s("text", { x: 14, y: (T + H - B) / 2, "font-size": 12, "text-anchor": "middle", fill: "#111",
    transform: "rotate(-90 14 " + (T + H - B) / 2 + ")" }, "measured downtime (ms)"));
  for (const p of done) {
    const ok = p.state === "succeeded";
    const c = s("circle", { cx: x(p.reason.predicted_downtime_ms), cy: y(p.measured.downtime_ms), r: 5,
      fill: ok ? "#0b57a4" : "#b00020", stroke: "#fff", "class": "point" });
    c.append(s("title", {}, "plan " + p.id + " (" + p.state + "): predicted " + p.reason.predicted_downtime_ms.toFixed(1) +
      " ms, measured " + p.measured.downtime_ms.toFixed(1) + " ms"));
    svg.append(c);
  }
  const rows = done.slice(0, 20).map((p) => el("tr", {},
    el("td", {}, String(p.id)), el("td", {}, p.vm), el("td", {}, p.state),
    el("td", {}, p.reason.predicted_downtime_ms.toFixed(1)), el("td", {}, p.measured.downtime_ms.toFixed(1))));
  return el("div", {},
    el("div", { class: "chart" }, svg),
    el("p", { class: "help" }, "Blue: succeeded; red: failed or cancelled. Dashed: prediction = measurement."),
    el("details", {}, el("summary", {}, "The figures (latest 20)"),
      el("div", { class: "tablewrap" }, el("table", {},
        el("tr", {}, ["plan", "VM", "state", "predicted ms", "measured ms"].map((h) => el("th", { scope: "col" }, h))),
        rows))));
}

function render(state) {
  const st = state.status;
  $("summary").textContent = st.world + " world · policy " + st.policy + " · world time " + duration(st.world_time_s) +
    " · " + st.open_plans + " open plans · " + st.migrations_running + " migrations running" +
    (st.kill_switch ? " · KILL SWITCH ENGAGED" : "");
  last.migratingVms = state.migrations.map((m) => m.plan.vm).join("\n");
  renderSection("plans", state.plans, plansView);
  renderSection("migrations", state.migrations, migrationsView);
  const chainOfVm = (state.vms || []).filter((v) => v.chain !== null && v.chain !== undefined).map((v) => ({ name: v.name, chain: v.chain }));
  renderSection("hosts", { h: state.hosts, m: last.migratingVms, v: chainOfVm, c: state.chains, l: state.links },
    (d) => hostsView(d.h, d.v || [], d.c || [], d.l || []));
  renderSection("history", state.history, historyView);
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}

function connect() {
  if (source) source.close();
  source = new EventSource("/api/v1/events?token=" + encodeURIComponent(token()));
  source.addEventListener("state", (e) => {
    failures = 0;
    render(JSON.parse(e.data));
  });
  source.addEventListener("error", () => {
    failures += 1;
    if (source.readyState === EventSource.CLOSED) {
      // Closed for good: the token was refused, or the controller stopped. Ask the API which.
      api("GET", "/api/v1/status").then(() => setTimeout(connect, 2000), (err) => {
        if (/token/.test(err.message)) { logout("The token was refused."); }
        else { $("summary").textContent = "Controller unreachable; retrying."; setTimeout(connect, 3000); }
      });
    } else {
      $("summary").textContent = "Connection lost; reconnecting…";
    }
  });
}

function show(app) {
  $("login").hidden = app;
  $("app").hidden = !app;
  $("logout").hidden = !app;
}

function logout(message) {
  if (source) { source.close(); source = null; }
  sessionStorage.removeItem(KEY);
  last = {};
  show(false);
  $("summary").textContent = "Not connected.";
  $("login-error").textContent = message || "";
  $("token").focus();
}

async function login(ev) {
  ev.preventDefault();
  const t = $("token").value.trim();
  sessionStorage.setItem(KEY, t);
  try {
    await api("GET", "/api/v1/status");
  } catch (e) {
    sessionStorage.removeItem(KEY);
    $("login-error").textContent = "Refused: " + e.message;
    return;
  }
  $("token").value = "";
  $("login-error").textContent = "";
  show(true);
  connect();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout(""));
  if (token()) { show(true); connect(); } else { show(false); }
});
