// lever dashboard: fleet runs and eval reports (the session views are in app.js, whose helpers
// `el`, `api`, `diffView`, `shortNumber` these use). Same rule: data only ever becomes DOM text.
"use strict";

function pct(x) { return (100 * x).toFixed(1) + "%"; }
function secs(x) { return x === null || x === undefined ? "" : x.toFixed(1) + " s"; }

function table(head, rows, attrs) {
  return el("div", { class: "scroll" }, el("table", attrs || {},
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows)));
}

// ---- fleets ----

async function fleetsView() {
  document.getElementById("where").textContent = "fleets";
  const body = el("div", { id: "fleets" });
  main.append(el("p", { class: "meta", text: "Start a fleet from the New task form (attempts > 1 or a verify command)." }), body);
  const refresh = async () => {
    const runs = await api("/api/fleets");
    body.replaceChildren(runs.length ? table(["run", "status", "tasks × k", "passed", "model", "folder"],
      runs.map((r) => el("tr", { "data-run": r.run },
        el("td", {}, el("a", { href: "/f/" + encodeURIComponent(r.run), text: r.run })),
        el("td", {}, el("span", { class: "badge f-" + r.status, text: r.status + (r.cleaned ? ", cleaned" : "") })),
        el("td", { text: r.tasks + " × " + r.k }), el("td", { text: r.passed + "/" + r.finished }),
        el("td", { text: r.model || "" }), el("td", { text: r.root })))) : el("p", { class: "meta", text: "no fleet runs yet" }));
  };
  await refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 4000);
}

const fleetState = { selected: new Map(), timer: null };

async function fleetView() {
  const run = SESSION;
  document.getElementById("where").textContent = "fleet " + run;
  const head = el("div", { class: "box", id: "fleet-head" });
  const grid = el("div", { id: "grid" });
  const chosen = el("div", { id: "chosen" });
  const result = el("div", { id: "apply-result", role: "status" });
  const apply = el("button", { class: "primary", id: "apply", text: "Apply the chosen attempts", onclick: () => applyFleet(run, null) });
  const stop = el("button", { type: "button", id: "interrupt-fleet", text: "Interrupt", title: "as Ctrl-C on lever fleet run: attempts stopped, the run can be resumed" });
  const clean = el("button", { type: "button", id: "clean-fleet", text: "Clean up…", title: "remove the run's worktrees and branches (lever fleet clean)" });
  const confirm = el("div", { class: "confirm", id: "confirm-clean", hidden: true });
  main.append(head, grid, el("div", { class: "buttons" }, apply, stop, clean), confirm, result, chosen);
  const refresh = async () => {
    const data = await api("/api/fleets/" + encodeURIComponent(run));
    head.replaceChildren(el("h3", { text: "fleet " + data.run }),
      el("div", { class: "meta" }, el("span", { class: "badge f-" + data.status, text: data.status + (data.cleaned ? ", cleaned" : "") }),
        el("span", { text: (data.provider || "") + " / " + (data.model || "") }), el("span", { text: data.root }),
        el("span", { text: data.created }), data.events || data.status !== "running" ? null : el("span", { text: "no fleet events recorded: attempts count as running once their worktree exists" })));
    renderGrid(grid, data, run);
    await renderChosen(chosen, data, run);
    apply.disabled = data.status === "running" || !data.tasks.some((t) => t.chosen !== null);
    stop.disabled = data.status !== "running";
    clean.disabled = data.status === "running" || data.cleaned;
    if (data.status !== "running") clearInterval(fleetState.timer);
  };
  stop.addEventListener("click", () => { stop.disabled = true; fleetAction(run, "interrupt", "interrupting… (attempts are stopping)", refresh); });
  clean.addEventListener("click", () => {
    confirm.replaceChildren(el("span", { text: "Remove the worktrees and branches of every attempt? The records stay." }),
      el("button", { type: "button", class: "danger", id: "clean-yes", text: "Remove them", onclick: () => { confirm.hidden = true; clean.disabled = true; fleetAction(run, "clean", "removing…", refresh); } }),
      el("button", { type: "button", id: "clean-no", text: "Cancel", onclick: () => { confirm.hidden = true; } }));
    confirm.hidden = false;
  });
  await refresh();
  fleetState.timer = setInterval(() => { if (!document.hidden) refresh(); }, 1500);
}

