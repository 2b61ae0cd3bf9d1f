import { createHash } from "node:crypto";

/** SHA-256 (hex) of the float32 little-endian bytes of `values`. */
export function hashFloat32(values: ArrayLike<number>): string {
  const data = Float32Array.from(values);
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * SHA-256 (hex) of a spec's canonical JSON (object keys sorted). Two specs with the same
 * hash build the same operator for the same image shape, kernels and masks included.
 */
export function hashSpec(spec: unknown): string {
  return createHash("sha256").update(canonicalJson(spec)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => compareKeys(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Orders strings by UTF-16 code units, independent of locale. */
function compareKeys(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}
