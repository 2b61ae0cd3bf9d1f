import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketName, type S3TestServer, startS3Server } from "../fixtures/s3-server.js";
import { runCli, tempDir, writeConfig } from "./helpers.js";

const CANARY = "tweedie-canary-7f3a9c51e2";

describe("credentials stay out of outputs", () => {
  let server: S3TestServer;

  beforeAll(async () => {
    server = await startS3Server();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("finds a planted secret in no object or log line", async () => {
    const bucket = bucketName("secrets");
    const client = new S3Client({
      endpoint: server.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const dir = await tempDir("secrets");
    // sr-avgpool x3 cannot apply to 8 x 8 digits, so those cells fail and store their error.
    const config = await writeConfig(
      dir,
      `name: secrets
datasets:
  - kind: digits
    limit: 2
tasks:
  - name: sr2
    operator: { kind: sr-avgpool, scale: 2 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
  - name: sr3
    operator: { kind: sr-avgpool, scale: 3 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
solvers:
  - name: pseudo-inverse
model: embedded:digits
output:
  location: s3://${bucket}/runs
  s3:
    endpoint: ${server.endpoint}
    region: us-east-1
    forcePathStyle: true
    credentials: { accessKeyId: test, secretAccessKey: ${CANARY} }
`,
    );
    const env = {
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: CANARY,
      AWS_SESSION_TOKEN: `${CANARY}-token`,
      AWS_REGION: "us-east-1",
    };
    const run = await runCli(["run", config, "--log-format", "json"], env);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain("failed");
    const board = await runCli(["leaderboard", `s3://${bucket}/runs`, "--format", "json"], {
      ...env,
      TWEEDIE_S3_ENDPOINT: server.endpoint,
    });
    expect(board.code, board.stderr).toBe(0);

    const logs = [run.stdout, run.stderr, board.stdout, board.stderr].join("\n");
    expect(logs.includes(CANARY)).toBe(false);
    let objects = 0;
    let failedRecords = 0;
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key! }));
        const text = Buffer.from(await body.Body!.transformToByteArray()).toString("latin1");
        expect(text.includes(CANARY), object.Key).toBe(false);
        if (object.Key!.endsWith("record.json") && text.includes('"status": "failed"'))
          failedRecords++;
        objects++;
      }
      token = page.NextContinuationToken;
    } while (token);
    expect(objects).toBeGreaterThan(4);
    expect(failedRecords).toBe(2);
    client.destroy();
  }, 120_000);
});
