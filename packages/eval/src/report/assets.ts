import { createHash } from "node:crypto";

/**
 * The report's only style sheet and script, inlined in the page. The Content-Security-Policy
 * allows exactly these two by SHA-256, so markup injected through a data string could not
 * run a script or add a style even if escaping failed.
 */

export const REPORT_STYLE = `
:root { color-scheme: light; font-family: system-ui, sans-serif; color: #1d1d1f; }
body { margin: 24px auto; max-width: 1280px; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 4px; }
h2 { font-size: 1.25em; margin-top: 32px; border-bottom: 1px solid #ccc; }
p.meta { color: #555; margin: 4px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #d0d0d0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
th button { all: inherit; cursor: pointer; border: 0; padding: 0; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .count { display: block; color: #666; font-size: 11px; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
.item { margin: 16px 0; }
.item h3 { font-size: 1em; margin: 4px 0; }
.prompt { font-style: italic; color: #333; margin: 2px 0 6px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
.grid figure { margin: 0; max-width: 260px; }
.grid img { width: 256px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; display: block; }
.grid figcaption { font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.role-reference figcaption { font-weight: bold; }
`;

export const REPORT_SCRIPT = `
"use strict";
(function () {
  function compareText(a, b) {
    if (a < b) return -1;
    return a > b ? 1 : 0;
  }
  function keyOf(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (raw === "") return null;
    if (!numeric) return raw;
    var value = Number(raw);
    return Number.isFinite(value) ? value : null;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (header, index) {
      var button = header.querySelector("button");
      if (!button) return;
      button.addEventListener("click", function () {
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = header.getAttribute("data-type") === "number";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = keyOf(a, index, numeric);
          var y = keyOf(b, index, numeric);
          // Empty cells sort last in both directions.
          if (x === null && y === null) return 0;
          if (x === null) return 1;
          if (y === null) return -1;
          var order = numeric ? x - y : compareText(x, y);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
`;

/** Returns the CSP source expression of an inline script or style: 'sha256-<base64>'. */
export function cspHash(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/**
 * Returns the page's policy, which allows nothing from the network: images only from
 * data: URIs and the report's own location ('self'), the inline style and script only by
 * hash, and no base URL, form target, frame, font or connection.
 */
export function contentSecurityPolicy(): string {
  return [
    "default-src 'none'",
    "img-src 'self' data:",
    `style-src ${cspHash(REPORT_STYLE)}`,
    `script-src ${cspHash(REPORT_SCRIPT)}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}
