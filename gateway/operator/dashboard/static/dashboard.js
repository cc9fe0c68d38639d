// gw dashboard: follows /_gw/ws, draws the feed and per-service charts, switches modes via the admin API.
// Plain browser JS, no build step. Everything from the network is put in the page as text, never as HTML:
// request paths are whatever clients sent.
"use strict";

(() => {
  const WINDOW_MS = 5 * 60 * 1000;   // what the charts show
  const BUCKET_MS = 5 * 1000;        // one chart point
  const BUCKETS = WINDOW_MS / BUCKET_MS;
  const NOW_MS = 60 * 1000;          // the headline numbers: the last minute
  const MAX_ROWS = 300;              // feed rows kept in the page
  const MAX_LOG = 50;

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  const state = {
    samples: new Map(),   // service -> [{t, status, ms}] within WINDOW_MS
    violations: new Map(),// service -> count
    paused: false,
    filter: "",
    skew: 0,              // server clock - browser clock, from the hello frame
    socket: null,
    retry: 1000,
    seen: new Set(),      // request ids already in the feed (journal prefill + live may overlap)
  };

  // ---- helpers ---------------------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const now = () => Date.now() + state.skew;
  const eventTime = (event) => {
    const parsed = typeof event.ts === "number" ? event.ts * 1000 : Date.parse(event.ts);
    return Number.isFinite(parsed) ? parsed : now();
  };
  const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false }) + "." + String(Math.floor(ms % 1000)).padStart(3, "0");
  // Operators read 5xx and 4xx apart: a 5xx is the gateway's or an upstream's failure, a 4xx a client's error
  // (most often the validator refusing a request that breaks the contract: the gateway doing its job).
  const isFailure = (status) => status >= 500;
  const isClientError = (status) => status >= 400 && status < 500;
  const share = (samples, test) => (samples.length ? (100 * samples.filter((s) => test(s.status)).length) / samples.length : 0);

  function percentile(values, p) {
    if (!values.length) return null;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  }

  // a share as operators read it: "0%", "0.4%" (never rounded down to nothing), "25%"
  function percent(value) {
    return value > 0 && value < 1 ? `${value.toFixed(1)}%` : `${value.toFixed(0)}%`;
  }

  function formatMs(value) {
    if (value === null) return "–";
    return value >= 100 ? String(Math.round(value)) : value.toFixed(1);
  }

  // ---- services and modes ----------------------------------------------------------------------

  function card(service) {
    return $(`article.service[data-service="${CSS.escape(service)}"]`);
  }

  function showMode(service, mode) {
    const node = card(service);
    if (!node) return;
    const select = $("select", node);
    select.value = mode;
    select.dataset.current = mode;
    const label = $("label.mode", node);
    label.className = `mode mode-${mode}`;
  }

  function showOperationMode(service, operation, mode, own) {
    const node = card(service);
    if (!node) return;
    for (const row of $$("tr[data-operation]", node)) {
      if (operation === null ? !$(".op-mode", row).classList.contains("own") : row.dataset.operation === operation) {
        const cell = $(".op-mode", row);
        cell.textContent = mode;
        if (operation !== null) cell.classList.toggle("own", own);
      }
    }
    const count = $$(".op-mode.own", node).length;
    $(".overrides", node).textContent = count ? ` · ${count} with a mode of their own` : "";
  }

  function showChaos(service, summary) {
    const line = $(`[data-chaos-for="${CSS.escape(service)}"]`);
    if (!line || summary === undefined) return;
    $("b", line).textContent = summary;
    line.hidden = summary === "off";
  }

  async function refreshChaos(service) {
    try {
      const response = await fetch(`/_gw/api/services/${encodeURIComponent(service)}/chaos`, { headers: { accept: "application/json" } });
      if (response.ok) showChaos(service, (await response.json()).summary);
    } catch (error) { /* the next event tries again */ }
  }

  function applyServices(services) {
    for (const service of services) {
      showChaos(service.name, service.chaos);
      showMode(service.name, service.mode);
      for (const op of service.operations || []) showOperationMode(service.name, op.key, op.mode, Boolean(op.override));
    }
  }

  function say(service, text, ok) {
    const message = $(".message", card(service));
    message.textContent = text;
    message.classList.toggle("ok", Boolean(ok));
    message.hidden = false;
    clearTimeout(message._timer);
    message._timer = setTimeout(() => { message.hidden = true; }, ok ? 3000 : 10000);
  }

  async function switchMode(select) {
    const service = select.dataset.modeFor;
    const mode = select.value;
    const previous = select.dataset.current || mode;
    select.disabled = true;
    try {
      const response = await fetch(`/_gw/api/services/${encodeURIComponent(service)}/mode`, {
        method: "PUT",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ mode }),
      });
      if (!response.ok) {
        let detail = `${response.status}`;
        try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
        throw new Error(detail);
      }
      select.dataset.current = mode;
      showMode(service, mode);
      showOperationMode(service, null, mode, false);
      say(service, `now ${mode}`, true);
    } catch (error) {
      select.value = previous;
      showMode(service, previous);
      say(service, `could not switch to ${mode}: ${error.message}`);
    } finally {
      select.disabled = false;
    }
  }

  // ---- the feed ----------------------------------------------------------------------------------

  function matchesFilter(event) {
    if (!state.filter) return true;
    const text = [event.method, event.path, event.status, event.service, event.source, event.operation, event.mode]
      .join(" ").toLowerCase();
    return state.filter.split(/\s+/).every((word) => text.includes(word));
  }

  function row(event) {
    const status = Number(event.status);
    const notes = el("td", { class: "notes" });
    if (event.contract && event.contract.length) notes.append(el("span", { class: "tag tag-contract", text: "contract" }));
    if (event.near_misses && event.near_misses.length) notes.append(el("span", { class: "tag tag-near", text: `near miss ×${event.near_misses.length}` }));
    else if (event.near_miss) notes.append(el("span", { class: "tag tag-near", text: "near miss" }));
    if (event.stub) notes.append(el("span", { class: "tag tag-stub", text: "stub file" }));
    const tr = el("tr", { class: "exchange fresh", "data-id": event.id, "data-service": event.service || "" },
      el("td", { class: "time", text: clock(eventTime(event)) }),
      el("td", { class: `method m-${String(event.method).toLowerCase()}`, text: event.method }),
      el("td", { class: "path", title: event.path, text: event.path }),
      el("td", { class: `status s${String(status)[0]}`, text: status }),
      el("td", { text: event.service || "–" }),
      el("td", {}, el("span", { class: `source source-${event.source || "none"}`, text: event.source || "–" })),
      el("td", { class: "num", text: formatMs(Number(event.duration_ms)) }),
      notes);
    tr._event = event;
    tr.hidden = !matchesFilter(event);
    return tr;
  }

  function addToFeed(event) {
    if (event.id && state.seen.has(event.id)) return;
    if (event.id) state.seen.add(event.id);
    const body = $("#feed tbody");
    body.prepend(row(event));
    $("#feed-empty").hidden = true;
    while (body.rows.length > MAX_ROWS) {
      const last = body.rows[body.rows.length - 1];
      if (last._event) state.seen.delete(last._event.id);
      last.remove();
    }
  }

  function list(title, items, cls) {
    if (!items || !items.length) return null;
    return el("div", {}, el("h4", { text: title }), el("ul", {}, ...items.map((item) => el("li", { class: cls, text: item }))));
  }

  function detailsFor(event, full) {
    const facts = [
      ["request id", event.id], ["time", event.ts], ["operation", event.operation || "– (no operation matched)"],
      ["mode", event.mode || "–"], ["answered by", event.source || "–"], ["stub file", event.stub || "–"],
      ["latency", `${formatMs(Number(event.duration_ms))} ms`],
    ];
    if (full && full.notes && full.notes.upstream) facts.push(["upstream", full.notes.upstream]);
    if (full && full.notes && full.notes.retries) facts.push(["retries", full.notes.retries]);
    const dl = el("dl", {});
    for (const [key, value] of facts) dl.append(el("dt", { text: key }), el("dd", { text: value }));
    const misses = full && full.near_misses
      ? full.near_misses.map((m) => `${m.stub}: ${m.reasons.join("; ")}`)
      : (event.near_misses || (event.near_miss ? [event.near_miss] : []));
    const contract = event.contract || (full && full.notes && full.notes.contract) || [];
    const problem = full && full.notes && full.notes.problem_detail;
    const refusals = problem ? (problem.errors || []).map((e) =>
      `${[e.in, (e.name || "") + (e.pointer || "")].filter(Boolean).join(" ")}: ${e.message}`) : [];
    if (problem && !refusals.length) refusals.push(`${problem.title}: ${problem.detail}`);
    const box = el("div", { class: "details" }, dl,
      list("Refused (every failure the gateway found)", refusals, "contract"),
      list("Near misses (stub files that almost matched, and why not)", misses, "near"),
      list("Contract violations (the answer breaks the spec)", contract, "contract"));
    if (!misses.length && !contract.length) box.append(el("p", { class: "empty", text: "No near misses, no contract violations." }));
    if (full && full.response && full.response.headers) {
      box.append(el("h4", { text: "Response headers" }));
      const headers = el("dl", {});
      for (const [key, value] of Object.entries(full.response.headers)) headers.append(el("dt", { text: key }), el("dd", { text: value }));
      box.append(headers);
    }
    return box;
  }

  async function toggleDetails(tr) {
    const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains("details") ? tr.nextElementSibling : null;
    $$("#feed tr.selected").forEach((node) => node.classList.remove("selected"));
    $$("#feed tr.details").forEach((node) => node.remove());
    if (open) return;
    tr.classList.add("selected");
    const cell = el("td", { colspan: 8 }, detailsFor(tr._event, null));
    const detailRow = el("tr", { class: "details" }, cell);
    tr.after(detailRow);
    try {  // the journal has the full exchange (headers, structured near misses) while it still holds it
      const response = await fetch(`/_gw/api/journal/${encodeURIComponent(tr._event.id)}`, { headers: { accept: "application/json" } });
      if (response.ok && detailRow.isConnected) cell.replaceChildren(detailsFor(tr._event, await response.json()));
    } catch (_) { /* the event's own details stay */ }
  }

  // ---- side logs ---------------------------------------------------------------------------------

  function log(listId, parts, cls) {
    const target = $(listId);
    $$(".empty", target).forEach((node) => node.remove());
    target.prepend(el("li", { class: cls }, el("time", { text: clock(now()) }), ...parts));
    while (target.children.length > MAX_LOG) target.lastElementChild.remove();
  }

  function countViolation(event) {
    const service = event.service || "?";
    state.violations.set(service, (state.violations.get(service) || 0) + 1);
    const badge = $(`[data-violations-for="${CSS.escape(service)}"]`);
    if (badge) {
      const n = state.violations.get(service);
      badge.textContent = `${n} contract violation${n === 1 ? "" : "s"}`;
      badge.hidden = false;
    }
    let total = 0;
    for (const n of state.violations.values()) total += n;
    $("#total-violations").textContent = String(total);
    log("#violations", [el("b", { text: service }), ` ${event.method} ${event.path} → ${event.status}: `,
      el("code", { text: event.contract[0] }), event.contract.length > 1 ? ` (+${event.contract.length - 1} more)` : ""]);
  }

  // ---- charts ------------------------------------------------------------------------------------

  function record(event, at) {
    const service = event.service;
    if (!service) return;
    if (!state.samples.has(service)) state.samples.set(service, []);
    state.samples.get(service).push({ t: at, status: Number(event.status), ms: Number(event.duration_ms) });
  }

  function series(samples, end) {
    const start = end - WINDOW_MS;
    const buckets = Array.from({ length: BUCKETS }, () => []);
    for (const sample of samples) {
      const index = Math.floor((sample.t - start) / BUCKET_MS);
      if (index >= 0 && index < BUCKETS) buckets[index].push(sample);
    }
    return {
      rate: buckets.map((b) => b.length / (BUCKET_MS / 1000)),
      failures: buckets.map((b) => share(b, isFailure)),
      p95: buckets.map((b) => percentile(b.map((s) => s.ms), 95) || 0),
    };
  }

  function headline(samples, end) {
    const recent = samples.filter((s) => s.t > end - NOW_MS);
    return {
      rate: recent.length / (NOW_MS / 1000),
      failures: share(recent, isFailure),
      client: share(recent, isClientError),
      p95: percentile(recent.map((s) => s.ms), 95),
      count: recent.length,
    };
  }

  function spark(svg, values) {
    const max = Math.max(...values, 0) || 1;
    const step = 120 / (values.length - 1);
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(33 - (v / max) * 30).toFixed(1)}`).join(" ");
    const ns = "http://www.w3.org/2000/svg";
    const area = document.createElementNS(ns, "polygon");
    area.setAttribute("points", `0,34 ${points} 120,34`);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points);
    const title = document.createElementNS(ns, "title");
    title.textContent = `peak ${max.toFixed(max >= 10 ? 0 : 1)} over the last 5 minutes`;
    svg.replaceChildren(title, area, line);
  }

  function drawCharts() {
    const end = now();
    const everything = [];
    for (const node of $$("article.service")) {
      const service = node.dataset.service;
      const samples = (state.samples.get(service) || []).filter((s) => s.t > end - WINDOW_MS);
      state.samples.set(service, samples);
      everything.push(...samples);
      const points = series(samples, end);
      const current = headline(samples, end);
      for (const figure of $$("figure.chart", node)) {
        const metric = figure.dataset.metric;
        spark($("svg", figure), points[metric]);
        const value = metric === "rate" ? current.rate.toFixed(current.rate >= 10 ? 0 : 2)
          : metric === "failures" ? percent(current.failures) : formatMs(current.p95);
        $("figcaption b", figure).textContent = value;
        if (metric === "failures") $("figcaption .client i", figure).textContent = percent(current.client);
      }
    }
    const total = headline(everything, end);
    $("#total-rate").textContent = total.rate.toFixed(total.rate >= 10 ? 0 : 2);
    $("#total-5xx").textContent = percent(total.failures);
    $("#total-5xx").classList.toggle("failing", total.failures > 0);
    $("#total-4xx").textContent = percent(total.client);
    $("#total-p95").textContent = total.p95 === null ? "–" : `${formatMs(total.p95)} ms`;
  }

  // ---- the live socket ---------------------------------------------------------------------------

  function connection(text, kind) {
    const pill = $("#connection");
    pill.textContent = text;
    pill.className = `pill pill-${kind}`;
  }

  const handlers = {
    hello(event) {
      state.skew = event.ts * 1000 - Date.now();
      if (event.services) applyServices(event.services);
      connection("live", "live");
      state.retry = 1000;
    },
    exchange(event) {
      record(event, eventTime(event));
      if (event.contract && event.contract.length) countViolation(event);
      if (!state.paused) addToFeed(event);
    },
    mode(event) {
      if (event.operation) showOperationMode(event.service, event.operation, event.mode, true);
      else { showMode(event.service, event.mode); showOperationMode(event.service, null, event.mode, false); }
      log("#gateway-events", [el("b", { text: event.service }), event.operation ? ` ${event.operation}` : "", " is now ",
        el("b", { text: event.mode })]);
    },
    chaos(event) {
      refreshChaos(event.service);
      log("#gateway-events", [el("b", { text: event.service }), event.operation ? ` ${event.operation}` : "", " chaos: ",
        el("b", { text: event.chaos })], event.switched ? "bad" : "");
    },
    circuit(event) {
      log("#gateway-events", [el("b", { text: event.service }), ` ${event.instance}: circuit ${event.from} → `,
        el("b", { text: event.to })], event.to === "open" ? "bad" : "");
    },
    dropped(event) {
      log("#gateway-events", [`this page fell behind: ${event.count} ${event.count === 1 ? "event was" : "events were"} dropped`], "bad");
    },
    heartbeat() {},
  };

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/_gw/ws`);
    state.socket = socket;
    connection("connecting…", "wait");
    socket.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      const handle = handlers[event.type];
      if (handle) handle(event);
    };
    socket.onclose = () => {
      connection("offline · retrying", "down");
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 15000);
    };
  }

  async function prefill() {
    // What the journal already holds, so a freshly opened page is not empty. The live feed may overlap: ids dedupe.
    try {
      const response = await fetch("/_gw/api/journal?limit=100", { headers: { accept: "application/json" } });
      if (!response.ok) return;
      const { entries } = await response.json();
      for (const entry of entries) {
        record(entry, eventTime(entry));
        addToFeed(entry);
      }
      $$("#feed tr.fresh").forEach((node) => node.classList.remove("fresh"));
      drawCharts();
    } catch (_) { /* no journal: the live feed still works */ }
  }

  // ---- wiring ------------------------------------------------------------------------------------

  function start() {
    const initial = JSON.parse($("#initial-services").textContent);
    for (const service of initial) {
      const select = $(`select[data-mode-for="${CSS.escape(service.name)}"]`);
      if (select) select.dataset.current = service.mode;
    }
    for (const select of $$("select[data-mode-for]")) select.addEventListener("change", () => switchMode(select));
    $("#feed tbody").addEventListener("click", (click) => {
      const tr = click.target.closest("tr.exchange");
      if (tr) toggleDetails(tr);
    });
    $("#filter").addEventListener("input", (input) => {
      state.filter = input.target.value.trim().toLowerCase();
      for (const tr of $$("#feed tr.exchange")) tr.hidden = !matchesFilter(tr._event);
      $$("#feed tr.details").forEach((node) => node.remove());
    });
    $("#pause").addEventListener("click", (click) => {
      state.paused = !state.paused;
      click.target.setAttribute("aria-pressed", String(state.paused));
      click.target.textContent = state.paused ? "Resume" : "Pause";
    });
    $("#clear").addEventListener("click", () => {
      $("#feed tbody").replaceChildren();
      state.seen.clear();
      $("#feed-empty").hidden = false;
    });
    prefill().finally(connect);
    drawCharts();
    setInterval(drawCharts, 1000);
  }

  start();
})();
