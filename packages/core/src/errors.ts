/**
 * Errors as data: every Tweedie error carries a stable code, the path of the failing
 * field or file, and the expected and received values. `renderError` turns one into a
 * plain sentence at the edge (CLI, logs); library code never formats messages itself
 * beyond the one-line summary passed to `Error`.
 */
export type ErrorCode =
  | "invalid_value"
  | "invalid_type"
  | "out_of_range"
  | "shape_mismatch"
  | "dtype_mismatch"
  | "missing"
  | "not_found"
  | "unsupported"
  | "non_finite"
  | "io_failed"
  | "model_mismatch"
  | "provider_unavailable"
  | "diverged"
  | "cancelled"
  | "worker_failed";

export interface ErrorDetails {
  code: ErrorCode;
  /** Field path, file name or tensor name the error is about, outermost first. */
  path?: readonly (string | number)[];
  expected?: unknown;
  received?: unknown;
  /** A likely intended value, for example the nearest valid key. */
  hint?: string;
  cause?: unknown;
}

export class TweedieError extends Error {
  readonly code: ErrorCode;
  readonly path: readonly (string | number)[];
  readonly expected: unknown;
  readonly received: unknown;
  readonly hint: string | undefined;

  constructor(message: string, details: ErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "TweedieError";
    this.code = details.code;
    this.path = details.path ?? [];
    this.expected = details.expected;
    this.received = details.received;
    this.hint = details.hint;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      path: this.path,
      expected: this.expected,
      received: this.received,
      hint: this.hint,
    };
  }
}

export function formatValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "undefined";
  if (typeof value === "number" || typeof value === "boolean" || value === null)
    return String(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 200 ? `${text.slice(0, 197)}...` : text;
  } catch {
    return String(value);
  }
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out;
}

/** Renders any error as one plain line: "<path>: <message> (expected X, received Y)". */
export function renderError(error: unknown): string {
  if (error instanceof TweedieError) {
    const where = error.path.length > 0 ? `${formatPath(error.path)}: ` : "";
    const parts: string[] = [];
    if (error.expected !== undefined) parts.push(`expected ${formatValue(error.expected)}`);
    if (error.received !== undefined) parts.push(`received ${formatValue(error.received)}`);
    const detail = parts.length > 0 ? ` (${parts.join(", ")})` : "";
    const hint = error.hint ? `; ${error.hint}` : "";
    return `${where}${error.message}${detail}${hint}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
