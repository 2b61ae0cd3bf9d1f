import { formatPath, renderError, TweedieError } from "@tweedie/core";
import type { z } from "zod";
import { closest } from "../cli/suggest.js";

type Path = (string | number)[];

/** Keys within this many edits of an unknown key are offered as "did you mean". */
const NEAR_MISS_DISTANCE = 2;

/**
 * A config that failed validation: one `TweedieError` per problem, each naming the field
 * path, the rule, the received value and, for a misspelt key or value, the likely
 * intended one. `lines()` renders them one line each.
 */
export class ConfigError extends TweedieError {
  readonly issues: readonly TweedieError[];
  readonly source: string | undefined;

  constructor(issues: readonly TweedieError[], source?: string) {
    const where = source ? `${source}: ` : "";
    const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
    super(`${where}invalid config, ${count}\n${issues.map(renderError).join("\n")}`, {
      code: "invalid_value",
      // The message already names the source; a path would print it twice.
      path: [],
    });
    this.name = "ConfigError";
    this.issues = issues;
    this.source = source;
  }

  /** Renders each problem as one plain line. */
  lines(): string[] {
    return this.issues.map(renderError);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), issues: this.issues.map((issue) => issue.toJSON()) };
  }
}

/** Converts zod issues into Tweedie errors; `schema` supplies the valid keys for hints. */
export function issuesToErrors(
  issues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  basePath: Path = [],
): TweedieError[] {
  const errors: TweedieError[] = [];
  for (const issue of issues) errors.push(...convertIssue(issue, schema, basePath, []));
  return dropMissingKeysWithSuggestion(errors);
}

/**
 * Converts one issue. `basePath` is where the schema's root sits in the config, and
 * messages use it. `schemaPath` is the position inside the schema that issue paths are
 * relative to, and key lookups use it.
 */
function convertIssue(
  issue: z.core.$ZodIssue,
  schema: z.ZodType,
  basePath: Path,
  schemaPath: Path,
): TweedieError[] {
  const path: Path = [...basePath, ...(issue.path as Path)];
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) =>
        unknownKeyError(
          key,
          path,
          objectKeysAt(schema, [...schemaPath, ...(issue.path as Path)], input),
        ),
      );
    case "invalid_type":
      if (input === undefined) {
        return [
          new TweedieError("required field is missing", {
            code: "missing",
            path,
            expected: issue.expected,
          }),
        ];
      }
      return [
        new TweedieError("invalid type", {
          code: "invalid_type",
          path,
          expected: issue.expected,
          received: input,
        }),
      ];
    case "invalid_value":
      return [choiceError(path, issue.values, input)];
    case "invalid_union":
      return unionErrors(issue, path, schema, [...schemaPath, ...(issue.path as Path)], input);
    case "too_small":
    case "too_big":
      return [boundError(issue, path, input)];
    case "invalid_format":
      return [
        new TweedieError(issue.message, {
          code: "invalid_value",
          path,
          expected: issue.format === "regex" ? `a string matching ${issue.pattern}` : issue.format,
          received: input,
        }),
      ];
    default:
      return [customError(issue, path, input)];
  }
}

function unknownKeyError(key: string, objectPath: Path, keys: string[]): TweedieError {
  const guess = closest(key, keys, NEAR_MISS_DISTANCE);
  return new TweedieError("unknown key", {
    code: "invalid_value",
    path: [...objectPath, key],
    expected: guess || keys.length === 0 ? undefined : keys,
    hint: guess ? `did you mean "${guess}"?` : undefined,
  });
}

function choiceError(path: Path, values: readonly unknown[], input: unknown): TweedieError {
  const strings = values.filter((value): value is string => typeof value === "string");
  const guess = typeof input === "string" ? closest(input, strings, NEAR_MISS_DISTANCE) : undefined;
  return new TweedieError("invalid value", {
    code: "invalid_value",
    path,
    expected: values,
    received: input,
    hint: guess ? `did you mean "${guess}"?` : undefined,
  });
}

function boundError(
  issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig,
  path: Path,
  input: unknown,
): TweedieError {
  const small = issue.code === "too_small";
  const bound = small
    ? (issue as z.core.$ZodIssueTooSmall).minimum
    : (issue as z.core.$ZodIssueTooBig).maximum;
  const operator = `${small ? ">" : "<"}${issue.inclusive ? "=" : ""}`;
  const sized = issue.origin === "array" || issue.origin === "string" || issue.origin === "set";
  let unit = "";
  if (issue.origin === "array") unit = " items";
  if (issue.origin === "string") unit = " characters";
  const received = sized && input !== undefined ? sizeOf(input) : input;
  return new TweedieError(sized ? "wrong length" : "out of range", {
    code: "out_of_range",
    path,
    expected: `${operator} ${String(bound)}${unit}`,
    received,
  });
}

function sizeOf(input: unknown): unknown {
  if (Array.isArray(input)) return `${input.length} items`;
  if (typeof input === "string") return `${input.length} characters`;
  return input;
}

