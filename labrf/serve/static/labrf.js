// The page of labrf serve: stations, a form per procedure, the queue, the live plot of a
// run (its points as they are measured, from the server-sent stream) and the history.
// No library: everything this page needs is in this file, served by labrf.
"use strict";

const token = (() => {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) sessionStorage.setItem("labrf-token", decodeURIComponent(m[1]));
  return sessionStorage.getItem("labrf-token");
})();

async function api(path, options = {}) {
  const headers = Object.assign({"Content-Type": "application/json"}, options.headers || {});
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(path, Object.assign({}, options, {headers}));
  const body = response.headers.get("content-type")?.includes("json")
    ? await response.json() : await response.text();
  if (!response.ok) throw Object.assign(new Error(body.detail || response.statusText),
                                        {status: response.status, body});
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ""));
  return node;
}

function fmt(value, unit = "", digits = 4) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "number") return String(value);
  const a = Math.abs(value);
  const prefixes = [[1e9, "G"], [1e6, "M"], [1e3, "k"], [1, ""], [1e-3, "m"], [1e-6, "µ"],
                    [1e-9, "n"], [1e-12, "p"]];
  if (unit && a !== 0) {
    for (const [scale, p] of prefixes) {
      if (a >= scale * 0.9999) return `${+(value / scale).toPrecision(digits)} ${p}${unit}`;
    }
  }
  return `${+value.toPrecision(digits)}${unit ? " " + unit : ""}`;
}

const state = {procedures: [], stations: [], runs: [], live: null, selected: null};

// ------------------------------------------------------------------ stations and form

function renderStations() {
  const body = document.querySelector("#stations tbody");
  body.replaceChildren(...state.stations.map(s => el("tr", {"data-station": s.name},
    el("td", {}, s.name, el("div", {class: "hint"}, s.file)),
    el("td", {class: "state"}, s.state + (s.error ? `: ${s.error}` : "")),
    el("td", {}, s.running ?? ""), el("td", {}, s.queued),
    el("td", {class: "bench"}, ...s.instruments.map(i => el("div", {"data-instrument": i.name},
      `${i.name} (${i.role}): ${s.bench?.[i.name] ?? ""}`))))));
  const select = document.getElementById("station");
  const current = select.value;
  if (select.options.length !== state.stations.length) {
    select.replaceChildren(...state.stations.map(s => el("option", {value: s.name}, s.name)));
    if (current) select.value = current;
  }
}

function renderForm() {
  const name = document.getElementById("procedure").value;
  const proc = state.procedures.find(p => p.name === name);
  document.getElementById("procedure-doc").textContent = proc ? proc.doc : "";
  const box = document.getElementById("parameters");
  box.replaceChildren(...(proc ? proc.parameters : []).map(p => {
    let input;
    if (p.kind === "boolean") {
      input = el("input", {type: "checkbox", name: p.name});
      input.checked = !!p.default;
    } else if (p.choices) {
      input = el("select", {name: p.name}, ...p.choices.map(c => el("option", {value: c}, c)));
      input.value = p.default;
    } else {
      input = el("input", {type: "text", name: p.name, value: p.default ?? "",
                           title: `valid: ${p.valid}`});
    }
    const hint = p.kind === "" || Math.abs(p.minimum ?? 0) >= 1e9 ? "" : p.valid;
    return el("label", {}, el("span", {}, p.label + (p.units ? ` [${p.units}]` : "")),
              el("span", {}, input, " ", el("span", {class: "hint"}, hint)));
  }));
}

async function submitRun(event) {
  event.preventDefault();
  const error = document.getElementById("form-error");
  error.textContent = "";
  const proc = state.procedures.find(p => p.name === document.getElementById("procedure").value);
  const parameters = {};
  for (const p of proc.parameters) {
    const input = document.querySelector(`#parameters [name="${p.name}"]`);
    const value = p.kind === "boolean" ? input.checked : input.value.trim();
    if (value !== "" && String(value) !== String(p.default)) parameters[p.name] = value;
  }
  try {
    const run = await api("/api/runs", {method: "POST", body: JSON.stringify(
      {procedure: proc.name, station: document.getElementById("station").value, parameters})});
    state.selected = run.id;
    await refresh();
  } catch (e) {
    error.textContent = e.message;
  }
}

// ------------------------------------------------------------------ queue and history

function actions(run) {
  const buttons = [];
  if (run.status === "queued") {
    buttons.push(el("button", {class: "up", onclick: () => move(run, -1)}, "↑"),
                 el("button", {class: "down", onclick: () => move(run, +1)}, "↓"),
                 el("button", {class: "cancel", onclick: () => stop(run.id)}, "Cancel"));
  } else if (run.status === "running") {
    buttons.push(el("button", {class: "abort", onclick: () => stop(run.id)}, "Abort"));
  }
  buttons.push(el("button", {class: "view", onclick: () => { state.selected = run.id; follow(); }},
                  "View"));
  return buttons;
}

