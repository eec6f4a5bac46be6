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

  window.gpuplanSettings = { refreshGpus: refreshGpus, updateCards: updateCards, api: api };

  document.addEventListener("DOMContentLoaded", function () {
    startLiveCards();
    setupCopy();
    document.documentElement.dataset.enhanced = "true";
  });
})();
