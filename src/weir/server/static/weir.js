// weir UI: live updates, actions, the trigger and backfill forms. Plain JavaScript, no dependencies.
"use strict";

function flash(message, bad) {
  const box = document.getElementById("flash");
  if (!box) return;
  box.textContent = message;
  box.className = bad ? "flash bad" : "flash";
  box.hidden = false;
}

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    // The API records actions taken from these pages as "ui" in the audit log.
    headers: { "Content-Type": "application/json", "Accept": "application/json", "X-Weir-Via": "ui" },
    body: body === undefined ? "{}" : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  return { ok: response.ok, status: response.status, data: data };
}

// -- the live part of the run page: fetched again every second while the run is active --
function startLive() {
  const live = document.getElementById("live");
  if (!live || live.dataset.active !== "1" || window.weirPolling) return;
  window.weirPolling = true;
  const tick = async () => {
    const current = document.getElementById("live");
    try {
      const response = await fetch(current.dataset.liveSrc, { headers: { "Accept": "text/html" } });
      if (response.ok) {
        const holder = document.createElement("div");
        holder.innerHTML = await response.text();
        const fresh = holder.firstElementChild;
        current.replaceWith(fresh);
        bindActions(fresh);
        if (fresh.dataset.active !== "1") { window.weirPolling = false; return; }
      }
    } catch (e) { /* the server restarts: try again */ }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
}

// -- buttons that POST to the API (cancel, retry, clear) --
function bindActions(root) {
  root.querySelectorAll("button[data-post]").forEach((button) => {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      let body;
      if (button.dataset.form) {
        const form = document.getElementById(button.dataset.form);
        const data = new FormData(form);
        body = { task_ids: data.getAll("task_ids"), downstream: data.get("downstream") === "on" };
      }
      button.disabled = true;
      const result = await postJSON(button.dataset.post, body);
      if (result.ok) {
        flash("Done: " + (result.data && result.data.run ? "run " + result.data.run.id + " is " + result.data.run.state : "ok"));
        window.location.reload();
      } else {
        button.disabled = false;
        flash((result.data && result.data.detail) || ("failed: HTTP " + result.status), true);
      }
    });
  });
}

// -- the trigger form on a flow page --
function paramValue(input) {
  const raw = input.value;
  const kind = input.dataset.kind || "";
  if (raw === "" ) return undefined;
  if (kind === "string") return raw;
  if (kind === "boolean") return raw === "true";
  try { return JSON.parse(raw); } catch (e) { return raw; }
}

function bindTrigger() {
  const form = document.getElementById("trigger");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelectorAll("[data-field-error]").forEach((el) => { el.textContent = ""; });
    const params = {};
    form.querySelectorAll("input[name], select[name]").forEach((input) => {
      const value = paramValue(input);
      if (value !== undefined) params[input.name] = value;
    });
    const result = await postJSON(form.dataset.action, { params: params });
    if (result.status === 201) {
      window.location.href = "/runs/" + result.data.id;
      return;
    }
    showErrors(form, result);
  });
}

// -- the backfill form on a flow page: a preview (a dry run) first, then a button queues the runs --
function shortTime(iso) {
  return iso ? iso.replace("T", " ").replace(/(\.\d+)?(Z|[+-]00:00)$/, "") : "";
}

function showErrors(form, result) {
  flash((result.data && result.data.detail) || ("HTTP " + result.status), true);
  ((result.data && result.data.fields) || []).forEach((problem) => {
    const slot = form.querySelector('[data-field-error="' + CSS.escape(problem.field) + '"]');
    if (slot) slot.textContent = problem.reason;
  });
}

function showBackfill(result) {
  const box = document.getElementById("backfill-plan");
  const rows = box.querySelector("tbody");
  rows.replaceChildren();
  result.intervals.forEach((interval) => {
    const row = document.createElement("tr");
    row.dataset.action = interval.action;
    const what = interval.action.replace("_", " ") + (interval.reason ? ": " + interval.reason : "");
    const texts = [shortTime(interval.logical_date),
      shortTime(interval.interval_start) + " → " + shortTime(interval.interval_end), null, what];
    texts.forEach((text) => {
      const cell = document.createElement("td");
      if (text !== null) {
        cell.textContent = text;
      } else if (interval.run_id !== null) {
        const link = document.createElement("a");
        link.href = "/runs/" + interval.run_id;
        link.textContent = "run " + interval.run_id + (interval.state ? " (" + interval.state + ")" : "");
        cell.appendChild(link);
      }
      row.appendChild(cell);
    });
    rows.appendChild(row);
  });
  const c = result.counts;
  const todo = c.make + c.take_up + c.retry;
  const summary = document.getElementById("backfill-summary");
  if (result.dry_run) {
    summary.textContent = result.intervals.length + " intervals: " + c.make + " to make, " + c.take_up +
      " to take up, " + c.retry + " to retry, " + c.skip + " to skip. Nothing was written yet.";
  } else {
    summary.textContent = result.run_ids.length + " runs queued for a scheduler" +
      (result.waiting ? " (" + result.waiting + ")" : "") + ".";
  }
  const confirmButton = document.getElementById("backfill-confirm");
  confirmButton.hidden = !result.dry_run || todo === 0;
  confirmButton.textContent = "Queue " + todo + " run" + (todo === 1 ? "" : "s");
  box.hidden = false;
}

