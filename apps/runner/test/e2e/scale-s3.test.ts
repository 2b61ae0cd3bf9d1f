import { createHash } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketName, type S3TestServer, startS3Server } from "../fixtures/s3-server.js";
import { type CliResult, runCli, startCli, tempDir, writeConfig } from "./helpers.js";

/**
 * Many machines on one S3 prefix, simulated by concurrent `tweedie run` processes on one
 * host: static shards, idempotent cells and record.json written last must give the same
 * leaderboard as one process, refill only a killed shard's gaps, and count each cell once
 * when shard ranges overlap by mistake.
 */

const RUN = "e2e-scale";
const CELLS_PREFIX = `runs/${RUN}/cells/`;
/** 3 digits x 2 seeds x 2 solvers. */
const CELLS = 3 * 2 * 2;
const SHARDS = 3;
const SHARD_SIZE = CELLS / SHARDS;

const env = {
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  AWS_REGION: "us-east-1",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
};

let server: S3TestServer;
let client: S3Client;
/** The leaderboard and artifact hashes of one process running every cell. */
let reference: { board: string; artifacts: Map<string, string> };

function scaleConfig(bucket: string, endpoint = server.endpoint): string {
  return `name: ${RUN}
datasets:
  - kind: digits
    limit: 3
tasks:
  - name: sr2
    operator: { kind: sr-avgpool, scale: 2 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
solvers:
  - name: flowdps
    params: { steps: 10, stepSize: 2 }
  - name: pseudo-inverse
model: embedded:digits
seeds: [0, 1]
output:
  location: s3://${bucket}/runs
  s3: { endpoint: ${JSON.stringify(endpoint)}, region: us-east-1, forcePathStyle: true, maxAttempts: 10 }
`;
}

async function newBucket(label: string): Promise<{ bucket: string; config: string }> {
  const bucket = bucketName(label);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const config = await writeConfig(await tempDir(`scale-${label}`), scaleConfig(bucket));
  return { bucket, config };
}

/** Writes a config for an existing bucket that reaches S3 through `endpoint`. */
async function configVia(bucket: string, endpoint: string): Promise<string> {
  return writeConfig(await tempDir("scale-via"), scaleConfig(bucket, endpoint));
}

/**
 * Starts a TCP proxy on 127.0.0.1 that delays every chunk sent to the server by `delayMs`,
 * in order. Each stored cell takes several requests, so a run through it needs several
 * delays per cell whatever the CPU speed, and a kill lands mid-shard.
 */
async function startDelayProxy(
  targetPort: number,
  delayMs: number,
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    let queue: Promise<unknown> = Promise.resolve();
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.on("data", (chunk) => {
      queue = queue.then(async () => {
        await sleep(delayMs);
        if (!upstream.destroyed) upstream.write(chunk);
      });
    });
    downstream.on("end", () => {
      queue = queue.then(() => upstream.end());
    });
    upstream.pipe(downstream);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

interface StoredObject {
  etag: string;
  lastModified: number;
}

/** Lists every object under the run's cells prefix, by key relative to it. */
async function listCells(bucket: string): Promise<Map<string, StoredObject>> {
  const objects = new Map<string, StoredObject>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: CELLS_PREFIX, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      objects.set(object.Key!.slice(CELLS_PREFIX.length), {
        etag: object.ETag!,
        lastModified: object.LastModified!.getTime(),
      });
    }
    token = page.NextContinuationToken;
  } while (token);
  return objects;
}

function recordKeys(objects: Map<string, StoredObject>): string[] {
  return [...objects.keys()].filter((key) => key.endsWith("/record.json")).sort();
}

async function recordCount(bucket: string): Promise<number> {
  return recordKeys(await listCells(bucket)).length;
}

/** Hashes (SHA-256) every stored file except record.json, by key relative to the cells prefix. */
async function artifactHashes(bucket: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const key of [...(await listCells(bucket)).keys()].sort()) {
    if (key.endsWith("/record.json")) continue;
    const body = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: `${CELLS_PREFIX}${key}` }),
    );
    const bytes = await body.Body!.transformToByteArray();
    hashes.set(key, createHash("sha256").update(bytes).digest("hex"));
  }
  return hashes;
}

interface Leaderboard {
  groups: { rows: number; failedRows: number }[];
}

/** Runs `tweedie leaderboard s3://bucket/runs --format json` and drops wall-clock seconds. */
async function leaderboard(bucket: string): Promise<{ text: string; parsed: Leaderboard }> {
  const result = await runCli(["leaderboard", `s3://${bucket}/runs`, "--format", "json"], {
    ...env,
    TWEEDIE_S3_ENDPOINT: server.endpoint,
  });
  expect(result.code, result.stderr).toBe(0);
  const parsed = JSON.parse(result.stdout) as Leaderboard;
  return {
    parsed,
    text: JSON.stringify(parsed, (key, value) => (key === "seconds" ? undefined : value)),
  };
}

function countedCells(board: Leaderboard): number {
  return board.groups.reduce((sum, group) => sum + group.rows, 0);
}

function run(config: string, ...args: string[]): ReturnType<typeof startCli> {
  return startCli(["run", config, "--log-format", "json", "--workers", "1", ...args], env);
}