// Interrupt or clean a run (POST /api/fleets/RUN/ACTION); the outcome, or the refusal, below.
async function fleetAction(run, action, pending, refresh) {
  const result = document.getElementById("apply-result");
  result.className = "";
  result.textContent = pending;
  try {
    const done = await api("/api/fleets/" + encodeURIComponent(run) + "/" + action, { method: "POST", body: "{}" });
    result.textContent = action === "clean" ? "removed " + done.removed.length + " worktrees and branches" : "the run is " + done.status;
    result.className = "ok";
  } catch (err) {
    result.textContent = err.message;
    result.className = "error";
  }
  await refresh();
}

function renderGrid(grid, data, run) {
  const k = data.k;
  const head = ["task", ...Array.from({ length: k }, (_, i) => "attempt " + (i + 1))];
  grid.replaceChildren(table(head, data.tasks.map((task) => el("tr", { "data-task": task.id },
    el("th", { title: task.prompt, text: task.id }),
    ...task.attempts.map((a) => {
      const pick = fleetState.selected.get(task.id) ?? task.chosen;
      const cell = el("td", {
        class: "cell-" + a.status.replace(" ", "-") + (a.attempt === task.chosen ? " chosen" : "") + (a.attempt === pick ? " picked" : ""),
        "data-attempt": a.attempt, title: a.reason ? "session: " + a.reason : null,
      }, el("div", { class: "status", text: (a.attempt === task.chosen ? "★ " : "") + a.status }),
        el("div", { class: "meta" }, a.tokens !== undefined ? el("span", { text: shortNumber(a.tokens) + " tok" }) : null,
          el("span", { text: secs(a.seconds) }), a.files !== undefined ? el("span", { text: "+" + a.added + " −" + a.removed }) : null));
      if (a.has_diff) {
        cell.classList.add("clickable");
        cell.addEventListener("click", () => { fleetState.selected.set(task.id, a.attempt); renderGrid(grid, data, run); renderChosen(document.getElementById("chosen"), data, run); });
      }
      return cell;
    }))), { class: "grid" }));
}

const diffCache = new Map();

async function renderChosen(box, data, run) {
  const parts = [];
  for (const task of data.tasks) {
    const n = fleetState.selected.get(task.id) ?? task.chosen;
    const none = data.status === "running" ? "no attempt has passed yet" : "no attempt passed";
    const title = el("h3", { text: task.id + ": " + (n === null ? none : "attempt " + n + (n === task.chosen ? " (chosen)" : "")) });
    if (n === null) { parts.push(el("section", { class: "task-diff" }, title)); continue; }
    const key = task.id + "/" + n;
    if (!diffCache.has(key)) {
      const response = await fetch("/api/fleets/" + encodeURIComponent(run) + "/diff?" + new URLSearchParams({ task: task.id, attempt: n }));
      diffCache.set(key, response.ok ? await response.text() : "");
    }
    const diff = diffCache.get(key);
    const button = n === task.chosen ? el("button", { type: "button", text: "Apply this task", onclick: () => applyFleet(run, task.id), disabled: data.status === "running" }) : null;
    parts.push(el("section", { class: "task-diff", "data-task": task.id }, title, el("div", { class: "meta", text: task.prompt }),
      diff.trim() ? diffView(diff) : el("p", { class: "meta", text: "(no changes)" }), button));
  }
  box.replaceChildren(...parts);
}

async function applyFleet(run, task) {
  const result = document.getElementById("apply-result");
  result.className = "";
  result.textContent = "applying…";
  try {
    const done = await api("/api/fleets/" + encodeURIComponent(run) + "/apply", { method: "POST", body: JSON.stringify(task ? { task } : {}) });
    result.replaceChildren(...done.applied.map((line) => el("div", { text: line })));
    result.className = "ok";
  } catch (err) {
    result.textContent = err.message;
    result.className = "error";
  }
}

// ---- evals ----

async function evalsView() {
  document.getElementById("where").textContent = "evals";
  const reports = await api("/api/evals");
  const compare = el("button", { class: "primary", id: "compare", text: "Compare the two selected", disabled: true });
  const picked = () => [...document.querySelectorAll("input.pick:checked")].map((c) => c.value);
  const rows = reports.map((r) => el("tr", { "data-name": r.name },
    el("td", {}, r.error ? null : el("input", { type: "checkbox", class: "pick", value: r.name, "aria-label": "select " + r.name,
      onchange: () => { compare.disabled = picked().length !== 2; } })),
    el("td", {}, r.error ? el("span", { text: r.name }) : el("a", { href: "/e/" + encodeURIComponent(r.name), text: r.name })),
    el("td", { text: r.error ? r.error : r.suite }), el("td", { text: r.error ? "" : r.mode === "agent" ? (r.model || r.provider || "agent") : r.mode }),
    el("td", { text: r.error ? "" : String(r.k) }), el("td", { text: r.error ? "" : pct(r.pass_at_1) }),
    el("td", { text: r.error ? "" : r.passed + "/" + r.attempts }), el("td", { text: r.started || "" })));
  compare.addEventListener("click", () => {
    const [a, b] = picked();
    location.href = "/evals/compare?" + new URLSearchParams({ a, b });
  });
  main.append(el("p", { class: "meta", text: "Reports in $LEVER_HOME/evals/ (lever eval run -o $LEVER_HOME/evals/NAME.json)." }),
    reports.length ? table(["", "report", "suite", "agent", "k", "pass@1", "passed", "started"], rows) : el("p", { class: "meta", text: "no eval reports yet" }),
    el("div", { class: "buttons" }, compare));
}

