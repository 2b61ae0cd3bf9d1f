import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketName, type S3TestServer, startS3Server, TcpProxy } from "../fixtures/s3-server.js";
import {
  artifactHashes,
  digitsConfig,
  records,
  runCli,
  startCli,
  tempDir,
  writeConfig,
} from "./helpers.js";

const CELLS = 6 * 2 * 2;
/**
 * A run is killed once this many cells are stored: early, middle and late. With two
 * workers the next cells are mid-flight at that moment, so kills land inside cells too.
 */
const KILL_AFTER = [1, 5, 13];

/** Resolves once `count` records exist under `runDir` (polled every 20 ms). */
async function waitForRecords(runDir: string, count: number, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const stored = await records(runDir).catch(() => new Map());
    if (stored.size >= count) return;
    await sleep(20);
  }
  throw new Error(`fewer than ${count} records appeared in ${runDir}`);
}

let reference: Map<string, string>;
/** Cells stored when each local run was killed: the trials must catch runs mid-way. */
const storedAtKill: number[] = [];

beforeAll(async () => {
  const dir = await tempDir("resume-ref");
  const config = await writeConfig(dir, digitsConfig(join(dir, "out")));
  const result = await runCli(["run", config, "--log-format", "plain"]);
  expect(result.code, result.stderr).toBe(0);
  reference = await artifactHashes(join(dir, "out", "e2e-digits"));
}, 120_000);

