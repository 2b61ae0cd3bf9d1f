import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { installedVersion, runCommit, runnerVersions } from "../src/exec/versions.js";

const runnerRoot = fileURLToPath(new URL("..", import.meta.url));

/** The version in the package.json that pnpm linked into the runner's node_modules. */
async function linkedVersion(name: string): Promise<string> {
  const text = await readFile(join(runnerRoot, "node_modules", name, "package.json"), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

function git(dir: string, ...args: string[]): string {
  const result = spawnSync(
    "git",
    ["-C", dir, "-c", "user.name=test", "-c", "user.email=test@127.0.0.1", ...args],
    { encoding: "utf8" },
  );
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim();
}

async function gitCheckout(): Promise<{ dir: string; head: string }> {
  const dir = await mkdtemp(join(tmpdir(), "tweedie-versions-git-"));
  git(dir, "init", "--quiet");
  await writeFile(join(dir, "tracked.txt"), "one\n");
  git(dir, "add", "tracked.txt");
  git(dir, "commit", "--quiet", "-m", "first");
  return { dir, head: git(dir, "rev-parse", "HEAD") };
}

describe("installedVersion", () => {
  it("reads packages whose exports hide package.json", async () => {
    expect(installedVersion("sharp")).toBe(await linkedVersion("sharp"));
    expect(installedVersion("piscina")).toBe(await linkedVersion("piscina"));
  });

  it("reads ordinary and workspace packages", async () => {
    expect(installedVersion("onnxruntime-node")).toBe(await linkedVersion("onnxruntime-node"));
    expect(installedVersion("@tweedie/core")).toBe(await linkedVersion("@tweedie/core"));
  });

  it("returns unknown for a missing package", () => {
    expect(installedVersion("tweedie-no-such-package")).toBe("unknown");
  });

  it("leaves no runner version unknown", () => {
    const versions = runnerVersions();
    expect(versions.node).toBe(process.version);
    const unknown = Object.entries(versions).filter(([, version]) => version === "unknown");
    expect(unknown).toEqual([]);
  });
});

describe("runCommit", () => {
  it("prefers TWEEDIE_COMMIT", async () => {
    const { dir } = await gitCheckout();
    expect(runCommit({ TWEEDIE_COMMIT: "release-7" }, dir)).toBe("release-7");
  });

  it("reads HEAD of a clean checkout", async () => {
    const { dir, head } = await gitCheckout();
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    expect(runCommit({}, dir)).toBe(head);
  });

  it("ignores untracked files", async () => {
    const { dir, head } = await gitCheckout();
    await writeFile(join(dir, "untracked.txt"), "new\n");
    expect(runCommit({}, dir)).toBe(head);
  });

  it("marks changed tracked files dirty", async () => {
    const { dir, head } = await gitCheckout();
    await writeFile(join(dir, "tracked.txt"), "two\n");
    expect(runCommit({}, dir)).toBe(`${head}-dirty`);
  });

  it("returns null outside a checkout", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tweedie-versions-plain-"));
    expect(runCommit({}, dir)).toBeNull();
  });

  it("returns null under node_modules", async () => {
    const { dir } = await gitCheckout();
    const installed = join(dir, "node_modules", "@tweedie", "runner");
    await mkdir(installed, { recursive: true });
    expect(runCommit({}, installed)).toBeNull();
  });
});