async function evalView() {
  const name = SESSION;
  document.getElementById("where").textContent = "eval " + name;
  const r = await api("/api/evals/" + encodeURIComponent(name));
  main.append(el("div", { class: "box" }, el("h3", { text: r.suite + " · " + (r.mode === "agent" ? (r.provider || "") + " / " + (r.model || "") : r.mode) + " · k=" + r.k }),
    el("div", { class: "meta" }, el("span", { text: "pass@1 " + pct(r.pass_at_1) }), el("span", { text: r.passed + "/" + r.attempts + " attempts passed" }),
      el("span", { text: r.tasks + " tasks" }), el("span", { text: "tokens in/out " + shortNumber(r.input_tokens) + "/" + shortNumber(r.output_tokens) }),
      el("span", { text: r.started }), r.unconfined ? el("span", { text: "graded unconfined: " + r.unconfined }) : null)),
  el("iframe", { class: "report", id: "report", title: "report", sandbox: "", src: "/api/evals/" + encodeURIComponent(name) + "/html" }),
  table(["task", "n", "c", "pass@1", "pass@n"], r.per_task.map((t) => el("tr", {},
    el("td", { text: t.id }), el("td", { text: String(t.n) }), el("td", { text: String(t.c) }),
    el("td", { text: pct(t.pass_at_1) }), el("td", { text: pct(t.pass_at_k) })))));
}

async function compareView() {
  const params = new URLSearchParams(location.search);
  document.getElementById("where").textContent = "compare";
  const c = await api("/api/evals/compare?" + new URLSearchParams({ a: params.get("a") || "", b: params.get("b") || "" }));
  const label = (r) => r.name + " (" + (r.mode === "agent" ? r.model || r.provider || "agent" : r.mode) + ", k=" + r.k + ")";
  main.append(el("div", { class: "box", id: "verdict" }, el("h3", { text: "A = " + label(c.a) + " · B = " + label(c.b) }),
    el("div", { text: c.rows.length ? "pass@1 over " + c.rows.length + " common tasks: A " + pct(c.mean_a) + ", B " + pct(c.mean_b) +
      "; B − A = " + (100 * c.delta).toFixed(1) + " points [" + (100 * c.low).toFixed(1) + ", " + (100 * c.high).toFixed(1) +
      "], paired permutation p = " + c.p.toFixed(3) + (c.significant ? " (significant at 0.05)" : " (not significant at 0.05)")
      : "the two runs have no task in common" })),
  c.metrics ? metricsTable(c.metrics) : null,
  table(["task", "A pass@1", "B pass@1", "B − A"], c.rows.map((row) => el("tr", { class: row.delta > 0 ? "better" : row.delta < 0 ? "worse" : "" },
    el("td", { text: row.task }), el("td", { text: pct(row.a) }), el("td", { text: pct(row.b) }),
    el("td", { text: (row.delta >= 0 ? "+" : "") + (100 * row.delta).toFixed(1) }))), { id: "compare-table" }));
}

function metricsTable(rows) {
  const show = (name, x) => name.startsWith("pass") ? pct(x) : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2);
  const delta = (name, x) => (x >= 0 ? "+" : "") + (name.startsWith("pass") ? (100 * x).toFixed(1) + " pts" : show(name, x));
  return table(["metric", "A", "B", "B − A", "95% interval", "p"], rows.map((m) => el("tr", { class: m.significant ? (m.delta > 0 ? "better" : "worse") : "" },
    el("td", { text: m.name }), el("td", { text: show(m.name, m.a) }), el("td", { text: show(m.name, m.b) }),
    el("td", { text: delta(m.name, m.delta) }), el("td", { text: delta(m.name, m.low) + " … " + delta(m.name, m.high) }),
    el("td", { text: m.p.toFixed(3) + (m.significant ? " *" : "") }))), { id: "metrics-table" });
}
