import { TweedieError } from "@tweedie/core";

/**
 * Escapes text for HTML element content and quoted attribute values: & < > " and ' become
 * character references, so no string from data (prompts, file names, parameters) can open
 * a tag, end an attribute or start a script.
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/**
 * Checks that an image path is relative to the report file: no URL scheme (http:,
 * javascript:, data:), no leading slash or backslash, no protocol-relative "//". Returns
 * it percent-encoded for an attribute (escaped separately).
 */
export function relativeImageUrl(path: string): string {
  const invalid =
    path === "" ||
    /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path) ||
    path.startsWith("/") ||
    path.includes("\\") ||
    [...path].some((ch) => (ch.codePointAt(0) ?? 0) < 0x20);
  if (invalid) {
    throw new TweedieError("report image paths must be relative to the report file", {
      code: "invalid_value",
      path: ["images", "path"],
      expected: "a relative path such as cells/ab12/output.png (no scheme, no leading slash)",
      received: path,
    });
  }
  return path.split("/").map(encodeURIComponent).join("/");
}

/**
 * Formats a number with `digits` significant digits, without an exponent for usual sizes.
 * Integers print as they are (NFE 28, not 28.00).
 */
export function formatNumber(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e9) return String(value);
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  if (magnitude >= 9 || magnitude < -6) return value.toExponential(digits - 1);
  const decimals = Math.min(20, Math.max(0, digits - 1 - magnitude));
  return value.toFixed(decimals);
}
