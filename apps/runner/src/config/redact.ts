export const REDACTED = "[redacted]";

/** Environment variables whose values are secrets wherever they appear. */
export const SECRET_ENV_VARS = [
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_SECURITY_TOKEN",
] as const;

/** Object keys whose values are replaced whole, whatever they hold. */
const SECRET_KEYS = new Set<string>([
  "credentials",
  "secretAccessKey",
  "sessionToken",
  ...SECRET_ENV_VARS,
]);

/** Shorter values are not searched for in text, since they would match by accident. */
const MIN_SECRET_LENGTH = 4;

/** Collects the secret values in the environment and in a config's S3 credentials. */
export function collectSecrets(
  env: NodeJS.ProcessEnv = process.env,
  config?: {
    output?: { s3?: { credentials?: { secretAccessKey?: string; sessionToken?: string } } };
  },
): string[] {
  const values: (string | undefined)[] = SECRET_ENV_VARS.map((name) => env[name]);
  const credentials = config?.output?.s3?.credentials;
  values.push(credentials?.secretAccessKey, credentials?.sessionToken);
  return values.filter(
    (value): value is string => value !== undefined && value.length >= MIN_SECRET_LENGTH,
  );
}

/** Replaces every occurrence of each secret in `text` by "[redacted]". */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/**
 * Returns a deep copy of a JSON-like value in which secret keys (`credentials`,
 * `secretAccessKey`, `sessionToken`, the AWS secret variables) hold "[redacted]" and
 * every string has the given secrets replaced.
 */
export function redactValue<T>(value: T, secrets: readonly string[]): T {
  return redactAny(value, secrets) as T;
}

function redactAny(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === "string") return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => redactAny(item, secrets));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEYS.has(key) && item !== undefined ? REDACTED : redactAny(item, secrets);
  }
  return out;
}
