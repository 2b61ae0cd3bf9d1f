import { Readable } from "node:stream";
import { inspect } from "node:util";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { TweedieError } from "@tweedie/core";
import { collectSecrets, redactText } from "../config/redact.js";
import { type BlobStore, type BodySource, checkKey, openBody, type PutOptions } from "./blob.js";
import { DEFAULT_RETRY_POLICY, type RetryEvent, type RetryPolicy, withRetry } from "./retry.js";

/** Smallest part S3 accepts in a multipart upload (all parts but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix without leading or trailing '/'; "" for the bucket root. */
  prefix: string;
  region?: string;
  /** S3-compatible endpoint URL, e.g. http://127.0.0.1:9000; absent for AWS. */
  endpoint?: string;
  /** Path-style URLs (endpoint/bucket/key); default true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /**
   * The SDK's requestChecksumCalculation and responseChecksumValidation. Default
   * "when-required" with an `endpoint` (S3-compatible servers), "when-supported" without.
   */
  checksums?: "when-required" | "when-supported";
  /** Static credentials; when absent the SDK's default chain (env, profile, role) applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Bodies up to this size go in one PutObject; larger ones and streams go multipart. */
  partSizeBytes?: number;
  retry?: Partial<RetryPolicy>;
  /** MaxKeys per ListObjectsV2 page (at most 1000). */
  listPageSize?: number;
  /** Called before each retry, with the error already redacted. */
  onRetry?: (event: RetryEvent) => void;
  /** Environment to read secrets from for redaction; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Returns the S3 endpoint named by the environment: TWEEDIE_S3_ENDPOINT, else the AWS SDK's
 * AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL. A config's output.s3.endpoint takes precedence.
 */
export function s3EndpointFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return env.TWEEDIE_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
}