async function move(run, delta) {
  const waiting = state.runs.filter(r => r.status === "queued" && r.station === run.station);
  const index = waiting.findIndex(r => r.id === run.id) + delta;
  await api(`/api/runs/${run.id}`, {method: "PATCH", body: JSON.stringify({position: index})});
  await refresh();
}

async function stop(id) {
  try { await api(`/api/runs/${id}`, {method: "DELETE"}); } catch (e) { alert(e.message); }
  await refresh();
}

function renderQueue() {
  const active = state.runs.filter(r => r.status === "queued" || r.status === "running");
  document.querySelector("#queue tbody").replaceChildren(...active.map(r => el("tr",
    {"data-run": r.id},
    el("td", {}, r.id), el("td", {}, r.station), el("td", {}, r.procedure),
    el("td", {class: `status status-${r.status}`}, r.status),
    el("td", {}, el("progress", {max: 100, value: r.progress}), ` ${r.progress.toFixed(1)} %`),
    el("td", {}, r.eta_s == null ? "" : `${r.eta_s.toFixed(0)} s`),
    el("td", {}, ...actions(r)))));
  const done = state.runs.filter(r => !(r.status === "queued" || r.status === "running"))
    .reverse();
  document.querySelector("#history tbody").replaceChildren(...done.map(r => {
    const fit = Object.entries(r.fit || {}).filter(([, v]) => typeof v === "number").slice(0, 3)
      .map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
    const links = [el("button", {class: "view", onclick: () => { state.selected = r.id; follow(); }},
                      "View")];
    if (r.plot) links.push(el("button", {class: "plot", onclick: () => showPlot(r.id)}, "Plot"));
    if (r.run_id != null) links.push(el("a", {href: `/api/runs/${r.id}/data?format=csv`}, "CSV"));
    return el("tr", {"data-run": r.id}, el("td", {}, r.id), el("td", {}, r.run_id ?? ""),
              el("td", {}, r.station), el("td", {}, r.procedure),
              el("td", {class: `status status-${r.status}`}, r.status),
              el("td", {}, r.points), el("td", {}, fit || (r.error ?? "")), el("td", {}, ...links));
  }));
}

async function showPlot(id) {
  const headers = token ? {Authorization: "Bearer " + token} : {};
  const response = await fetch(`/api/runs/${id}/plot`, {headers});
  if (response.ok) {
    document.getElementById("history-plot").src = URL.createObjectURL(await response.blob());
  }
}

// ------------------------------------------------------------------ live plot

function follow() {
  const id = state.selected ?? state.runs.filter(r => r.status === "running").map(r => r.id)[0];
  if (id == null || (state.live && state.live.id === id)) return;
  if (state.live) state.live.source.close();
  const run = state.runs.find(r => r.id === id);
  const proc = state.procedures.find(p => p.name === run?.procedure);
  const live = {id, run, proc, points: [], source: null};
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  live.source = new EventSource(`/api/runs/${id}/stream${query}`);
  live.source.addEventListener("points", e => {
    const data = JSON.parse(e.data);
    for (const [, row] of data.points) live.points.push(row);
    live.count = data.count;
    draw(live);
  });
  live.source.addEventListener("status", e => { live.run = JSON.parse(e.data); showStatus(live); });
  live.source.addEventListener("end", () => { live.source.close(); showStatus(live); });
  state.live = live;
  document.getElementById("live-title").textContent = run ? `run ${id}: ${run.procedure} on ${run.station}` : `run ${id}`;
  draw(live);
}

function showStatus(live) {
  const r = live.run;
  if (!r) return;
  document.getElementById("live-progress").value = r.progress;
  document.getElementById("live-text").textContent =
    `${r.status}, ${r.points} points, ${r.progress.toFixed(1)} %` +
    (r.eta_s != null ? `, ETA ${r.eta_s.toFixed(0)} s` : "") + (r.error ? ` — ${r.error}` : "");
  document.getElementById("live-text").dataset.status = r.status;
  const abort = document.getElementById("abort");
  abort.disabled = r.status !== "running" && r.status !== "queued";
  abort.onclick = () => stop(r.id);
  document.getElementById("live-fit").textContent = Object.keys(r.fit || {}).length
    ? JSON.stringify(r.fit, null, 1) : "";
}

const PALETTE = ["#1d6fb8", "#d1495b", "#2a9d8f", "#e9a03b", "#6a4c93"];

// significant digits that tell ticks a quarter of the range apart
function digitsFor(r) {
  const span = Math.abs(r[1] - r[0]) / 4, top = Math.max(Math.abs(r[0]), Math.abs(r[1]));
  return span > 0 ? Math.min(8, Math.max(3, Math.ceil(Math.log10(top / span)) + 1)) : 4;
}

