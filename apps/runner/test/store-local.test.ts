import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  type CellRecordInput,
  cellKey,
  LocalBlobStore,
  listLocationRecords,
  openResultStore,
  parseConfig,
  parseConfigText,
  parseLocation,
  ResultStore,
  withRetry,
} from "../src/index.js";

async function tempStore(): Promise<{ root: string; blobs: LocalBlobStore }> {
  const root = await mkdtemp(join(tmpdir(), "tweedie-store-"));
  return { root, blobs: new LocalBlobStore(root) };
}

function cellId(n: number): string {
  return createHash("sha256").update(`cell ${n}`).digest("hex");
}

function record(
  status: "ok" | "failed" = "ok",
): Omit<CellRecordInput, "schemaVersion" | "cellId" | "run" | "files"> {
  return {
    status,
    cell: { seed: 0 },
    metrics: { psnr: 30.5, lpips: null },
    createdAt: "2026-01-01T00:00:00.000Z",
  };
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out.sort();
}

describe("LocalBlobStore", () => {
  it("writes, reads, lists and deletes by key", async () => {
    const { root, blobs } = await tempStore();
    await blobs.put("run/cells/a/output.png", Buffer.from([1, 2, 3]));
    await blobs.put("run/cells/b/record.json", "{}");
    await blobs.put("other/run.json", () => Readable.from(["he", "llo"]));
    expect(await blobs.get("run/cells/a/output.png")).toEqual(new Uint8Array([1, 2, 3]));
    expect(await readFile(join(root, "other", "run.json"), "utf8")).toBe("hello");
    expect(await blobs.get("run/cells/c/output.png")).toBeUndefined();
    expect(await blobs.exists("run/cells/b/record.json")).toBe(true);
    expect(await collect(blobs.list("run/"))).toEqual([
      "run/cells/a/output.png",
      "run/cells/b/record.json",
    ]);
    expect(await collect(blobs.list("run/cells/a"))).toEqual(["run/cells/a/output.png"]);
    expect(await collect(blobs.list(""))).toHaveLength(3);
    await blobs.delete("run/cells/a/output.png");
    expect(await blobs.exists("run/cells/a/output.png")).toBe(false);
  });

  it("rejects keys that could leave the root", async () => {
    const { blobs } = await tempStore();
    for (const key of ["../x", "/abs", "a//b", "a/./b", "a\\b", ""]) {
      await expect(blobs.put(key, "x"), key).rejects.toThrow("invalid store key");
    }
  });

  it("leaves no file behind when a write fails midway", async () => {
    const { root, blobs } = await tempStore();
    const failing = () =>
      new Readable({
        read() {
          this.push(Buffer.from('{"partial": '));
          this.destroy(new Error("encoder crashed"));
        },
      });
    await expect(blobs.put("run/cells/a/record.json", failing)).rejects.toThrow(
      `cannot write ${join(root, "run", "cells", "a", "record.json")}`,
    );
    expect(await readdir(join(root, "run", "cells", "a"))).toEqual([]);
  });

  it("ignores temporary files left by a crash", async () => {
    const { root, blobs } = await tempStore();
    const store = new ResultStore(blobs, "run");
    const folder = join(root, "run", "cells", cellKey(cellId(1)));
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "record.json.tmp-4242-deadbeef"), '{"schemaVersion": 1, "cellId"');
    expect(await collect(blobs.list("run/"))).toEqual([]);
    expect(await store.readRecord(cellId(1))).toEqual({ state: "missing" });
    expect(await store.listRecords()).toEqual([]);
  });

  it("replaces an object whole", async () => {
    const { blobs } = await tempStore();
    await blobs.put("a.json", "first version, longer");
    await blobs.put("a.json", "second");
    expect(Buffer.from((await blobs.get("a.json")) ?? []).toString()).toBe("second");
  });
});