/** Status codes and error names worth another attempt: server errors, throttling, timeouts. */
const RETRYABLE_NAMES = new Set([
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "SlowDown",
  "InternalError",
  "ServiceUnavailable",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
]);
const RETRYABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  cause?: { code?: string };
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(error: unknown): number | undefined {
  return (error as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** Returns true for network failures, timeouts, throttling and 5xx responses other than 501. */
export function isRetryableS3Error(error: unknown): boolean {
  const shape = (error ?? {}) as SdkErrorShape;
  if (shape.$retryable) return true;
  const status = statusOf(error);
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) {
    return status !== 501;
  }
  if (shape.name && RETRYABLE_NAMES.has(shape.name)) return true;
  const code = shape.code ?? shape.cause?.code;
  if (code && RETRYABLE_CODES.has(code)) return true;
  return /socket hang up/i.test(shape.message ?? "");
}

function isNotFound(error: unknown): boolean {
  const name = (error as SdkErrorShape | undefined)?.name;
  return name === "NoSuchKey" || name === "NotFound" || statusOf(error) === 404;
}

/**
 * A bucket and prefix on S3 or an S3-compatible server. Every request is retried with
 * exponential backoff; each put attempt re-opens its body; errors name the object and
 * the attempt count and carry no credential.
 */
export class S3BlobStore implements BlobStore {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  readonly checksums: "when-required" | "when-supported";
  readonly partSizeBytes: number;
  private readonly client: S3Client;
  private readonly policy: RetryPolicy;
  private readonly listPageSize: number;
  private readonly secrets: string[];
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;

  constructor(options: S3StoreOptions) {
    const env = options.env ?? process.env;
    this.bucket = options.bucket;
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, "");
    this.location = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ""}`;
    this.endpoint = options.endpoint;
    this.region =
      options.region ||
      env.AWS_REGION ||
      env.AWS_DEFAULT_REGION ||
      (options.endpoint ? "us-east-1" : undefined);
    this.checksums = options.checksums ?? (options.endpoint ? "when-required" : "when-supported");

    this.partSizeBytes = Math.max(MIN_PART_SIZE, options.partSizeBytes ?? 8 * 1024 * 1024);
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.listPageSize = Math.min(1000, Math.max(1, options.listPageSize ?? 1000));
    this.secrets = [
      ...collectSecrets(env),
      ...[options.credentials?.secretAccessKey, options.credentials?.sessionToken].filter(
        (value): value is string => value !== undefined,
      ),
    ];
    this.onRetry = options.onRetry;

    const mode = this.checksums === "when-required" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED";
    const config: S3ClientConfig = {
      region: this.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      credentials: options.credentials,
      // Retries happen in withRetry, which counts attempts and re-opens bodies.
      maxAttempts: 1,
      requestChecksumCalculation: mode,
      responseChecksumValidation: mode,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: this.policy.attemptTimeoutMs },
    };
    this.client = new S3Client(config);
  }

  /** Settings without credentials, for logs and run.json. */
  toJSON(): Record<string, unknown> {
    return {
      kind: "s3",
      location: this.location,
      endpoint: this.endpoint ?? null,
      region: this.region ?? null,
      checksums: this.checksums,
    };
  }

  [inspect.custom](): string {
    return `S3BlobStore ${JSON.stringify(this.toJSON())}`;
  }

  private fullKey(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private run<T>(
    operation: string,
    key: string,
    attempt: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const target = `s3://${this.bucket}/${key}`;
    return withRetry(this.policy, { operation, target }, attempt, {
      isRetryable: isRetryableS3Error,
      onRetry: (event) => this.onRetry?.({ ...event, error: this.sanitize(event.error) }),
      failure: (error, attempts) => this.failure(operation, target, error, attempts),
    });
  }

  /** Copies an SDK error, with secrets removed from its message. */
  private sanitize(error: unknown): Error {
    const shape = (error ?? {}) as SdkErrorShape;
    const clean = new Error(redactText(shape.message ?? String(error), this.secrets));
    clean.name = shape.name ?? "Error";
    const status = statusOf(error);
    Object.assign(clean, {
      code: shape.code ?? shape.cause?.code,
      ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }),
    });
    return clean;
  }

  private failure(
    operation: string,
    target: string,
    error: unknown,
    attempts: number,
  ): TweedieError {
    const clean = this.sanitize(error);
    const status = statusOf(error);
    const code = (clean as { code?: string }).code;
    const detail = `${clean.name}: ${clean.message}${status ? ` (HTTP ${status})` : ""}${code ? ` [${code}]` : ""}`;
    const checksumHint =
      this.checksums === "when-supported" && (status === 501 || /checksum/i.test(clean.message))
        ? 'the server may not support the SDK\'s default CRC32 checksums; set output.s3.checksums to "when-required"'
        : undefined;
    const regionHint = /region is missing|region not accepted/i.test(clean.message)
      ? "no AWS region is set: set output.s3.region or AWS_REGION for AWS S3, or point at an S3-compatible server with output.s3.endpoint or TWEEDIE_S3_ENDPOINT"
      : undefined;
    const where = this.endpoint ? ` at ${this.endpoint}` : "";
    return new TweedieError(
      `S3 ${operation} failed for ${target}${where} after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${detail}`,
      {
        code: "io_failed",
        path: [target],
        received: { attempts },
        hint: checksumHint ?? regionHint,
        cause: clean,
      },
    );
  }

  async put(key: string, body: BodySource, options: PutOptions = {}): Promise<void> {
    const fullKey = this.fullKey(key);
    await this.run("put", fullKey, async (signal) => {
      const data = await openBody(body);
      try {
        if (data instanceof Uint8Array && data.byteLength <= this.partSizeBytes) {
          await this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: fullKey,
              Body: data,
              ContentLength: data.byteLength,
              ContentType: options.contentType,
            }),
            { abortSignal: signal },
          );
          return;
        }
        // A multipart upload may outlast one attempt deadline, so it is not tied to `signal`:
        // each of its part requests has its own socket timeout (requestTimeout) instead.
        const upload = new Upload({
          client: this.client,
          params: {
            Bucket: this.bucket,
            Key: fullKey,
            Body: data,
            ContentType: options.contentType,
          },
          partSize: this.partSizeBytes,
          queueSize: 4,
          leavePartsOnError: false,
        });
        await upload.done();
      } finally {
        if (data instanceof Readable) data.destroy();
      }
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const fullKey = this.fullKey(key);
    return this.run("get", fullKey, async (signal) => {
      try {
        const output = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }),
          { abortSignal: signal },
        );
        return output.Body ? await output.Body.transformToByteArray() : new Uint8Array();
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  async exists(key: string): Promise<boolean> {
    const fullKey = this.fullKey(key);
    return this.run("head", fullKey, async (signal) => {
      try {
        await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: fullKey }), {
          abortSignal: signal,
        });
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    });
  }

  /** Returns the ETag S3 stores for a key (multipart uploads end in "-<parts>"). */
  async etag(key: string): Promise<string | undefined> {
    const fullKey = this.fullKey(key);
    return this.run("head", fullKey, async (signal) => {
      const output = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: fullKey }),
        { abortSignal: signal },
      );
      return output.ETag;
    });
  }

  async *list(prefix: string): AsyncIterable<string> {
    const fullPrefix = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    let token: string | undefined;
    do {
      const page = await this.run("list", `${fullPrefix}*`, (signal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: fullPrefix,
            MaxKeys: this.listPageSize,
            ContinuationToken: token,
          }),
          { abortSignal: signal },
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) yield object.Key.slice(strip);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    const fullKey = this.fullKey(key);
    await this.run("delete", fullKey, (signal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey }), {
        abortSignal: signal,
      }),
    );
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.client.destroy();
  }
}