/** Custom issues carry their own rule as the message and may set expected/received/hint. */
function customError(issue: z.core.$ZodIssue, path: Path, input: unknown): TweedieError {
  const params = (issue as { params?: Record<string, unknown> }).params ?? {};
  return new TweedieError(issue.message, {
    code: (params.code as TweedieError["code"] | undefined) ?? "invalid_value",
    path,
    expected: params.expected,
    received: "received" in params ? params.received : input,
    hint: params.hint as string | undefined,
  });
}

/**
 * Converts a union issue. A union reports one issue list per branch. When exactly one branch accepted the input's
 * type (its issues lie deeper than the union itself), those issues are the useful ones.
 * Otherwise the input matched no branch's type and the error lists the accepted types.
 */
function unionErrors(
  issue: z.core.$ZodIssueInvalidUnion,
  path: Path,
  schema: z.ZodType,
  schemaPath: Path,
  input: unknown,
): TweedieError[] {
  if (issue.discriminator !== undefined) {
    // The issue's path ends at the discriminator key while `input` is the whole object.
    const options = "options" in issue ? (issue.options ?? []) : [];
    const value =
      input !== null && typeof input === "object"
        ? (input as Record<string, unknown>)[issue.discriminator]
        : input;
    return [choiceError(path, options, value)];
  }
  const typeMatched = issue.errors.filter(
    (branch) => !branch.some((inner) => inner.code === "invalid_type" && inner.path.length === 0),
  );
  if (typeMatched.length === 1) {
    return typeMatched[0].flatMap((inner) => convertIssue(inner, schema, path, schemaPath));
  }
  const expected = issue.errors
    .map((branch) =>
      branch.find((inner) => inner.code === "invalid_type" && inner.path.length === 0),
    )
    .map((inner) => (inner as z.core.$ZodIssueInvalidType | undefined)?.expected)
    .filter((name): name is NonNullable<typeof name> => name !== undefined);
  return [
    new TweedieError("matches none of the accepted forms", {
      code: "invalid_type",
      path,
      expected: expected.length > 0 ? `one of ${[...new Set(expected)].join(", ")}` : undefined,
      received: input,
    }),
  ];
}

/** Drops "missing" errors for keys that an unknown-key hint already points at. */
function dropMissingKeysWithSuggestion(errors: TweedieError[]): TweedieError[] {
  const suggested = new Set<string>();
  for (const error of errors) {
    const match = error.hint?.match(/^did you mean "(.*)"\?$/);
    if (error.message === "unknown key" && match) {
      suggested.add(formatPath([...error.path.slice(0, -1), match[1]]));
    }
  }
  return errors.filter(
    (error) => !(error.code === "missing" && suggested.has(formatPath(error.path))),
  );
}

interface SchemaDef {
  type: string;
  values?: unknown[];
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  getter?: () => z.ZodType;
}

function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { def: SchemaDef }).def;
}

/** Collects the object schemas reachable at `path`, through wrappers and every union branch. */
function schemasAt(schema: z.ZodType, path: readonly (string | number)[]): z.ZodType[] {
  const def = defOf(schema);
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
      return def.innerType ? schemasAt(def.innerType, path) : [];
    case "pipe":
      return def.in ? schemasAt(def.in, path) : [];
    case "lazy":
      return def.getter ? schemasAt(def.getter(), path) : [];
    case "union":
      return (def.options ?? []).flatMap((option) => schemasAt(option, path));
    default:
      break;
  }
  if (path.length === 0) return [schema];
  const [head, ...rest] = path;
  if (def.type === "object" && typeof head === "string" && def.shape?.[head]) {
    return schemasAt(def.shape[head], rest);
  }
  if (def.type === "array" && typeof head === "number" && def.element) {
    return schemasAt(def.element, rest);
  }
  if (def.type === "record" && def.valueType) return schemasAt(def.valueType, rest);
  return [];
}

/** Returns the keys an object at `path` may have, sorted. */
export function objectKeysAt(
  schema: z.ZodType,
  path: readonly (string | number)[],
  input?: unknown,
): string[] {
  const keys = new Set<string>();
  const candidates = schemasAt(schema, path);
  // Of a discriminated union, only the branches whose literal fields (such as `kind`)
  // match the input apply. Without a match, every branch's keys are listed.
  const matching = candidates.filter((found) => literalsMatch(found, input));
  for (const found of matching.length > 0 ? matching : candidates) {
    const def = defOf(found);
    if (def.type === "object") for (const key of Object.keys(def.shape ?? {})) keys.add(key);
  }
  return [...keys].sort();
}

/** Tells whether every literal field of an object schema equals the input's value there. */
function literalsMatch(schema: z.ZodType, input: unknown): boolean {
  if (input === null || typeof input !== "object") return false;
  const def = defOf(schema);
  if (def.type !== "object") return false;
  return Object.entries(def.shape ?? {}).every(([key, field]) => {
    const fieldDef = defOf(field);
    if (fieldDef.type !== "literal") return true;
    return (fieldDef.values ?? []).includes((input as Record<string, unknown>)[key]);
  });
}