function bindBackfill() {
  const form = document.getElementById("backfill");
  if (!form) return;
  const confirmButton = document.getElementById("backfill-confirm");
  let previewed = null;  // what the last preview asked: the confirm button sends the same, for real
  const send = async (body) => {
    form.querySelectorAll("[data-field-error]").forEach((el) => { el.textContent = ""; });
    const result = await postJSON(form.dataset.action, body);
    if (!result.ok) {
      showErrors(form, result);
      return null;
    }
    showBackfill(result.data);
    return result.data;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    previewed = { start: data.get("start"), end: data.get("end"), rerun_failed: data.get("rerun_failed") === "on" };
    await send(Object.assign({ dry_run: true }, previewed));
  });
  form.addEventListener("input", () => { confirmButton.hidden = true; });  // changed: preview again first
  confirmButton.addEventListener("click", async () => {
    if (!previewed) return;
    confirmButton.disabled = true;
    const done = await send(Object.assign({ dry_run: false }, previewed));
    confirmButton.disabled = false;
    if (done) flash(done.run_ids.length + " runs of the backfill queued");
  });
}

// -- pause toggles on the flows page --
function bindPause() {
  document.querySelectorAll("input[data-pause]").forEach((box) => {
    box.addEventListener("change", async () => {
      const name = box.dataset.pause;
      const verb = box.checked ? "pause" : "unpause";
      const result = await postJSON("/api/v1/flows/" + encodeURIComponent(name) + "/" + verb);
      if (!result.ok) {
        box.checked = !box.checked;
        flash((result.data && result.data.detail) || ("HTTP " + result.status), true);
      } else {
        flash(name + (box.checked ? " paused" : " unpaused"));
      }
    });
  });
}

// -- a try's log, tailed over Server-Sent Events while the try runs --
function lineKind(line) {
  const low = line.toLowerCase();
  if (line.startsWith("Traceback") || line.startsWith("  ") && window.weirInTraceback) return "err";
  if (low.includes("error") || low.includes("exception") || low.includes("critical")) return "err";
  if (low.includes("warning")) return "warn";
  return "";
}

function appendLog(pre, text) {
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const pending = (pre.dataset.partial || "") + text;
  const lines = pending.split("\n");
  pre.dataset.partial = lines.pop();
  for (const line of lines) {
    if (line.startsWith("Traceback (most recent call last)")) window.weirInTraceback = true;
    const span = document.createElement("span");
    span.className = "line " + lineKind(line);
    span.textContent = line;
    pre.appendChild(span);
    pre.appendChild(document.createTextNode("\n"));
    if (window.weirInTraceback && line && !line.startsWith(" ") && !line.startsWith("Traceback")) window.weirInTraceback = false;
  }
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

function followLog() {
  const pre = document.getElementById("log");
  if (!pre || pre.dataset.follow !== "1" || !window.EventSource) return;
  const source = new EventSource(pre.dataset.src + "&follow=true&offset=" + pre.dataset.next);
  source.addEventListener("log", (event) => {
    const chunk = JSON.parse(event.data);
    appendLog(pre, chunk.text);
    pre.dataset.next = chunk.next_offset;
  });
  source.addEventListener("end", () => {
    source.close();
    if (pre.dataset.partial) appendLog(pre, "\n");
    const status = document.getElementById("log-status");
    if (status) status.textContent = "try ended";
    setTimeout(() => window.location.reload(), 300);  // show the final state, error and traceback
  });
}

document.addEventListener("DOMContentLoaded", () => {
  bindActions(document);
  bindTrigger();
  bindBackfill();
  bindPause();
  startLive();
  followLog();
});
