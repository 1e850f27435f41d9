// lever dashboard. Plain JS, no build step, nothing from the network.
// Safety rule: text from sessions only ever enters the page as DOM text (textContent, text
// nodes, attribute values), never parsed as markup. A model answer saying <script> shows as text.
"use strict";

const CSRF = document.querySelector('meta[name="lever-csrf"]').content;
const VIEW = document.body.dataset.view;
const SESSION = document.body.dataset.session;
const main = document.getElementById("main");
// What the stream delivered, for people debugging and for the end-to-end tests.
window.leverStats = { received: [], duplicates: 0 };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  if (opts.method && opts.method !== "GET") {
    opts.headers["X-Lever-CSRF"] = CSRF;
    opts.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, opts);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || body.detail || response.statusText);
  return body;
}

function when(ts) {
  return new Date(ts * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

function shortNumber(n) {
  return n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(n);
}

// ---- Markdown: a small, safe subset (fences, headings, lists, paragraphs, inline marks) ----

const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\s][^*\n]*\*)|\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g;

function inline(parent, text) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    parent.append(text.slice(last, m.index));
    if (m[1]) parent.append(el("code", { text: m[1].slice(1, -1) }));
    else if (m[2]) parent.append(el("strong", { text: m[2].slice(2, -2) }));
    else if (m[3]) parent.append(el("em", { text: m[3].slice(1, -1) }));
    else parent.append(el("a", { href: m[5], rel: "noopener noreferrer", target: "_blank", text: m[4] }));
    last = m.index + m[0].length;
  }
  parent.append(text.slice(last));
  return parent;
}

const LIST_ITEM = /^\s*([-*+]|\d+[.)])\s+(.*)$/;

