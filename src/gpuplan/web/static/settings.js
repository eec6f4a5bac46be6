// GPU settings page: progressive enhancement over the server-rendered page.
// Plain JS, no build step. It talks to the same JSON API as the CLI, same-origin only.
(function () {
  "use strict";

  // --- formatting: mirrors gpuplan.web.views (gib, vram_estimate) ---------------
  function fmtGiB(mib) {
    if (mib === null || mib === undefined) return "?";
    return (mib / 1024).toFixed(1);
  }
  function usedText(used, total) {
    if (used === null || used === undefined) return "usage unknown of " + fmtGiB(total) + " GiB";
    return fmtGiB(used) + "/" + fmtGiB(total) + " GiB used";
  }
  function percentUsed(used, total) {
    if (!total || used === null || used === undefined) return 0;
    return Math.round(Math.min(100, Math.max(0, (100 * used) / total)) * 10) / 10;
  }

  // --- the API ---------------------------------------------------------------------
  async function api(method, path, body, headers) {
    const init = {
      method: method,
      credentials: "same-origin",
      mode: "same-origin",
      cache: "no-store",
      headers: Object.assign({ Accept: "application/json" }, headers || {}),
    };
    const token = document.getElementById("api-token");
    if (token && token.value && method !== "GET") init.headers.Authorization = "Bearer " + token.value;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    const text = await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = { detail: text }; }
    }
    if (!response.ok) {
      const detail = (data && (data.detail || (data.error && data.error.message))) || response.statusText;
      const error = new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return { data: data, etag: response.headers.get("ETag"), status: response.status };
  }

  // --- live GPU cards --------------------------------------------------------------
  function updateCards(document_) {
    (document_.gpus || []).forEach(function (gpu) {
      const card = document.querySelector('.gpu[data-index="' + gpu.index + '"]');
      if (!card) return;
      const text = usedText(gpu.vram_used_mb, gpu.vram_total_mb);
      const bar = card.querySelector(".bar");
      card.querySelector(".fill").style.width = percentUsed(gpu.vram_used_mb, gpu.vram_total_mb) + "%";
      bar.setAttribute("aria-valuenow", String(gpu.vram_used_mb || 0));
      bar.setAttribute("aria-valuetext", text);
      card.querySelector(".gpu-used").textContent = text;
    });
  }

  async function refreshGpus() {
    const section = document.getElementById("gpus");
    const url = section && section.dataset.liveUrl;
    if (!url) return;
    try {
      const result = await api("GET", url);
      updateCards(result.data);
      section.dataset.refreshed = String(Date.now());
    } catch (e) {
      section.dataset.refreshError = e.message;
    }
  }

  function startLiveCards() {
    const section = document.getElementById("gpus");
    if (!section || !section.dataset.liveUrl) return;
    const every = parseInt(section.dataset.refreshMs || "5000", 10);
    window.setInterval(function () {
      if (!document.hidden) refreshGpus();
    }, Math.max(1000, every));
  }

  // --- re-scan (seed 004's POST /api/system/gpu-config/detect) -------------------
  function setupDetect() {
    const button = document.getElementById("btn-detect");
    if (!button) return;
    button.addEventListener("click", async function () {
      const status = document.getElementById("detect-status");
      const before = document.querySelectorAll(".gpu").length;
      status.textContent = "re-scanning…";
      try {
        const result = await api("POST", button.dataset.detectUrl, {});
        const found = (result.data.gpus || []).length;
        if (found !== before) {
          status.textContent = "found " + found + " GPU(s); reloading…";
          window.location.reload();
          return;
        }
        updateCards(result.data);
        status.textContent = "re-scanned: " + (found ? found + " GPU(s), as before" : "still no GPU");
      } catch (e) {
        status.textContent = "re-scan failed: " + e.message;
      }
    });
  }

  // --- copy buttons ------------------------------------------------------------------
  function setupCopy() {
    document.querySelectorAll("button.copy").forEach(function (button) {
      button.addEventListener("click", async function () {
        const target = document.getElementById(button.dataset.copyTarget);
        const text = target ? target.textContent : "";
        let ok = false;
        try {
          await navigator.clipboard.writeText(text);
          ok = true;
        } catch (e) {
          const range = document.createRange();
          range.selectNodeContents(target);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          ok = document.execCommand && document.execCommand("copy");
        }
        button.textContent = ok ? "Copied" : "Press Ctrl+C";
        window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
  }


  // --- assignments: strategy, table, warnings, preview, save, apply ----------------
  const form = () => document.getElementById("gpu-config");
  const urls = () => form().dataset;

  // One shape in the page, whatever the endpoint: {service, gpu: "0"|"cpu", budgetMb, adjusted}.
  function normalize(item) {
    let gpu = "cpu";
    if (Array.isArray(item.gpu_indices) && item.gpu_indices.length) gpu = String(item.gpu_indices[0]);
    else if (item.gpu_index !== null && item.gpu_index !== undefined) gpu = String(item.gpu_index);
    let budget = null;
    if (item.vram_budget_override_mb !== null && item.vram_budget_override_mb !== undefined) budget = item.vram_budget_override_mb;
    else if (item.vram_budget_mb !== null && item.vram_budget_mb !== undefined) budget = item.vram_budget_mb;
    else if (item.vram_budget_override !== null && item.vram_budget_override !== undefined) budget = Math.round(item.vram_budget_override * 1024);
    return {
      service: item.service,
      gpu: gpu,
      budgetMb: budget,
      adjusted: Boolean(item.budget_adjusted || item.adjusted),
      override: (item.vram_budget_override_mb !== null && item.vram_budget_override_mb !== undefined) ||
        (item.vram_budget_override !== null && item.vram_budget_override !== undefined),
    };
  }
  function assignmentsOf(document_) {
    const list = (document_ && (document_.assignments || document_.services)) || [];
    return list.map(normalize);
  }

  let saved = null;      // the saved configuration, normalized
  let savedStrategy = null;
  let etag = null;
  let dirtyBudgets = {}; // services whose budget the user typed
  let rowOverride = {};  // services whose shown budget is a user override (saved or checked)

  function rows() { return Array.from(document.querySelectorAll("#assign-rows tr[data-service]:not(.budget-row)")); }
  function selectFor(service) { return document.querySelector('select[name="gpu"][data-service="' + CSS.escape(service) + '"]'); }
  function budgetFor(service) { return document.querySelector('input[name="budget"][data-service="' + CSS.escape(service) + '"]'); }
  function markFor(service) {
    const input = budgetFor(service);
    return input ? document.getElementById(input.getAttribute("aria-describedby")) : null;
  }
  function gib1(mib) { return mib === null || mib === undefined ? "" : (mib / 1024).toFixed(1); }

  function readTable() {
    return rows().map(function (row) {
      const service = row.dataset.service;
      const value = budgetFor(service).value.trim();
      return {
        service: service,
        gpu: selectFor(service).value,
        budgetMb: value === "" ? null : Math.round(parseFloat(value) * 1024),
        adjusted: !markFor(service).hidden,
        override: Boolean(dirtyBudgets[service] || rowOverride[service]),
      };
    });
  }

  function showAssignments(list) {
    list.forEach(function (item) {
      const select = selectFor(item.service);
      if (!select) return;
      select.value = item.gpu;
      const input = budgetFor(item.service);
      if (!dirtyBudgets[item.service] || item.override) input.value = gib1(item.budgetMb);
      markFor(item.service).hidden = !item.adjusted;
      rowOverride[item.service] = item.override;
    });
    markChanged();
  }

  function showWarnings(list) {
    const ul = document.getElementById("warning-list");
    ul.replaceChildren();
    (list || []).forEach(function (text) {
      const li = document.createElement("li");
      li.className = "warning";
      li.textContent = "⚠️ Warning: " + text;
      ul.appendChild(li);
    });
  }

  function gpuLabel(value) {
    if (value === "cpu") return "CPU";
    return "GPU " + value;
  }

  // A readable diff: one line per service that changes, then who stays.
  function changes(before, after) {
    const old = {};
    (before || []).forEach(function (item) { old[item.service] = item; });
    const lines = [];
    const same = [];
    after.forEach(function (item) {
      const was = old[item.service];
      const parts = [];
      if (!was) parts.push({ what: "", from: "not configured", to: gpuLabel(item.gpu) });
      else {
        if (was.gpu !== item.gpu) parts.push({ what: "", from: gpuLabel(was.gpu), to: gpuLabel(item.gpu) });
        const a = was.budgetMb === null ? null : Math.round(was.budgetMb / 102.4);
        const b = item.budgetMb === null ? null : Math.round(item.budgetMb / 102.4);
        if (a !== b) parts.push({ what: "budget ", from: was.budgetMb === null ? "auto" : gib1(was.budgetMb) + " GiB", to: item.budgetMb === null ? "auto" : gib1(item.budgetMb) + " GiB" });
      }
      if (parts.length) lines.push({ service: item.service, parts: parts });
      else same.push(item.service);
    });
    return { lines: lines, same: same };
  }

  function markChanged() {
    if (!saved) return;
    const diff = changes(saved, readTable());
    const changed = new Set(diff.lines.map(function (l) { return l.service; }));
    rows().forEach(function (row) { row.classList.toggle("changed", changed.has(row.dataset.service)); });
  }

  function showPreview(diff, strategy) {
    const box = document.getElementById("preview");
    const body = document.getElementById("preview-body");
    body.replaceChildren();
    const intro = document.createElement("p");
    if (!diff.lines.length) intro.textContent = "No changes against the saved configuration.";
    else if (savedStrategy === null) intro.textContent = "Nothing is saved yet; " + strategy + " sets " + diff.lines.length + " service(s):";
    else intro.textContent = "Against the saved configuration (" + savedStrategy + "), " + strategy + " changes " + diff.lines.length + " service(s):";
    body.appendChild(intro);
    if (diff.lines.length) {
      const ul = document.createElement("ul");
      ul.className = "diff";
      diff.lines.forEach(function (line) {
        const li = document.createElement("li");
        const name = document.createElement("strong");
        name.textContent = line.service + ": ";
        li.appendChild(name);
        line.parts.forEach(function (part, i) {
          if (i) li.appendChild(document.createTextNode("; "));
          li.appendChild(document.createTextNode(part.what));
          const from = document.createElement("span");
          from.className = "from";
          from.textContent = part.from;
          const to = document.createElement("span");
          to.className = "to";
          to.textContent = part.to;
          li.appendChild(from);
          li.appendChild(document.createTextNode(" → "));
          li.appendChild(to);
        });
        ul.appendChild(li);
      });
      body.appendChild(ul);
    }
    if (diff.same.length) {
      const p = document.createElement("p");
      p.className = "muted small";
      p.textContent = "Unchanged: " + diff.same.join(", ") + ".";
      body.appendChild(p);
    }
    box.hidden = false;
  }

  function currentStrategy() {
    const checked = document.querySelector('input[name="strategy"]:checked');
    return checked ? checked.value : "manual";
  }
  function setStrategy(value) {
    const radio = document.querySelector('input[name="strategy"][value="' + value + '"]');
    if (radio) radio.checked = true;
  }

  function setStatus(state, text) {
    const box = document.getElementById("status");
    box.dataset.state = state;
    document.getElementById("status-text").textContent = "Status: " + text;
  }
  function busy(on) {
    ["btn-preview", "btn-save", "btn-apply", "btn-rollback"].forEach(function (id) {
      const button = document.getElementById(id);
      if (button) button.setAttribute("aria-disabled", on ? "true" : "false");
    });
    form().dataset.busy = on ? "true" : "false";
  }
  function isBusy() { return form().dataset.busy === "true"; }

  function body() {
    return {
      strategy: currentStrategy(),
      assignments: readTable().map(function (item) {
        const out = { service: item.service, gpu_index: item.gpu === "cpu" ? null : parseInt(item.gpu, 10) };
        if (item.override && item.budgetMb !== null) {
          out.vram_budget_override = Math.round((item.budgetMb / 1024) * 10) / 10;
        }
        return out;
      }),
    };
  }

  // Arrow keys move through the strategies faster than the server answers: only the
  // answer to the latest question is shown.
  let asked = 0;

  async function onStrategy() {
    const strategy = currentStrategy();
    const ticket = ++asked;
    if (strategy === "manual") { markChanged(); return; }
    setStatus("working", "computing the " + strategy + " assignment…");
    try {
      const result = await api("GET", urls().previewUrl + "?strategy=" + encodeURIComponent(strategy));
      if (ticket !== asked) return;
      dirtyBudgets = {};
      showAssignments(assignmentsOf(result.data.proposed || result.data));
      showWarnings(result.data.warnings);
      showPreview(changes(saved, readTable()), strategy);
      setStatus("idle", "previewing " + strategy + " (not saved)");
    } catch (e) {
      if (ticket !== asked) return;
      setStatus("failed", "the preview failed: " + e.message);
    }
  }

  async function onManualChange() {
    setStrategy("manual");
    const ticket = ++asked;
    setStatus("working", "checking the assignment…");
    try {
      const result = await api("POST", urls().checkUrl, body());
      if (ticket !== asked) return;
      showAssignments(assignmentsOf(result.data));
      showWarnings(result.data.warnings);
      setStatus("idle", "edited (not saved)");
    } catch (e) {
      if (ticket !== asked) return;
      setStatus("failed", "the check failed: " + e.message);
    }
  }

  async function loadSaved() {
    const result = await api("GET", urls().configUrl);
    etag = result.etag;
    saved = result.data.revision ? assignmentsOf(result.data) : [];
    savedStrategy = result.data.revision ? result.data.strategy : null;
    return result.data;
  }

  async function onSave() {
    if (isBusy()) return false;
    busy(true);
    setStatus("working", "saving…");
    try {
      const headers = etag ? { "If-Match": etag } : {};
      const result = await api("PUT", urls().configUrl, body(), headers);
      showWarnings(result.data && result.data.warnings);
      const fresh = await loadSaved();
      dirtyBudgets = {};
      showAssignments(saved);
      if (fresh.strategy) setStrategy(fresh.strategy);
      document.getElementById("preview").hidden = true;
      setStatus("saved", "saved (not applied yet)");
      return true;
    } catch (e) {
      if (e.status === 412) setStatus("failed", "someone else saved first; reload the page to see their change, then save again");
      else if (e.status === 401) setStatus("failed", "saving needs the API token: enter it above and save again");
      else setStatus("failed", "saving failed: " + e.message);
      return false;
    } finally {
      busy(false);
    }
  }

  const PROGRESS_WORDS = {
    pending: "not restarted",
    recreating: "restarting…",
    done: "restarted",
    failed: "failed to restart",
    reverted: "put back on its previous GPU",
  };

  function showProgress(status) {
    const list = document.getElementById("progress");
    list.replaceChildren();
    (status.services || []).forEach(function (item) {
      const li = document.createElement("li");
      li.dataset.service = item.service;
      li.dataset.progress = item.progress || "";
      let text = item.service + ": " + (PROGRESS_WORDS[item.progress] || "unchanged");
      if (item.container) text += " (container " + (typeof item.container === "string" ? item.container : JSON.stringify(item.container)) + ")";
      li.textContent = text;
      list.appendChild(li);
    });
  }

  function showDetail(text) {
    const detail = document.getElementById("status-detail");
    detail.textContent = text || "";
    detail.hidden = !text;
  }

  // The store's states: applying / in_progress, applied, failed, interrupted, never_applied.
  function stateOf(status, expectedId) {
    const last = status.last_apply;
    if (expectedId && (!last || last.id !== expectedId)) return "running";
    const raw = String(status.state || "");
    if (raw === "applied") return "done";
    if (raw === "failed" || raw === "interrupted") return "failed";
    return "running";
  }

  let lastStatus = null;

  async function watchStatus(what, expectedId) {
    for (let i = 0; i < 1200; i++) {
      const result = await api("GET", urls().statusUrl);
      const status = result.data || {};
      lastStatus = status;
      showProgress(status);
      const state = stateOf(status, expectedId);
      if (state === "done") {
        showDetail("");
        setStatus("done", what === "rollback" ? "rolled back to the previous configuration; all services running" : "All services running");
        return status;
      }
      if (state === "failed") {
        const detail = (status.last_apply && status.last_apply.detail) || "a service did not restart";
        const named = function (progress) {
          return (status.services || []).filter(function (s) { return s.progress === progress; }).map(function (s) { return s.service; });
        };
        const failed = named("failed");
        const reverted = named("reverted");
        let headline = what === "rollback" ? "rollback failed" : "apply failed";
        if (failed.length) headline += ": " + failed.join(", ") + " did not restart";
        if (reverted.length) headline += "; put back on their previous GPUs: " + reverted.join(", ");
        setStatus("failed", headline);
        showDetail(detail);
        if (what !== "rollback" && status.applied_history_id) {
          document.getElementById("rollback-box").hidden = false;
          document.getElementById("btn-rollback").focus();
        } else if (what !== "rollback") {
          showDetail(detail + " (Nothing was applied before, so there is no earlier configuration to roll back to.)");
        }
        return status;
      }
      setStatus("running", (what === "rollback" ? "rolling back" : "restarting services") + "…");
      await new Promise(function (resolve) { window.setTimeout(resolve, 300); });
    }
    setStatus("failed", "no answer from the status endpoint");
    return null;
  }

  async function onApply() {
    if (isBusy()) return;
    const dirty = changes(saved, readTable()).lines.length > 0 || currentStrategy() !== savedStrategy;
    if (dirty && !(await onSave())) return;
    busy(true);
    document.getElementById("rollback-box").hidden = true;
    setStatus("running", "applying…");
    try {
      const result = await api("POST", urls().applyUrl, {});
      if (result.data && result.data.warnings && result.data.warnings.length) showWarnings(result.data.warnings);
      await watchStatus("apply", result.data && result.data.history_id);
    } catch (e) {
      setStatus("failed", "apply failed: " + e.message);
      if (lastStatus && lastStatus.applied_history_id) document.getElementById("rollback-box").hidden = false;
      document.getElementById("btn-rollback").focus();
    } finally {
      busy(false);
    }
  }

  async function onRollback() {
    if (isBusy()) return;
    busy(true);
    setStatus("running", "rolling back…");
    try {
      const target = lastStatus && lastStatus.applied_history_id;
      const result = await api("POST", urls().rollbackUrl, target ? { history_id: target } : {});
      await watchStatus("rollback", result.data && result.data.history_id);
      await loadSaved();
      dirtyBudgets = {};
      showAssignments(saved);
      if (savedStrategy) setStrategy(savedStrategy);
      document.getElementById("rollback-box").hidden = true;
      const checked = await api("POST", urls().checkUrl, body());  // warnings of what is back
      showWarnings(checked.data.warnings);
    } catch (e) {
      setStatus("failed", "rollback failed: " + e.message);
    } finally {
      busy(false);
    }
  }

  function setupConfig() {
    const f = form();
    if (!f || f.dataset.editable !== "true") return;
    f.addEventListener("submit", function (event) { event.preventDefault(); });
    const embedded = document.getElementById("config-data");
    if (embedded) {
      const data = JSON.parse(embedded.textContent);
      saved = data.revision ? assignmentsOf(data) : [];
      savedStrategy = data.revision ? data.strategy : null;
      etag = f.dataset.etag || null;
    }
    document.querySelectorAll('input[name="strategy"]').forEach(function (radio) {
      radio.addEventListener("change", onStrategy);
    });
    document.querySelectorAll('select[name="gpu"]').forEach(function (select) {
      select.addEventListener("change", onManualChange);
    });
    document.querySelectorAll('input[name="budget"]').forEach(function (input) {
      input.addEventListener("change", function () {
        dirtyBudgets[input.dataset.service] = true;
        markFor(input.dataset.service).hidden = true;
        onManualChange();
      });
    });
    document.getElementById("btn-preview").addEventListener("click", function () {
      showPreview(changes(saved, readTable()), currentStrategy());
      document.getElementById("preview").focus();
    });
    document.getElementById("btn-save").addEventListener("click", onSave);
    document.getElementById("btn-apply").addEventListener("click", onApply);
    document.getElementById("btn-rollback").addEventListener("click", onRollback);
  }

  window.gpuplanSettings = { refreshGpus: refreshGpus, updateCards: updateCards, api: api };

  document.addEventListener("DOMContentLoaded", function () {
    startLiveCards();
    setupCopy();
    setupDetect();
    setupConfig();
    document.documentElement.dataset.enhanced = "true";
  });
})();
