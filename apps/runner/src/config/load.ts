import { readFile } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { renderError, TweedieError } from "@tweedie/core";
import { parseDocument } from "yaml";
import { ConfigError, issuesToErrors } from "./issues.js";
import { collectSecrets, REDACTED, redactText, redactValue } from "./redact.js";
import { resolveConfig, type TweedieConfig } from "./resolve.js";
import { configSchema } from "./schema.js";

/**
 * Validates a config object (already parsed from YAML or JSON) and resolves it. Relative
 * paths resolve against `baseDir`. Throws a `ConfigError` listing every problem.
 */
export function parseConfig(
  raw: unknown,
  options: { baseDir: string; source?: string },
): TweedieConfig {
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const errors = issuesToErrors(parsed.error.issues, configSchema);
    throw new ConfigError(redactErrors(dedupe(errors), raw), options.source);
  }
  const resolved = resolveConfig(parsed.data, options.baseDir);
  if (resolved.config === undefined) {
    throw new ConfigError(redactErrors(dedupe(resolved.errors), raw), options.source);
  }
  return resolved.config;
}

/**
 * Keeps secrets out of error messages: a received value under a `credentials` key is
 * replaced whole, and secret values from the environment or the config are masked.
 */
function redactErrors(errors: TweedieError[], raw: unknown): TweedieError[] {
  const credentials = (raw as { output?: { s3?: { credentials?: unknown } } } | undefined)?.output
    ?.s3?.credentials;
  const configSecrets =
    credentials !== null && typeof credentials === "object"
      ? Object.values(credentials).filter((value): value is string => typeof value === "string")
      : [];
  const secrets = [...collectSecrets(process.env), ...configSecrets];
  return errors.map((error) => {
    const secretPath = error.path.some((part) => part === "credentials");
    const received = secretPath ? REDACTED : redactValue(error.received, secrets);
    return new TweedieError(redactText(error.message, secrets), {
      code: error.code,
      path: error.path,
      expected: error.expected,
      received: error.received === undefined ? undefined : received,
      hint: error.hint,
    });
  });
}

/** Parses YAML (a superset of JSON) text into a plain value; syntax errors name line and column. */
export function parseConfigText(text: string, source = "config"): unknown {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const issues = document.errors.map((error) => {
      const position = error.linePos?.[0];
      const where = position ? ` at line ${position.line}, column ${position.col}` : "";
      // With prettyErrors the message ends in " at line L, column C:" and a code excerpt.
      const rule = firstLine(error.message).replace(/ at line \d+, column \d+:?$/, "");
      return new TweedieError(`invalid YAML${where}: ${rule}`, { code: "invalid_value" });
    });
    throw new ConfigError(issues, source);
  }
  return document.toJS({ maxAliasCount: 100 });
}

/** Reads, validates and resolves a `.yaml`, `.yml` or `.json` config file. */
export async function loadConfigFile(path: string): Promise<TweedieConfig> {
  const absolute = resolve(path);
  const extension = extname(absolute).toLowerCase();
  if (![".yaml", ".yml", ".json"].includes(extension)) {
    throw new TweedieError("unsupported config file type", {
      code: "unsupported",
      path: [path],
      expected: ".yaml, .yml or .json",
      received: extension || "no extension",
    });
  }
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new TweedieError(missing ? "config file not found" : "cannot read config file", {
      code: missing ? "not_found" : "io_failed",
      path: [path],
      cause: error,
    });
  }
  const raw = extension === ".json" ? parseJson(text, path) : parseConfigText(text, path);
  return parseConfig(raw, { baseDir: dirname(absolute), source: path });
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      [new TweedieError(`invalid JSON: ${(error as Error).message}`, { code: "invalid_value" })],
      source,
    );
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}

function dedupe(errors: TweedieError[]): TweedieError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const line = renderError(error);
    if (seen.has(line)) return false;
    seen.add(line);
    return true;
  });
}
