import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { renderError } from "@tweedie/core";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type BlobStore,
  type CellRecordInput,
  listLocationRecords,
  openResultStore,
  parseConfig,
  parseConfigText,
  ResultStore,
  type RetryEvent,
  S3BlobStore,
  type S3StoreOptions,
} from "../src/index.js";
import {
  bucketName,
  type S3TestServer,
  startChecksumRejectingProxy,
  startS3Server,
  TcpProxy,
} from "./fixtures/s3-server.js";

const MiB = 1024 * 1024;
const ENV_CANARY = `tweedie-canary-env-${randomBytes(6).toString("hex")}`;
const CONFIG_CANARY = `tweedie-canary-config-${randomBytes(6).toString("hex")}`;

let server: S3TestServer;

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  process.env.AWS_ACCESS_KEY_ID = "tweedie-test";
  process.env.AWS_SECRET_ACCESS_KEY = ENV_CANARY;
  server = await startS3Server();
}, 30_000);

afterEach(async () => {
  if (server?.owned) await server.reset();
});

afterAll(async () => {
  await server?.stop();
});

async function createBucket(endpoint = server.endpoint): Promise<string> {
  const bucket = bucketName("s3");
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return bucket;
}

function s3Store(bucket: string, options: Partial<S3StoreOptions> = {}): S3BlobStore {
  return new S3BlobStore({
    bucket,
    prefix: "results/nightly",
    endpoint: server.endpoint,
    retry: { baseDelayMs: 50, maxDelayMs: 400, attemptTimeoutMs: 10_000 },
    ...options,
  });
}

function cellId(n: number): string {
  return createHash("sha256").update(`cell ${n}`).digest("hex");
}

function record(
  n: number,
  status: "ok" | "failed" = "ok",
): Omit<CellRecordInput, "schemaVersion" | "cellId" | "run" | "files"> {
  return {
    status,
    cell: { item: `item-${n}`, seed: n },
    metrics: { psnr: 20 + n },
    nfe: 100,
    timings: { solve: 1.5 },
    createdAt: "2026-01-01T00:00:00.000Z",
  };
}

