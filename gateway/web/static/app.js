// Shared page helpers: the collapsing menu, VND and local time formatting, chart drawing, the
// live passage feed. Loaded once by base.html; written so that a second load does no harm
// (top-level "var" and function declarations only, the menu bound once).
"use strict";

var TZ = "Asia/Ho_Chi_Minh";

function setupMenu() {
  // The phone layout hides the menu behind a button (CSS: .js .topbar[data-menu=closed]).
  const bar = document.querySelector(".topbar");
  const button = bar && bar.querySelector(".menu-toggle");
  if (!button || button.dataset.bound) return;
  button.dataset.bound = "1";
  button.addEventListener("click", () => {
    const open = bar.dataset.menu !== "open";
    bar.dataset.menu = open ? "open" : "closed";
    button.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && bar.dataset.menu === "open") {
      bar.dataset.menu = "closed";
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
}

setupMenu();

function focusableScrollers() {
  // A table that scrolls sideways on a phone must be reachable by keyboard to be scrolled.
  for (const table of document.querySelectorAll("main table:not(.stack-sm)")) {
    if (table.scrollWidth > table.clientWidth + 1) {
      table.tabIndex = 0;
    } else if (table.tabIndex === 0) {
      table.removeAttribute("tabindex");
    }
  }
}

focusableScrollers();
window.addEventListener("resize", focusableScrollers);

function vnd(amount) {
  if (amount === null || amount === undefined) return "—";
  const sign = amount < 0 ? "-" : "";
  return sign + Math.abs(amount).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ".") + " ₫";
}

function localTime(iso) {
  const d = new Date(iso);
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).formatToParts(d);
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get("day")}/${get("month")}/${get("year")} ${get("hour")}:${get("minute")}:${get("second")}`;
}

function drawCharts(figures) {
  for (const [id, fig] of Object.entries(figures)) {
    const el = document.getElementById(id);
    if (el && window.Plotly) {
      Plotly.newPlot(el, fig.data, fig.layout, {displayModeBar: false, responsive: true});
      el.dataset.rendered = "1";
    }
  }
}

function esc(text) {
  const div = document.createElement("div");
  div.textContent = text === null || text === undefined ? "" : String(text);
  return div.innerHTML;
}

function passageRow(p, labels) {
  const tr = document.createElement("tr");
  tr.dataset.passageId = p.id;
  tr.className = "new";
  const img = p.has_image
    ? `<img class="plate" loading="lazy" src="/api/v1/passages/${p.id}/image?size=thumb" alt="">`
    : "—";
  const decision = p.opened ? "open" : "closed";
  const review = p.review_status === "pending" ? ` <span class="badge review">${esc(labels.review)}</span>` : "";
  tr.innerHTML = `
    <td>${esc(localTime(p.captured_at))}</td>
    <td>${esc(p.lot_id)} / ${esc(p.gate_id)}</td>
    <td>${esc(labels[p.direction] || p.direction)}</td>
    <td>${img}</td>
    <td class="plate-read"><b>${esc(p.plate_text || "?")}</b><br><span class="muted">${esc(p.plate_read || "")}</span></td>
    <td class="num">${Math.round(p.plate_confidence * 100)}%</td>
    <td><span class="badge ${decision}">${esc(labels[decision])}</span> <span class="muted reason" title="${esc(p.reason)}">${esc((labels.reasons || {})[p.reason] || p.reason)}</span>${review}</td>
    <td class="num fare">${vnd(p.fare_vnd)}</td>`;
  return tr;
}

function startFeed(opts) {
  // Polls the passages API (the page's session cookie authenticates it) for rows newer than the
  // last one shown; new rows go on top.
  let last = opts.lastId;
  const body = document.getElementById(opts.tbody);
  async function tick() {
    try {
      const params = new URLSearchParams({after_id: last, limit: 50});
      if (opts.lotId) params.set("lot_id", opts.lotId);
      const r = await fetch(`/api/v1/passages?${params}`, {credentials: "same-origin"});
      if (r.ok) {
        const page = await r.json();
        const items = page.items.slice().reverse();  // oldest first, each inserted on top
        for (const p of items) {
          body.insertBefore(passageRow(p, opts.labels), body.firstChild);
          last = Math.max(last, p.id);
        }
        while (body.children.length > (opts.keep || 100)) body.removeChild(body.lastChild);
        const empty = document.getElementById(opts.tbody + "-empty");
        if (empty && body.children.length) empty.remove();
      }
    } catch (e) { /* network hiccup: try again next tick */ }
    setTimeout(tick, opts.intervalMs || 2000);
  }
  setTimeout(tick, opts.intervalMs || 2000);
}
