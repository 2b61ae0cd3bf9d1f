import { createHash } from "node:crypto";
import { TweedieError } from "@tweedie/core";

/**
 * Serialises a JSON value with object keys sorted by UTF-16 code unit and no whitespace,
 * in the manner of RFC 8785 (JCS): numbers use ECMAScript's shortest round-trip form, so
 * the same value gives the same text on every machine. Object members whose value is
 * undefined are dropped. Non-finite numbers, undefined array elements, functions, symbols
 * and bigints are rejected, because JSON cannot carry them.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, []);
}

function serialise(value: unknown, path: (string | number)[]): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) {
        throw new TweedieError("cannot hash a non-finite number", {
          code: "non_finite",
          path,
          expected: "a finite number",
          received: String(value),
        });
      }
      // JSON.stringify writes -0 as "0" and every other number in shortest form.
      return JSON.stringify(value);
    case "object":
      return Array.isArray(value) ? serialiseArray(value, path) : serialiseObject(value, path);
    default:
      throw new TweedieError("cannot hash a value that JSON cannot represent", {
        code: "invalid_type",
        path,
        expected: "a JSON value",
        received: typeof value,
      });
  }
}

function serialiseArray(items: readonly unknown[], path: (string | number)[]): string {
  const parts = items.map((item, index) => {
    if (item === undefined) {
      throw new TweedieError("cannot hash an undefined array element", {
        code: "invalid_type",
        path: [...path, index],
        expected: "a JSON value",
        received: "undefined",
      });
    }
    return serialise(item, [...path, index]);
  });
  return `[${parts.join(",")}]`;
}

function serialiseObject(object: object, path: (string | number)[]): string {
  const entries = Object.entries(object)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => compareCodeUnits(a, b));
  const parts = entries.map(
    ([key, item]) => `${JSON.stringify(key)}:${serialise(item, [...path, key])}`,
  );
  return `{${parts.join(",")}}`;
}

/** Orders strings by UTF-16 code units, as Array.prototype.sort does without a comparator. */
export function compareCodeUnits(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

/** SHA-256 of a string (as UTF-8) or of bytes, as 64 lowercase hex digits. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** SHA-256 of the canonical JSON of `value`. */
export function hashCanonical(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
