import { collectSecrets } from "../config/redact.js";
import type { TweedieConfig } from "../config/resolve.js";
import type { BlobStore } from "./blob.js";
import { LocalBlobStore } from "./local.js";
import { ResultStore } from "./results.js";
import type { RetryEvent, RetryPolicy } from "./retry.js";
import { S3BlobStore, s3EndpointFromEnv } from "./s3.js";

export interface OpenStoreOptions {
  env?: NodeJS.ProcessEnv;
  onRetry?: (event: RetryEvent) => void;
  retry?: Partial<RetryPolicy>;
}

/** Opens the blob store of a config's `output` section: a folder, or S3 with its settings. */
export function openBlobStore(
  output: TweedieConfig["output"],
  options: OpenStoreOptions = {},
): BlobStore {
  if (output.location.kind === "local") return new LocalBlobStore(output.location.root);
  const s3 = output.s3;
  return new S3BlobStore({
    bucket: output.location.bucket,
    prefix: output.location.prefix,
    region: s3?.region,
    endpoint: s3?.endpoint ?? s3EndpointFromEnv(options.env ?? process.env),
    forcePathStyle: s3?.forcePathStyle,
    checksums: s3?.checksums,
    credentials: s3?.credentials,
    partSizeBytes: s3?.partSizeBytes,
    retry: { ...(s3 ? { maxAttempts: s3.maxAttempts } : {}), ...options.retry },
    onRetry: options.onRetry,
    env: options.env,
  });
}

/** Opens the result store of a config's run. */
export function openResultStore(
  config: Pick<TweedieConfig, "output">,
  options: OpenStoreOptions = {},
): ResultStore {
  return new ResultStore(openBlobStore(config.output, options), config.output.run, {
    env: options.env,
    secrets: collectSecrets({}, config),
  });
}