describe("ResultStore", () => {
  it("writes the files, then the record with their hashes", async () => {
    const { root, blobs } = await tempStore();
    const store = new ResultStore(blobs, "run");
    const written = await store.writeCell(
      cellId(1),
      [
        { name: "output.png", body: Buffer.from("out") },
        { name: "measurement.npy", body: () => Buffer.from("y") },
      ],
      record(),
    );
    expect(written.files).toEqual({
      "output.png": { bytes: 3, sha256: createHash("sha256").update("out").digest("hex") },
      "measurement.npy": { bytes: null, sha256: null },
    });
    const folder = join(root, "run", "cells", cellId(1).slice(0, 16));
    expect((await readdir(folder)).sort()).toEqual([
      "measurement.npy",
      "output.png",
      "record.json",
    ]);
    const onDisk = JSON.parse(await readFile(join(folder, "record.json"), "utf8"));
    expect(onDisk).toMatchObject({
      schemaVersion: 1,
      cellId: cellId(1),
      run: "run",
      status: "ok",
      nfe: null,
    });
    expect(await store.isDone(cellId(1), { verifyFiles: true })).toBe(true);
    await rm(join(folder, "output.png"));
    expect(await store.isDone(cellId(1))).toBe(true);
    expect(await store.isDone(cellId(1), { verifyFiles: true })).toBe(false);
  });

  it("settles every upload before reporting a failed cell", async () => {
    const { blobs } = await tempStore();
    const store = new ResultStore(blobs, "run");
    const slow = async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return Buffer.from("slow");
    };
    const failing = async (): Promise<Buffer> => {
      throw new Error("encoder crashed");
    };
    const artifacts = [
      { name: "reference.png", body: slow },
      { name: "output.png", body: failing },
    ];
    await expect(store.writeCell(cellId(5), artifacts, record())).rejects.toThrow("cannot write");
    const folder = `run/cells/${cellKey(cellId(5))}`;
    expect(await blobs.exists(`${folder}/reference.png`)).toBe(true);
    expect(await blobs.exists(`${folder}/record.json`)).toBe(false);
  });

  it("rejects a cell file named like the record", async () => {
    const { blobs } = await tempStore();
    const store = new ResultStore(blobs, "run");
    await expect(
      store.writeCell(cellId(1), [{ name: "record.json", body: "{}" }], record()),
    ).rejects.toThrow("invalid cell file name");
    await expect(
      store.writeCell(cellId(1), [{ name: "../x.png", body: "{}" }], record()),
    ).rejects.toThrow("invalid cell file name");
  });

  it("treats broken, foreign and failed records as not done", async () => {
    const { root, blobs } = await tempStore();
    const store = new ResultStore(blobs, "run");
    await store.writeCell(cellId(2), [], record("failed"));
    expect(await store.isDone(cellId(2))).toBe(false);
    expect(await store.isDone(cellId(2), { skipFailed: true })).toBe(true);

    const brokenFolder = join(root, "run", "cells", cellId(3).slice(0, 16));
    await mkdir(brokenFolder, { recursive: true });
    await writeFile(join(brokenFolder, "record.json"), '{"schemaVersion": 1, "cellId": "abc"');
    expect(await store.readRecord(cellId(3))).toEqual({
      state: "invalid",
      reason: "not valid JSON",
    });

    const foreign = await readFile(
      join(root, "run", "cells", cellId(2).slice(0, 16), "record.json"),
      "utf8",
    );
    const foreignFolder = join(root, "run", "cells", cellId(4).slice(0, 16));
    await mkdir(foreignFolder, { recursive: true });
    await writeFile(join(foreignFolder, "record.json"), foreign);
    expect(await store.readRecord(cellId(4))).toEqual({
      state: "invalid",
      reason: `record of cell ${cellId(2)}, expected ${cellId(4)}`,
    });
    const invalid: string[] = [];
    const records = await store.listRecords({ onInvalid: (key) => invalid.push(key) });
    expect(records.map((item) => item.cellId)).toEqual([cellId(2)]);
    expect(invalid.sort()).toEqual(
      [
        `run/cells/${cellId(3).slice(0, 16)}/record.json`,
        `run/cells/${cellId(4).slice(0, 16)}/record.json`,
      ].sort(),
    );
    expect(await store.doneCellIds()).toEqual(new Set());
  });

  it("writes run.json once per plan and reports a different plan", async () => {
    const { blobs } = await tempStore();
    const store = new ResultStore(blobs, "run");
    const info = {
      createdAt: "2026-01-01T00:00:00.000Z",
      planHash: "plan-a",
      cellCount: 3,
      config: { name: "x" },
      versions: { runner: "0.1.0" },
      commit: "abc123",
    };
    expect(await store.ensureRun(info)).toEqual({ status: "created" });
    expect(await store.ensureRun(info)).toEqual({ status: "same" });
    const different = await store.ensureRun({ ...info, planHash: "plan-b" });
    expect(different).toMatchObject({
      status: "different",
      existing: { planHash: "plan-a", run: "run" },
    });
  });

  it("redacts credentials of the config in run.json", async () => {
    const root = await mkdtemp(join(tmpdir(), "tweedie-store-"));
    const secret = "tweedie-canary-local-7f3a9c";
    const config = parseConfig(
      parseConfigText(`
name: local-run
datasets: [{ kind: folder, root: ./images }]
tasks: [{ operator: { kind: sr } }]
solvers: [{ name: dps }]
model: embedded:patches
output: { location: ${root} }
`),
      { baseDir: "/work" },
    );
    const store = openResultStore(config, { env: { AWS_SECRET_ACCESS_KEY: secret } });
    await store.writeRun({
      createdAt: "2026-01-01T00:00:00.000Z",
      planHash: "p",
      cellCount: 0,
      config: {
        ...config,
        output: { ...config.output, s3: { credentials: { secretAccessKey: "x".repeat(12) } } },
      },
      versions: {},
      commit: null,
      env: { token: `Bearer ${secret}` },
    });
    const text = await readFile(join(root, "local-run", "run.json"), "utf8");
    expect(text).not.toContain(secret);
    expect(text).not.toContain("x".repeat(12));
    expect(JSON.parse(text)).toMatchObject({
      env: { token: "Bearer [redacted]" },
      config: { output: { s3: { credentials: "[redacted]" } } },
    });
  });

  it("lists the records of every run in a location", async () => {
    const { blobs } = await tempStore();
    const first = new ResultStore(blobs, "run-a");
    const second = new ResultStore(blobs, "run-b");
    await first.writeCell(cellId(1), [{ name: "output.png", body: "x" }], record());
    await first.writeCell(cellId(2), [], record("failed"));
    await second.writeCell(cellId(3), [], record());
    await blobs.put("notes/readme.txt", "not a record");
    const byRun = await listLocationRecords(blobs);
    expect([...byRun.keys()].sort()).toEqual(["run-a", "run-b"]);
    expect(
      byRun
        .get("run-a")
        ?.map((item) => item.cellId)
        .sort(),
    ).toEqual([cellId(1), cellId(2)].sort());
    expect(byRun.get("run-b")?.map((item) => item.status)).toEqual(["ok"]);
  });

  it("rejects invalid run names and cell ids", async () => {
    const { blobs } = await tempStore();
    expect(() => new ResultStore(blobs, "../up")).toThrow("invalid run name");
    expect(() => cellKey("abc")).toThrow("invalid cell id");
  });
});

