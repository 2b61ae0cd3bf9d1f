import type { Readable } from "node:stream";
import { TweedieError } from "@tweedie/core";

/**
 * The bytes of one object: a buffer or string, re-sent as is on a retry, or a factory
 * that each attempt calls afresh. With a factory a retried upload re-reads its file or
 * re-encodes its image, instead of reading a stream that the failed attempt consumed.
 */
export type BodySource =
  | Uint8Array
  | string
  | (() => Uint8Array | Readable | Promise<Uint8Array | Readable>);

export interface PutOptions {
  contentType?: string;
}

/**
 * A flat key-value store of objects under one root: a local folder or an S3 bucket and
 * prefix. Keys are relative, '/'-separated, without empty, "." or ".." segments, and
 * name the same objects in both stores.
 */
export interface BlobStore {
  /** The root as a path or s3:// URL, without credentials. */
  readonly location: string;
  /** Writes an object so readers see either the old or the whole new object. */
  put(key: string, body: BodySource, options?: PutOptions): Promise<void>;
  /** The object's bytes, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  exists(key: string): Promise<boolean>;
  /** Every key that starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<string>;
  delete(key: string): Promise<void>;
  /**
   * Removes leftovers of interrupted writes under a folder prefix (a folder store's
   * temporary files). Stores whose writes are atomic on the server need none.
   */
  removeStaleWrites?(prefix: string): Promise<number>;
}

/** Rejects keys that could leave the store's root or differ between stores. */
export function checkKey(key: string): string {
  const bad =
    key === "" ||
    key.startsWith("/") ||
    key.endsWith("/") ||
    key.includes("\\") ||
    key.includes("\0") ||
    key.split("/").some((part) => part === "" || part === "." || part === "..");
  if (bad) {
    throw new TweedieError("invalid store key", {
      code: "invalid_value",
      path: [key],
      expected: "a relative '/'-separated key without empty, '.' or '..' segments",
      received: key,
    });
  }
  return key;
}

/** Resolves a body source for one attempt. */
export async function openBody(body: BodySource): Promise<Uint8Array | Readable> {
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof Uint8Array) return body;
  return await body();
}