describe("killed runs resume", () => {
  it.each(KILL_AFTER)(
    "locally after SIGKILL at %i stored cells",
    async (after) => {
      const dir = await tempDir("resume-local");
      const out = join(dir, "out");
      const config = await writeConfig(dir, digitsConfig(out));
      const { child, done } = startCli(["run", config, "--log-format", "plain", "--workers", "2"]);
      await waitForRecords(join(out, "e2e-digits"), after);
      child.kill("SIGKILL");
      const killed = await done;
      expect(killed.signal).toBe("SIGKILL");
      const partial = await records(join(out, "e2e-digits")).catch(() => new Map());
      storedAtKill.push(partial.size);

      const resumed = await runCli(["run", config, "--log-format", "plain"]);
      expect(resumed.code, resumed.stderr).toBe(0);
      const runDir = join(out, "e2e-digits");
      const cellFolders = await readdir(join(runDir, "cells"));
      expect(cellFolders).toHaveLength(CELLS);
      const stored = await records(runDir);
      expect(stored.size).toBe(CELLS);
      expect([...stored.values()].every((record) => record.status === "ok")).toBe(true);
      expect([...(await artifactHashes(runDir)).entries()]).toEqual([...reference.entries()]);
    },
    120_000,
  );

  it("after SIGINT, with a resume hint", async () => {
    const dir = await tempDir("resume-sigint");
    const out = join(dir, "out");
    // 8 samples per cell make 192 cells, so the run is still going when the signal lands.
    const config = await writeConfig(dir, digitsConfig(out, "samples: 8"));
    const { child, done } = startCli(["run", config, "--log-format", "plain", "--workers", "2"]);
    await waitForRecords(join(out, "e2e-digits"), 3);
    child.kill("SIGINT");
    const interrupted = await done;
    // The process ends by the signal itself (a shell reports 130).
    expect(interrupted.signal, `exit code ${interrupted.code}`).toBe("SIGINT");
    expect(interrupted.stderr).toContain(
      `interrupted by SIGINT; finished cells are stored in ${out}`,
    );
    expect(interrupted.stderr).toContain("Rerun the same command to resume.");
    const runDir = join(out, "e2e-digits");
    expect((await records(runDir)).size).toBeLessThan(8 * CELLS);

    const resumed = await runCli(["run", config, "--log-format", "plain"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const stored = await records(runDir);
    expect(stored.size).toBe(8 * CELLS);
    expect([...stored.values()].every((record) => record.status === "ok")).toBe(true);
  }, 120_000);

  it("demo after SIGINT, with a resume hint", async () => {
    const dir = await tempDir("resume-demo");
    const out = join(dir, "demo-out");
    const { child, done } = startCli(["demo", "--out", out, "--log-format", "plain"]);
    await waitForRecords(join(out, "demo"), 2);
    child.kill("SIGINT");
    const interrupted = await done;
    expect(interrupted.signal, `exit code ${interrupted.code}`).toBe("SIGINT");
    expect(interrupted.stderr).toContain(
      `tweedie demo: interrupted by SIGINT; finished cells are stored in ${out}`,
    );
  }, 120_000);

  it("caught at least one run mid-way", () => {
    const midway = storedAtKill.filter((count) => count > 0 && count < CELLS);
    expect(midway.length, `cells stored at each kill: ${storedAtKill.join(", ")}`).toBe(
      KILL_AFTER.length,
    );
  });
});

describe("killed runs resume on S3", () => {
  let server: S3TestServer;
  let client: S3Client;

  beforeAll(async () => {
    server = await startS3Server();
    client = new S3Client({
      endpoint: server.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  }, 60_000);

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  async function s3Artifacts(
    bucket: string,
  ): Promise<{ hashes: Map<string, string>; records: number }> {
    const hashes = new Map<string, string>();
    let recordCount = 0;
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: "runs/e2e-digits/cells/",
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key!;
        const relative = key.slice("runs/e2e-digits/cells/".length);
        if (relative.endsWith("/record.json")) {
          recordCount++;
          continue;
        }
        const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const bytes = await body.Body!.transformToByteArray();
        hashes.set(relative, createHash("sha256").update(bytes).digest("hex"));
      }
      token = page.NextContinuationToken;
    } while (token);
    return { hashes: new Map([...hashes.entries()].sort()), records: recordCount };
  }

  /** Number of record.json objects, from listings only (cheap enough to poll). */
  async function s3RecordCount(bucket: string): Promise<number> {
    let count = 0;
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: "runs/e2e-digits/cells/",
          ContinuationToken: token,
        }),
      );
      count += (page.Contents ?? []).filter((object) =>
        object.Key!.endsWith("/record.json"),
      ).length;
      token = page.NextContinuationToken;
    } while (token);
    return count;
  }

  function s3Config(bucket: string, endpoint: string): string {
    return digitsConfig(
      `s3://${bucket}/runs`,
      `  s3: { endpoint: ${JSON.stringify(endpoint)}, region: us-east-1, forcePathStyle: true, maxAttempts: 10 }\n`,
    ).replace(/output: \{ location: ("[^"]+") \}\n {2}s3:/, "output:\n  location: $1\n  s3:");
  }

  const env = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_REGION: "us-east-1" };

  it("after SIGKILL, with every cell stored once", async () => {
    const bucket = bucketName("resume");
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const dir = await tempDir("resume-s3");
    const config = await writeConfig(dir, s3Config(bucket, server.endpoint));
    const { child, done } = startCli(
      ["run", config, "--log-format", "plain", "--workers", "2"],
      env,
    );
    const deadline = Date.now() + 90_000;
    while ((await s3RecordCount(bucket)) < 3 && Date.now() < deadline) await sleep(20);
    child.kill("SIGKILL");
    expect((await done).signal).toBe("SIGKILL");
    const partial = await s3RecordCount(bucket);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(CELLS);
    const resumed = await runCli(["run", config, "--log-format", "plain"], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const stored = await s3Artifacts(bucket);
    expect(stored.records).toBe(CELLS);
    expect([...stored.hashes.entries()]).toEqual([...reference.entries()]);
  }, 120_000);

  it("through a short S3 outage mid-run", async () => {
    const bucket = bucketName("outage");
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const proxy = new TcpProxy(server.port);
    const port = await proxy.start();
    try {
      const dir = await tempDir("outage-s3");
      const config = await writeConfig(dir, s3Config(bucket, `http://127.0.0.1:${port}`));
      const { done } = startCli(["run", config, "--log-format", "plain"], env);
      const deadline = Date.now() + 90_000;
      while ((await s3RecordCount(bucket)) < 2 && Date.now() < deadline) await sleep(20);
      await proxy.stop();
      await sleep(3000);
      await proxy.start(port);
      const result = await done;
      expect(result.code, result.stderr + result.stdout).toBe(0);
      const stored = await s3Artifacts(bucket);
      expect(stored.records).toBe(CELLS);
      expect([...stored.hashes.entries()]).toEqual([...reference.entries()]);
    } finally {
      await proxy.stop();
    }
  }, 120_000);
});