/** Logs every put key in order and fails puts whose key matches `failOn`. */
class RecordingStore implements BlobStore {
  readonly puts: string[] = [];
  failOn: RegExp | undefined;
  constructor(private readonly inner: BlobStore) {}
  get location() {
    return this.inner.location;
  }
  async put(
    key: string,
    ...rest: Parameters<BlobStore["put"]> extends [string, ...infer R] ? R : never
  ) {
    if (this.failOn?.test(key)) throw new Error(`planted failure for ${key}`);
    await this.inner.put(key, ...rest);
    this.puts.push(key);
  }
  get(key: string) {
    return this.inner.get(key);
  }
  exists(key: string) {
    return this.inner.exists(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
}

describe("S3 result store", () => {
  it("writes, reads, lists and skips done cells on resume", async () => {
    const bucket = await createBucket();
    const blobs = s3Store(bucket, { listPageSize: 2 });
    const store = new ResultStore(blobs, "run-1");
    for (const n of [1, 2, 3]) {
      await store.writeCell(
        cellId(n),
        [{ name: "output.png", body: Buffer.from(`png ${n}`) }],
        record(n),
      );
    }
    expect(await blobs.get("run-1/cells/" + cellId(2).slice(0, 16) + "/output.png")).toEqual(
      new Uint8Array(Buffer.from("png 2")),
    );
    const state = await store.readRecord(cellId(2));
    if (state.state !== "done") throw new Error(`expected a done record, got ${state.state}`);
    expect(state.record).toMatchObject({
      cellId: cellId(2),
      run: "run-1",
      metrics: { psnr: 22 },
      files: {
        "output.png": { bytes: 5, sha256: createHash("sha256").update("png 2").digest("hex") },
      },
    });
    // Three records and three images: with two keys per page the listing takes three pages.
    const records = await store.listRecords();
    expect(records.map((item) => item.cellId).sort()).toEqual(
      [cellId(1), cellId(2), cellId(3)].sort(),
    );
    const planned = [1, 2, 3, 4, 5].map(cellId);
    const done = await store.doneCellIds();
    expect(planned.filter((id) => !done.has(id))).toEqual([cellId(4), cellId(5)]);
    expect(await store.isDone(cellId(3))).toBe(true);
    expect(await store.isDone(cellId(4))).toBe(false);
    blobs.destroy();
  });

  it("writes the record last and redoes a half-written cell", async () => {
    const bucket = await createBucket();
    const blobs = new RecordingStore(s3Store(bucket));
    const store = new ResultStore(blobs, "run-2");
    const artifacts = ["output.png", "measurement.png", "reference.png"].map((name) => ({
      name,
      body: Buffer.from(name),
    }));
    blobs.failOn = /measurement\.png$/;
    await expect(store.writeCell(cellId(7), artifacts, record(7))).rejects.toThrow(
      "planted failure",
    );
    expect(await store.readRecord(cellId(7))).toEqual({ state: "missing" });
    expect(await store.isDone(cellId(7))).toBe(false);
    blobs.failOn = undefined;
    blobs.puts.length = 0;
    await store.writeCell(cellId(7), artifacts, record(7));
    expect(blobs.puts).toHaveLength(4);
    expect(blobs.puts.at(-1)).toBe(`run-2/cells/${cellId(7).slice(0, 16)}/record.json`);
    expect(await store.isDone(cellId(7), { verifyFiles: true })).toBe(true);
  });

  it("retries through a short outage and re-reads the body", async () => {
    const bucket = await createBucket();
    const proxy = new TcpProxy(server.port);
    const port = await proxy.start();
    const retries: RetryEvent[] = [];
    const blobs = s3Store(bucket, {
      endpoint: `http://127.0.0.1:${port}`,
      retry: { baseDelayMs: 100, maxDelayMs: 800, maxAttempts: 10, attemptTimeoutMs: 5000 },
      onRetry: (event) => retries.push(event),
    });
    const store = new ResultStore(blobs, "run-3");
    await store.writeCell(
      cellId(1),
      [{ name: "output.png", body: Buffer.from("first") }],
      record(1),
    );

    await proxy.stop();
    const restarted = new Promise<void>((resolve, reject) => {
      setTimeout(() => proxy.start(port).then(() => resolve(), reject), 1500);
    });
    let opened = 0;
    const payload = randomBytes(64 * 1024);
    const factory = () => {
      opened += 1;
      return Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]);
    };
    await store.writeCell(cellId(2), [{ name: "output.npy", body: factory }], record(2));
    await restarted;

    expect(retries.length).toBeGreaterThan(0);
    expect(opened).toBeGreaterThanOrEqual(2);
    expect(retries[0]).toMatchObject({ operation: "put", attempt: 1 });
    expect(retries[0].target).toMatch(new RegExp(`^s3://${bucket}/results/nightly/run-3/cells/`));
    expect(opened).toBe(retries.filter((event) => event.target.endsWith("output.npy")).length + 1);
    expect(
      Buffer.from((await blobs.get(`run-3/cells/${cellId(2).slice(0, 16)}/output.npy`)) ?? []),
    ).toEqual(payload);
    expect(await store.isDone(cellId(2))).toBe(true);
    await proxy.stop();
    blobs.destroy();
  }, 30_000);

  it("names the object and the attempt count when retries run out", async () => {
    const bucket = await createBucket();
    const proxy = new TcpProxy(server.port);
    const port = await proxy.start();
    await proxy.stop();
    const blobs = s3Store(bucket, {
      endpoint: `http://127.0.0.1:${port}`,
      retry: { baseDelayMs: 20, maxDelayMs: 40, maxAttempts: 3, attemptTimeoutMs: 2000 },
    });
    const error = await blobs.put("run/x.json", "{}").catch((caught: unknown) => caught);
    expect(renderError(error)).toMatch(
      new RegExp(
        `^s3://${bucket}/results/nightly/run/x.json: S3 put failed for s3://${bucket}/results/nightly/run/x.json at http://127.0.0.1:${port} after 3 attempts: .*ECONNREFUSED`,
      ),
    );
    blobs.destroy();
  });

  it("does not retry a missing bucket", async () => {
    const blobs = s3Store(bucketName("missing"));
    const error = await blobs.put("a.json", "{}").catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(
      /^S3 put failed for s3:\/\/tweedie-missing-[0-9a-f]+\/results\/nightly\/a.json at .* after 1 attempt: NoSuchBucket/,
    );
    blobs.destroy();
  });

  it("uploads a 12 MiB object in parts", async () => {
    const bucket = await createBucket();
    const blobs = s3Store(bucket, { partSizeBytes: 5 * MiB });
    const big = randomBytes(12 * MiB);
    await blobs.put("big/output.npy", big);
    expect(await blobs.etag("big/output.npy")).toMatch(/-3"$/);
    const back = await blobs.get("big/output.npy");
    expect(
      createHash("sha256")
        .update(back ?? new Uint8Array())
        .digest("hex"),
    ).toBe(createHash("sha256").update(big).digest("hex"));
    await blobs.put("small.json", '{"a":1}');
    expect(await blobs.etag("small.json")).not.toMatch(/-\d+"$/);
    blobs.destroy();
  }, 30_000);

  it("streams a body of unknown length through multipart upload", async () => {
    const bucket = await createBucket();
    const blobs = s3Store(bucket, { partSizeBytes: 5 * MiB });
    const chunks = Array.from({ length: 6 }, () => randomBytes(MiB));
    await blobs.put("stream.bin", () => Readable.from(chunks));
    expect(await blobs.etag("stream.bin")).toMatch(/-2"$/);
    // Buffer.equals, because a deep toEqual over 6 MiB takes minutes.
    const back = Buffer.from((await blobs.get("stream.bin")) ?? []);
    expect(back.length).toBe(6 * MiB);
    expect(back.equals(Buffer.concat(chunks))).toBe(true);
    blobs.destroy();
  }, 30_000);

  it("uploads a PNG piped from sharp", async () => {
    const bucket = await createBucket();
    const blobs = s3Store(bucket);
    const fixture = fileURLToPath(new URL("./fixtures/images/gray8.png", import.meta.url));
    await blobs.put("piped/output.png", () => sharp(fixture).png({ compressionLevel: 9 }));
    const stored = await blobs.get("piped/output.png");
    const meta = await sharp(Buffer.from(stored ?? [])).metadata();
    expect(meta.format).toBe("png");
    expect([meta.width, meta.height]).toEqual([64, 48]);
    blobs.destroy();
  });

  it("works with servers that reject checksum headers by default", async () => {
    const proxy = await startChecksumRejectingProxy(server.port);
    const bucket = await createBucket();
    const compatible = s3Store(bucket, { endpoint: proxy.endpoint });
    expect(compatible.checksums).toBe("when-required");
    await compatible.put("tiny.json", "abc");
    expect(Buffer.from((await compatible.get("tiny.json")) ?? []).toString()).toBe("abc");
    const strict = s3Store(bucket, { endpoint: proxy.endpoint, checksums: "when-supported" });
    const error = await strict.put("tiny2.json", "abc").catch((caught: unknown) => caught);
    expect(renderError(error)).toContain("(HTTP 501)");
    expect(renderError(error)).toContain('set output.s3.checksums to "when-required"');
    compatible.destroy();
    strict.destroy();
    await proxy.close();
  });

  it("keeps planted secrets out of run.json, records and errors", async () => {
    const bucket = await createBucket();
    const config = parseConfig(
      parseConfigText(`
name: secret-run
datasets: [{ kind: folder, root: ./images }]
tasks: [{ operator: { kind: sr, factor: 4 } }]
solvers: [{ name: dps }]
model: embedded:patches
output:
  location: s3://${bucket}/results
  s3:
    endpoint: ${server.endpoint}
    credentials: { accessKeyId: tweedie-test, secretAccessKey: ${CONFIG_CANARY} }
`),
      { baseDir: "/work" },
    );
    const store = openResultStore(config, { retry: { baseDelayMs: 20, maxDelayMs: 40 } });
    await store.writeRun({
      createdAt: "2026-01-01T00:00:00.000Z",
      planHash: "p",
      cellCount: 1,
      config,
      versions: { runner: "0.1.0" },
      commit: null,
      environment: { AWS_SECRET_ACCESS_KEY: ENV_CANARY, note: `key ${ENV_CANARY}` },
    });
    await store.writeCell(cellId(9), [], {
      ...record(9),
      cell: { note: `${CONFIG_CANARY} ${ENV_CANARY}` },
    });
    const written: string[] = [];
    for await (const key of store.blobs.list("secret-run/")) {
      written.push(Buffer.from((await store.blobs.get(key)) ?? []).toString("utf8"));
    }
    expect(written).toHaveLength(2);
    expect(written.join("\n")).toContain("[redacted]");

    const missing = openResultStore(
      {
        output: {
          ...config.output,
          location: { kind: "s3", bucket: bucketName("gone"), prefix: "" },
        },
      },
      { retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 } },
    );
    const error = await missing
      .writeCell(cellId(10), [], record(10))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    const views = [
      ...written,
      (error as Error).message,
      renderError(error),
      JSON.stringify(error),
      inspect(error, { depth: 8 }),
      inspect(store.blobs, { depth: 8 }),
      JSON.stringify(store.blobs),
      JSON.stringify(await store.readRun()),
    ];
    for (const view of views) {
      expect(view).not.toContain(ENV_CANARY);
      expect(view).not.toContain(CONFIG_CANARY);
    }
  });

  it("lists records across pages written by another writer", async () => {
    const bucket = await createBucket();
    const client = new S3Client({
      endpoint: server.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    const store = new ResultStore(s3Store(bucket, { listPageSize: 3 }), "run-5");
    for (let n = 0; n < 7; n++) await store.writeCell(cellId(n), [], record(n));
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `results/nightly/run-5/cells/${cellId(99).slice(0, 16)}/record.json`,
        Body: "{ not json",
      }),
    );
    const invalid: string[] = [];
    const records = await store.listRecords({
      onInvalid: (key, reason) => invalid.push(`${key}: ${reason}`),
    });
    expect(records).toHaveLength(7);
    expect(invalid).toEqual([`run-5/cells/${cellId(99).slice(0, 16)}/record.json: not valid JSON`]);
    const byRun = await listLocationRecords(store.blobs);
    expect([...byRun.keys()]).toEqual(["run-5"]);
    expect(byRun.get("run-5")).toHaveLength(7);
    client.destroy();
  });
});
