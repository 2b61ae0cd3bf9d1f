/** JSON file reading for exported model folders, with errors that name the file and field. */
import { readFile, stat } from "node:fs/promises";
import { TweedieError } from "../errors.js";

export type JsonObject = Record<string, unknown>;

/** True when `path` exists and is a regular file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Reads a JSON object from `path`; `role` names the file's purpose in error messages. */
export async function readJsonObject(path: string, role: string): Promise<JsonObject> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new TweedieError(`${path}: ${role} not found`, {
      code: "not_found",
      path: [path],
      expected: `the ${role} file`,
      cause,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TweedieError(`${path}: invalid JSON: ${(cause as Error).message}`, {
      code: "invalid_value",
      path: [path],
      expected: "a JSON object",
      cause,
    });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TweedieError(`${path}: expected a JSON object`, {
      code: "invalid_type",
      path: [path],
      expected: "a JSON object",
      received: Array.isArray(value) ? "an array" : typeof value,
    });
  }
  return value as JsonObject;
}

/** Error for a field that has the wrong value or type. */
export function fieldError(
  file: string,
  field: string,
  expected: string,
  received: unknown,
  hint?: string,
): TweedieError {
  const text = received === undefined ? "nothing (the field is missing)" : JSON.stringify(received);
  return new TweedieError(`${file}: ${field}: expected ${expected}; received ${text}`, {
    code: received === undefined ? "missing" : "invalid_value",
    path: [file, field],
    expected,
    received,
    hint,
  });
}

/** Reads a number field; `fallback` (a documented library default) applies when it is absent or null. */
export function numberField(
  config: JsonObject,
  file: string,
  field: string,
  fallback?: number,
): number {
  const value = config[field];
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw fieldError(file, field, "a finite number", value);
  }
  return value;
}

/** Reads a string field; `fallback` applies when it is absent or null. */
export function stringField(
  config: JsonObject,
  file: string,
  field: string,
  fallback?: string,
): string {
  const value = config[field];
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  if (typeof value !== "string") throw fieldError(file, field, "a string", value);
  return value;
}

/** Reads a boolean field; `fallback` applies when it is absent or null. */
export function booleanField(
  config: JsonObject,
  file: string,
  field: string,
  fallback: boolean,
): boolean {
  const value = config[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") throw fieldError(file, field, "true or false", value);
  return value;
}

/** Error for a file the layout requires; `why` names the config field that requires it. */
export function missingFile(path: string, what: string, why: string): TweedieError {
  return new TweedieError(`${path}: ${what} not found (${why})`, {
    code: "not_found",
    path: [path],
    expected: what,
    received: "no such file",
  });
}