function markdown(text) {
  const root = el("div", { class: "md" });
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      const body = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) body.push(lines[i]);
      root.append(el("pre", {}, el("code", { text: body.join("\n") })));
      i++;
    } else if (!line.trim()) {
      i++;
    } else if (/^#{1,6}\s/.test(line)) {
      const level = Math.min(line.match(/^#+/)[0].length + 2, 6);
      root.append(inline(el("h" + level), line.replace(/^#+\s+/, "")));
      i++;
    } else if (LIST_ITEM.test(line)) {
      const list = el(/^\s*\d/.test(line) ? "ol" : "ul");
      for (; i < lines.length && LIST_ITEM.test(lines[i]); i++) {
        list.append(inline(el("li"), lines[i].match(LIST_ITEM)[2]));
      }
      root.append(list);
    } else {
      const para = [];
      for (; i < lines.length && lines[i].trim() && !/^\s*```|^#{1,6}\s/.test(lines[i])
        && !LIST_ITEM.test(lines[i]); i++) para.push(lines[i]);
      root.append(inline(el("p"), para.join("\n")));
    }
  }
  return root;
}

function diffView(diff) {
  const pre = el("pre", { class: "diff" });
  for (const line of diff.split("\n")) {
    const kind = line.startsWith("@@") ? "hunk" : line.startsWith("+") && !line.startsWith("+++")
      ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : "";
    pre.append(kind ? el("span", { class: kind, text: line }) : line + "\n");
  }
  return pre;
}

// ---- the session list ----

function sessionsView() {
  document.getElementById("where").textContent = "sessions";
  const q = el("input", { type: "search", id: "q", placeholder: "search messages  ( / )", "aria-label": "search" });
  const cwd = el("select", { id: "cwd", "aria-label": "folder" }, el("option", { value: "", text: "every folder" }));
  const status = el("select", { id: "status", "aria-label": "status" },
    ...["", "running", "done", "interrupted", "error", "limit", "stuck", "ended"].map(
      (s) => el("option", { value: s, text: s || "any status" })));
  const list = el("ul", { class: "sessions", id: "sessions" });
  main.append(newTaskForm(), el("div", { class: "filters" }, q, cwd, status), list);
  let timer = null;
  const refresh = async () => {
    const params = new URLSearchParams({ q: q.value, cwd: cwd.value, status: status.value });
    const rows = await api("/api/sessions?" + params);
    renderSessions(list, rows);
  };
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 200); });
  cwd.addEventListener("change", refresh);
  status.addEventListener("change", refresh);
  api("/api/projects").then((projects) => {
    for (const p of projects) {
      cwd.append(el("option", { value: p, text: p }));
      document.getElementById("task-cwd").append(el("option", { value: p, text: p }));
    }
  });
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 4000);
}

function renderSessions(list, rows) {
  const selected = list.querySelector("li.selected")?.dataset.id;
  list.replaceChildren(...rows.map((s) => el("li", { "data-id": s.id, class: s.id === selected ? "selected" : null },
    el("a", { class: "title", href: "/s/" + encodeURIComponent(s.id), text: s.title || "(untitled)" }),
    s.snippet ? el("div", { class: "meta", text: s.snippet }) : null,
    el("div", { class: "meta" },
      el("span", { class: "badge s-" + s.status, text: s.status }),
      el("span", { text: when(s.updated) }), el("span", { text: s.cwd }),
      el("span", { text: s.model }), el("span", { text: shortNumber(s.input_tokens + s.output_tokens) + " tokens" }),
      el("code", { text: s.id })))));
  if (!rows.length) list.append(el("li", { class: "meta", text: "no sessions match" }));
}

function newTaskForm() {
  const error = el("div", { class: "error", role: "alert" });
  const field = (label, input) => el("label", {}, label, input);
  const form = el("form", { class: "newtask", id: "newtask" },
    el("textarea", { id: "task-prompt", name: "prompt", placeholder: "New task: what should lever do?  ( n )", required: true, "aria-label": "prompt" }),
    field("folder", el("select", { id: "task-cwd", name: "cwd", required: true })),
    field("provider", el("input", { name: "provider", id: "task-provider", size: 12, placeholder: "default" })),
    field("model", el("input", { name: "model", id: "task-model", size: 14, placeholder: "default" })),
    field("base URL", el("input", { name: "base_url", id: "task-base-url", size: 22, placeholder: "optional" })),
    field("sandbox", el("select", { name: "sandbox", id: "task-sandbox" },
      ...["workspace-write", "read-only", "danger-full-access"].map((s) => el("option", { value: s, text: s })))),
    field("approval", el("select", { name: "approval", id: "task-approval" },
      ...["on-request", "untrusted", "on-failure", "never"].map((s) => el("option", { value: s, text: s })))),
    field("attempts", el("input", { name: "attempts", id: "task-attempts", type: "number", min: 1, max: 16, value: 1, size: 3 })),
    field("verify (fleet)", el("input", { name: "verify", id: "task-verify", size: 18, placeholder: "e.g. pytest -q" })),
    el("button", { class: "primary", type: "submit", id: "task-start", text: "Start" }), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const body = Object.fromEntries(new FormData(form).entries());
    // More than one attempt, or a verify command: a fleet (each attempt in its own worktree).
    const fleet = Number(body.attempts) > 1 || body.verify.trim() !== "";
    try {
      if (fleet) {
        const started = await api("/api/fleets", { method: "POST", body: JSON.stringify(body) });
        location.href = "/f/" + encodeURIComponent(started.run);
        return;
      }
      const task = await api("/api/tasks", { method: "POST", body: JSON.stringify(body) });
      location.href = "/s/" + encodeURIComponent(task.session_id);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

// ---- one session: the transcript, rendered from its events ----

const state = { lastSeq: 0, calls: new Map(), tokens: { input: 0, output: 0, cached: 0, last: 0 } };

function sessionView() {
  document.getElementById("where").textContent = SESSION;
  const transcript = el("div", { id: "transcript", "aria-live": "polite" });
  const side = el("aside", { class: "side" },
    el("div", { class: "box", id: "info" }, el("h3", { text: "session" }), el("div", { id: "info-body", text: "…" })),
    el("div", { class: "box" }, el("h3", { text: "tokens" }), el("div", { id: "tokens", text: "0" })),
    el("div", { class: "box", id: "plan-box", hidden: true }, el("h3", { text: "plan" }), el("ul", { class: "plan", id: "plan" })),
    el("button", { class: "danger", id: "interrupt", hidden: true, text: "Interrupt ( i )", onclick: interrupt }),
    el("span", { class: "live", id: "live", text: "connecting…" }));
  main.append(el("div", { class: "layout" }, transcript, side));
  main.prepend(el("div", { class: "approval", id: "approval", hidden: true, role: "alertdialog", "aria-label": "approval" }));
  refreshTask();
  const source = new EventSource("/api/sessions/" + encodeURIComponent(SESSION) + "/events");
  source.addEventListener("lever", (message) => {
    const event = JSON.parse(message.data);
    window.leverStats.received.push(event.seq);
    if (event.seq <= state.lastSeq) { window.leverStats.duplicates++; return; }
    state.lastSeq = event.seq;
    render(transcript, event);
  });
  source.addEventListener("open", () => { document.getElementById("live").textContent = "● live"; });
  source.addEventListener("error", () => { document.getElementById("live").textContent = "reconnecting…"; });
}

// ---- the task this server runs for this session: interrupt and approvals ----

async function refreshTask() {
  const tasks = await api("/api/tasks");
  const mine = tasks.find((t) => t.session_id === SESSION);
  document.getElementById("interrupt").hidden = !(mine && mine.running);
  showApproval(mine && mine.running ? mine.pending[0] : null);
}

function showApproval(pending) {
  const box = document.getElementById("approval");
  if (!pending) { box.hidden = true; box.replaceChildren(); delete box.dataset.call; return; }
  if (box.dataset.call === pending.call_id) return;
  box.dataset.call = pending.call_id;
  // A string command is asked about as ["bash", "-c", COMMAND]: show the command itself.
  const argv = pending.command || [];
  const shown = argv.length === 3 && argv[0] === "bash" && /^-l?c$/.test(argv[1]) ? argv[2] : argv.join(" ");
  const what = pending.command ? "$ " + shown : (pending.paths || []).join(", ");
  const answer = (decision) => el("button", {
    type: "button", class: decision === "deny" ? "danger" : "primary", "data-decision": decision,
    onclick: () => decide(decision),
  }, { approve_once: "Approve ( y )", approve_session: "For this session ( a )", deny: "Deny ( n )" }[decision]);
  box.replaceChildren(...[
    el("h3", { text: "lever asks (" + pending.kind + ")" }),
    el("pre", { class: "output", text: what }),
    pending.reason ? el("div", { class: "meta", text: pending.reason }) : null,
    pending.justification ? el("div", { class: "meta", text: "model: " + pending.justification }) : null,
    el("div", { class: "buttons" }, answer("approve_once"), answer("approve_session"), answer("deny")),
    el("div", { class: "error", role: "alert" })].filter(Boolean));
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

async function decide(decision) {
  const box = document.getElementById("approval");
  if (box.hidden || !box.dataset.call) return;
  box.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    await api("/api/tasks/" + encodeURIComponent(SESSION) + "/approval",
      { method: "POST", body: JSON.stringify({ call_id: box.dataset.call, decision }) });
    showApproval(null);
  } catch (err) {
    box.querySelector(".error").textContent = err.message;
  }
  refreshTask();
}

async function interrupt() {
  const button = document.getElementById("interrupt");
  if (button.hidden) return;
  await api("/api/tasks/" + encodeURIComponent(SESSION) + "/interrupt", { method: "POST", body: "{}" });
  button.disabled = true;
}

const HARNESS = /^\s*<([a-z][a-z_]*)>[\s\S]*<\/\1>\s*$/;

function toolCell(id, name) {
  let cell = state.calls.get(id);
  if (!cell) {
    cell = el("div", { class: "cell tool", "data-call": id }, el("div", { class: "head", text: name }));
    state.calls.set(id, cell);
  }
  return cell;
}

function commandText(name, args) {
  try {
    const parsed = JSON.parse(args);
    if (name === "shell" && parsed.command !== undefined) {
      return "$ " + (Array.isArray(parsed.command) ? parsed.command.join(" ") : parsed.command);
    }
    if (name === "apply_patch") return "apply_patch";
  } catch (err) { /* the model's arguments may be broken: show them raw */ }
  return name + " " + args;
}

function renderItem(item) {
  if (item.type === "user_message") {
    if (HARNESS.test(item.text)) {
      const tag = item.text.match(HARNESS)[1];
      return el("details", { class: "cell note" }, el("summary", { text: "context: " + tag }), el("pre", { text: item.text }));
    }
    return el("div", { class: "cell user" }, el("div", { text: item.text }));
  }
  if (item.type === "assistant_message") return el("div", { class: "cell answer" }, markdown(item.text));
  if (item.type === "reasoning" && item.summary) return el("div", { class: "cell reasoning", text: item.summary });
  if (item.type === "tool_call") {
    const cell = toolCell(item.call_id, item.name);
    cell.firstChild.textContent = commandText(item.name, item.arguments);
    return cell;
  }
  return null; // tool outputs: tool_finished carries the whole output
}

function renderTool(event) {
  const cell = toolCell(event.call_id, event.name);
  if (event.type === "tool_started") {
    cell.firstChild.textContent = commandText(event.name, event.arguments);
    return cell;
  }
  if (event.type === "patch_applied") {
    cell.append(el("div", { class: "meta", text: "patched " + event.files.join(", ") }), diffView(event.diff));
    return cell;
  }
  const failed = event.is_error || (event.exit_code !== undefined && event.exit_code !== 0);
  cell.classList.toggle("failed", failed);
  const status = event.exit_code !== undefined ? "exit " + event.exit_code : event.is_error ? "error" : "done";
  cell.append(el("div", { class: "meta" }, el("span", { text: status }), el("span", { text: event.duration_ms + " ms" }),
    event.truncated ? el("span", { text: "output truncated for the model" }) : null));
  if (event.full_output && event.name !== "apply_patch") cell.append(el("pre", { class: "output", text: event.full_output }));
  return cell;
}

function renderInfo(event) {
  const body = document.getElementById("info-body");
  body.replaceChildren(el("div", { text: event.model + " · " + event.provider }),
    el("div", { class: "meta", text: event.cwd }),
    el("div", { class: "meta", text: "sandbox " + event.sandbox + " · approval " + event.approval }));
}

function renderTokens(event) {
  const t = state.tokens;
  t.input += event.input_tokens || 0; t.output += event.output_tokens || 0;
  t.cached += event.cached_input_tokens || 0; t.last = event.input_tokens || 0;
  document.getElementById("tokens").textContent = "in " + shortNumber(t.input) + " (cached " +
    shortNumber(t.cached) + ") · out " + shortNumber(t.output) + " · last request " + shortNumber(t.last);
}

function renderPlan(event) {
  document.getElementById("plan-box").hidden = false;
  document.getElementById("plan").replaceChildren(...event.plan.map((s) => el("li", { class: s.status, text: s.step })));
  return event.explanation ? el("div", { class: "cell note", text: "plan: " + event.explanation }) : null;
}

function eventNode(event) {
  switch (event.type) {
    case "session_started": renderInfo(event); return null;
    case "item": return renderItem(event.item);
    case "tool_started": case "tool_finished": case "patch_applied": return renderTool(event);
    case "token_usage": renderTokens(event); return null;
    case "plan_updated": return renderPlan(event);
    case "approval_requested":
      refreshTask();
      return el("div", { class: "cell note", text: "approval asked (" + event.kind + "): " + (event.command || event.paths || []).join(" ") + (event.reason ? " — " + event.reason : "") });
    case "approval_decided":
      if (document.getElementById("approval").dataset.call === event.call_id) showApproval(null);
      return el("div", { class: "cell note", text: "approval: " + event.decision + " by " + event.by });
    case "compaction": return el("details", { class: "cell note" }, el("summary", { text: "context compacted" }), markdown(event.summary));
    case "error": return el("div", { class: "cell err", text: (event.retrying ? "retrying: " : "error: ") + event.message });
    case "turn_finished": return el("div", { class: "cell turn", text: "turn finished: " + event.reason + (event.detail ? " — " + event.detail : "") });
    case "session_ended":
      document.getElementById("interrupt").hidden = true;
      showApproval(null);
      return el("div", { class: "cell turn", text: "session ended: " + event.reason });
    default: return null;
  }
}

function render(transcript, event) {
  const node = eventNode(event);
  if (node && !node.isConnected) {
    node.dataset.seq = event.seq;
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    transcript.append(node);
    if (atBottom) node.scrollIntoView({ block: "end" });
  }
  document.body.dataset.lastSeq = state.lastSeq;
}

// ---- keyboard ----

function moveSelection(step) {
  const items = [...document.querySelectorAll("#sessions li[data-id]")];
  if (!items.length) return;
  const at = items.findIndex((li) => li.classList.contains("selected"));
  const next = items[Math.max(0, Math.min(items.length - 1, at + step))];
  items.forEach((li) => li.classList.toggle("selected", li === next));
  next.scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (e) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
  if (e.key === "Escape" && typing) { e.target.blur(); return; }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  const asking = !document.getElementById("approval")?.hidden && VIEW === "session";
  const answers = { y: "approve_once", a: "approve_session", n: "deny" };
  if (asking && answers[e.key]) { e.preventDefault(); decide(answers[e.key]); return; }
  const selected = document.querySelector("#sessions li.selected");
  const actions = {
    "?": () => document.getElementById("help").showModal(),
    "/": () => document.getElementById("q")?.focus(),
    n: () => { if (VIEW === "sessions") document.getElementById("task-prompt").focus(); else location.href = "/"; },
    g: () => { location.href = "/"; },
    j: () => moveSelection(1),
    k: () => moveSelection(-1),
    Enter: () => { if (selected) location.href = "/s/" + encodeURIComponent(selected.dataset.id); },
    i: () => { if (VIEW === "session") interrupt(); },
    o: () => document.body.classList.toggle("expanded"),
  };
  if (actions[e.key]) { e.preventDefault(); actions[e.key](); }
});
document.getElementById("help-button").addEventListener("click", () => document.getElementById("help").showModal());

const VIEWS = { session: sessionView, fleets: fleetsView, fleet: fleetView, evals: evalsView, eval: evalView, compare: compareView };
(VIEWS[VIEW] || sessionsView)();
