import { isAbsolute, resolve } from "node:path";
import { TweedieError } from "@tweedie/core";

/** Result location: a local folder, or a bucket and key prefix on S3. */
export type StoreLocation =
  | { kind: "local"; root: string }
  | { kind: "s3"; bucket: string; prefix: string };

/** S3 bucket naming rules: 3-63 characters of a-z, 0-9, '.' and '-', alphanumeric at both ends. */
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses `s3://bucket/prefix` or a folder path (relative paths resolve against
 * `baseDir`). The prefix loses its leading and trailing slashes and may not contain
 * empty, "." or ".." segments.
 */
export function parseLocation(
  text: string,
  baseDir: string,
  path: readonly (string | number)[] = [],
): StoreLocation {
  if (!/^s3:\/\//i.test(text)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
      throw new TweedieError("unsupported location scheme", {
        code: "unsupported",
        path,
        expected: "a folder path or s3://bucket/prefix",
        received: text,
      });
    }
    return { kind: "local", root: isAbsolute(text) ? text : resolve(baseDir, text) };
  }
  const rest = text.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = (slash < 0 ? "" : rest.slice(slash + 1)).replace(/^\/+|\/+$/g, "");
  if (!BUCKET_PATTERN.test(bucket) || bucket.includes("..")) {
    throw new TweedieError("invalid S3 bucket name", {
      code: "invalid_value",
      path,
      expected:
        "3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit",
      received: bucket,
    });
  }
  if (
    prefix !== "" &&
    prefix.split("/").some((part) => part === "" || part === "." || part === "..")
  ) {
    throw new TweedieError("invalid S3 key prefix", {
      code: "invalid_value",
      path,
      expected: "segments without '//', '.' or '..'",
      received: prefix,
    });
  }
  return { kind: "s3", bucket, prefix };
}

/** Formats the location as a URL or path, for logs and run.json. */
export function formatLocation(location: StoreLocation): string {
  if (location.kind === "local") return location.root;
  return `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ""}`;
}