describe("store helpers", () => {
  it("parses locations", () => {
    expect(parseLocation("s3://bucket-a", "/base")).toEqual({
      kind: "s3",
      bucket: "bucket-a",
      prefix: "",
    });
    expect(parseLocation("s3://bucket-a/x/y/", "/base")).toEqual({
      kind: "s3",
      bucket: "bucket-a",
      prefix: "x/y",
    });
    expect(parseLocation("out", "/base")).toEqual({ kind: "local", root: "/base/out" });
    expect(() => parseLocation("s3://bucket-a/x/../y", "/base")).toThrow("invalid S3 key prefix");
    expect(() => parseLocation("gs://bucket/x", "/base")).toThrow("unsupported location scheme");
  });

  it("doubles the backoff up to the cap, with equal jitter", () => {
    const policy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 1000, attemptTimeoutMs: 1000 };
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelay(policy, attempt, () => 0))).toEqual([
      50, 100, 200, 400, 500,
    ]);
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelay(policy, attempt, () => 1))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
  });

  it("retries only retryable errors and counts attempts", async () => {
    const policy = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2, attemptTimeoutMs: 1000 };
    let calls = 0;
    const result = await withRetry(
      policy,
      { operation: "put", target: "t" },
      async () => {
        calls += 1;
        if (calls < 3) throw Object.assign(new Error("busy"), { retry: true });
        return "ok";
      },
      {
        isRetryable: (error) => (error as { retry?: boolean }).retry === true,
        failure: (error) => error as Error,
      },
    );
    expect(result).toBe("ok");
    expect(calls).toBe(3);
    const failure = await withRetry(
      policy,
      { operation: "put", target: "t" },
      async () => {
        throw new Error("fatal");
      },
      {
        isRetryable: () => false,
        failure: (_error, attempts) => new Error(`gave up after ${attempts}`),
      },
    ).catch((error: Error) => error.message);
    expect(failure).toBe("gave up after 1");
  });

  it("aborts an attempt that passes its deadline and retries it", async () => {
    const policy = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, attemptTimeoutMs: 50 };
    const seen: boolean[] = [];
    const outcome = await withRetry(
      policy,
      { operation: "get", target: "t" },
      (signal) =>
        new Promise<string>((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            seen.push(true);
            reject(new Error("aborted"));
          });
        }),
      {
        isRetryable: () => false,
        failure: (_error, attempts) => new Error(`timed out after ${attempts} attempts`),
      },
    ).catch((error: Error) => error.message);
    expect(outcome).toBe("timed out after 2 attempts");
    expect(seen).toEqual([true, true]);
  });
});