function axes(ctx, box, xr, yr, xlabel, ylabel) {
  ctx.strokeStyle = "#9aa5b1"; ctx.fillStyle = "#44515f"; ctx.font = "12px system-ui";
  ctx.strokeRect(box.x, box.y, box.w, box.h);
  const dx = digitsFor(xr), dy = digitsFor(yr);
  for (let k = 0; k <= 4; k++) {
    const xv = xr[0] + (xr[1] - xr[0]) * k / 4, yv = yr[0] + (yr[1] - yr[0]) * k / 4;
    ctx.fillText(fmt(xv, xlabel.unit, dx), box.x + box.w * k / 4 - 20, box.y + box.h + 16);
    ctx.fillText(fmt(yv, ylabel.unit, dy), 4, box.y + box.h - box.h * k / 4 + 4);
  }
  ctx.fillText(xlabel.text, box.x + box.w / 2 - 40, box.y + box.h + 34);
  ctx.save(); ctx.translate(12, box.y - 8); ctx.fillText(ylabel.text, 0, 0); ctx.restore();
}

function range(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (v != null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!isFinite(lo)) return [0, 1];
  if (lo === hi) { lo -= Math.abs(lo) * 0.05 || 1; hi += Math.abs(hi) * 0.05 || 1; }
  return [lo, hi];
}

function draw(live) {
  const canvas = document.getElementById("plot"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  canvas.dataset.points = live.points.length;
  const spec = live.proc?.live_plot || {};
  // what is drawn, for people reading the page's state and for its browser tests
  canvas.dataset.kind = spec.kind || "";
  canvas.dataset.drawn = "{}";
  const cols = live.proc?.columns || {};
  const box = {x: 80, y: 24, w: canvas.width - 110, h: canvas.height - 70};
  let rows = live.points;
  for (const [k, v] of Object.entries(spec.where || {})) rows = rows.filter(r => r[k] === v);
  const label = c => ({text: (cols[c]?.label || c), unit: cols[c]?.unit || ""});
  if (spec.kind === "map") {
    const lines = rows.filter(r => Array.isArray(r[spec.z]));
    if (!lines.length) return;
    const xs = lines[0][spec.x], yr = range(lines.map(r => r[spec.y]));
    const zr = range(lines.flatMap(r => r[spec.z]));
    const xr = range(xs), h = box.h / Math.max(lines.length, 1);
    lines.forEach((r, j) => {
      const y = box.y + box.h - (j + 1) * h;
      r[spec.z].forEach((z, i) => {
        const t = (z - zr[0]) / (zr[1] - zr[0]);
        ctx.fillStyle = `hsl(${260 - 200 * t}, 80%, ${20 + 50 * t}%)`;
        ctx.fillRect(box.x + box.w * (xs[i] - xr[0]) / (xr[1] - xr[0]), y,
                     Math.max(box.w / xs.length, 1), h + 0.5);
      });
    });
    axes(ctx, box, xr, yr, label(spec.x), label(spec.y));
    canvas.dataset.drawn = JSON.stringify({[spec.z]: lines.length});
    return;
  }
  const ys = spec.y || [];
  const xr = range(rows.map(r => r[spec.x]));
  const yr = range(ys.flatMap(y => rows.map(r => r[y])));
  axes(ctx, box, xr, yr, label(spec.x), ys.length === 1 ? label(ys[0]) : {text: ys.join(", "), unit: ""});
  const drawn = {};
  ys.forEach((y, k) => {
    ctx.strokeStyle = PALETTE[k % PALETTE.length]; ctx.lineWidth = 1.5; ctx.beginPath();
    drawn[y] = 0;
    for (const r of rows) {
      if (r[y] == null || r[spec.x] == null) continue;
      const px = box.x + box.w * (r[spec.x] - xr[0]) / (xr[1] - xr[0]);
      const py = box.y + box.h - box.h * (r[y] - yr[0]) / (yr[1] - yr[0]);
      if (drawn[y]++) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    }
    ctx.stroke();
    if (ys.length > 1) { ctx.fillStyle = ctx.strokeStyle; ctx.fillText(y, box.x + 8, box.y + 16 + 14 * k); }
  });
  canvas.dataset.drawn = JSON.stringify(drawn);
}

// ------------------------------------------------------------------ refresh

async function refresh() {
  try {
    [state.stations, state.runs] = await Promise.all([api("/api/stations"), api("/api/runs")]);
    document.getElementById("connection").textContent = "connected";
  } catch (e) {
    document.getElementById("connection").textContent = `not connected: ${e.message}`;
    return;
  }
  renderStations();
  renderQueue();
  follow();
  if (state.live) {
    const r = state.runs.find(x => x.id === state.live.id);
    if (r && (r.status !== "running" || !state.live.run)) { state.live.run = r; showStatus(state.live); }
  }
}

async function start() {
  try {
    state.procedures = await api("/api/procedures");
  } catch (e) {
    document.getElementById("connection").textContent = `not connected: ${e.message}`;
    return;
  }
  const select = document.getElementById("procedure");
  select.replaceChildren(...state.procedures.map(p => el("option", {value: p.name}, p.name)));
  select.addEventListener("change", renderForm);
  document.getElementById("run-form").addEventListener("submit", submitRun);
  renderForm();
  await refresh();
  setInterval(refresh, 1000);
}

start();