function expectSuccess(results: CliResult[]): void {
  for (const result of results) expect(result.code, result.stderr).toBe(0);
}

/** Returns the cell ids of one event type from the `--log-format json` progress lines. */
function loggedCells(result: CliResult, type: "cell-done" | "cell-skipped"): string[] {
  return result.stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { type: string; cellId?: string })
    .filter((event) => event.type === type)
    .map((event) => event.cellId!)
    .sort();
}

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  server = await startS3Server();
  client = new S3Client({
    endpoint: server.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const { bucket, config } = await newBucket("single");
  expectSuccess([await run(config).done]);
  reference = {
    board: (await leaderboard(bucket)).text,
    artifacts: await artifactHashes(bucket),
  };
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describe("shards on one S3 prefix", () => {
  it("three concurrent shards match one process", async () => {
    const { bucket, config } = await newBucket("three");
    const shards = Array.from({ length: SHARDS }, (_, index) =>
      run(config, "--shard", `${index}/${SHARDS}`),
    );
    const results = await Promise.all(shards.map((shard) => shard.done));
    expectSuccess(results);
    for (const result of results) expect(loggedCells(result, "cell-done")).toHaveLength(SHARD_SIZE);

    const board = await leaderboard(bucket);
    expect(countedCells(board.parsed)).toBe(CELLS);
    expect(board.text).toBe(reference.board);
    expect(reference.artifacts.size).toBe(CELLS * 5);
    expect([...(await artifactHashes(bucket)).entries()]).toEqual([
      ...reference.artifacts.entries(),
    ]);
  }, 120_000);

  it("a folder config reaches S3 through --out and TWEEDIE_S3_ENDPOINT", async () => {
    const bucket = bucketName("env-endpoint");
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const text = scaleConfig(bucket).replace(
      /output:\n[\s\S]*$/,
      "output: { location: ./local-out }\n",
    );
    const config = await writeConfig(await tempDir("scale-env"), text);
    const result = await startCli(
      ["run", config, "--workers", "1", "--out", `s3://${bucket}/runs`],
      // No AWS_REGION: without the endpoint from the environment the run fails with a
      // missing region instead of reaching for AWS.
      { ...env, AWS_REGION: "", TWEEDIE_S3_ENDPOINT: server.endpoint },
    ).done;
    expectSuccess([result]);
    expect(await recordCount(bucket)).toBe(CELLS);
  }, 120_000);

  it("a killed shard refills only its own gaps", async () => {
    const { bucket, config } = await newBucket("killed");
    expectSuccess(
      await Promise.all([run(config, "--shard", "1/3").done, run(config, "--shard", "2/3").done]),
    );
    const others = await recordCount(bucket);
    expect(others).toBe(CELLS - SHARD_SIZE);

    const proxy = await startDelayProxy(server.port, 150);
    try {
      const killed = run(await configVia(bucket, proxy.endpoint), "--shard", "0/3");
      const deadline = Date.now() + 90_000;
      while ((await recordCount(bucket)) < others + 2 && Date.now() < deadline) await sleep(20);
      killed.child.kill("SIGKILL");
      expect((await killed.done).signal).toBe("SIGKILL");
    } finally {
      await proxy.close();
    }

    const before = await listCells(bucket);
    const storedBefore = recordKeys(before);
    const partial = storedBefore.length - others;
    expect(partial, "shard 0 cells stored before the kill").toBeGreaterThanOrEqual(2);
    expect(partial, "the kill must land before shard 0 finished").toBeLessThan(SHARD_SIZE);

    const rerun = await run(config, "--shard", "0/3").done;
    expectSuccess([rerun]);
    const after = await listCells(bucket);
    const storedAfter = recordKeys(after);
    expect(storedAfter).toHaveLength(CELLS);

    // Every record stored before the rerun, of any shard, is the same object afterwards.
    for (const key of storedBefore) expect(after.get(key), key).toEqual(before.get(key));
    // The rerun computed exactly the missing cells of its own shard, once each.
    const added = storedAfter.filter((key) => !before.has(key));
    const done = loggedCells(rerun, "cell-done");
    expect(added).toHaveLength(SHARD_SIZE - partial);
    expect(done.map((id) => `${id.slice(0, 16)}/record.json`).sort()).toEqual(added);
    expect(loggedCells(rerun, "cell-skipped")).toHaveLength(partial);

    const board = await leaderboard(bucket);
    expect(countedCells(board.parsed)).toBe(CELLS);
    expect(board.text).toBe(reference.board);
  }, 120_000);

  it.each([
    ["the same shard twice", [["0/2"], ["0/2"], ["1/2"]]],
    ["shards 0/2 and 0/1", [["0/2"], ["0/1"]]],
  ])(
    "overlapping ranges count each cell once: %s",
    async (_, layout) => {
      const { bucket, config } = await newBucket("overlap");
      const results = await Promise.all(
        layout.map(([shard]) => run(config, "--shard", shard).done),
      );
      expectSuccess(results);

      expect(await recordCount(bucket)).toBe(CELLS);
      const board = await leaderboard(bucket);
      expect(countedCells(board.parsed)).toBe(CELLS);
      expect(board.parsed.groups.every((group) => group.failedRows === 0)).toBe(true);
      expect(board.text).toBe(reference.board);
    },
    120_000,
  );
});
