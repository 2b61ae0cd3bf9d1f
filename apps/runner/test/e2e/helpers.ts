import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** Returns a config that runs in seconds: held-out digits, SR x2, FlowDPS and a baseline. */
export function digitsConfig(out: string, extra = ""): string {
  return `name: e2e-digits
datasets:
  - kind: digits
    limit: 6
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
output: { location: ${JSON.stringify(out)} }
${extra}`;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tweedie-${prefix}-`));
}

export async function writeConfig(dir: string, text: string): Promise<string> {
  const path = join(dir, "config.yaml");
  await writeFile(path, text);
  return path;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, CI: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

/** SHA-256 of every file under a run's cells folder except record.json, by relative path. */
export async function artifactHashes(runDir: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const cells = join(runDir, "cells");
  for (const cell of (await readdir(cells)).sort()) {
    for (const file of (await readdir(join(cells, cell))).sort()) {
      if (file === "record.json" || file.startsWith(".")) continue;
      const bytes = await readFile(join(cells, cell, file));
      hashes.set(`${cell}/${file}`, createHash("sha256").update(bytes).digest("hex"));
    }
  }
  return hashes;
}

/** Reads every cell's record (status and metrics), by cell folder. */
export async function records(
  runDir: string,
): Promise<Map<string, { status: string; metrics: Record<string, number | null> }>> {
  const out = new Map<string, { status: string; metrics: Record<string, number | null> }>();
  const cells = join(runDir, "cells");
  for (const cell of (await readdir(cells)).sort()) {
    const files = await readdir(join(cells, cell));
    if (!files.includes("record.json")) continue;
    const record = JSON.parse(await readFile(join(cells, cell, "record.json"), "utf8"));
    out.set(cell, { status: record.status, metrics: record.metrics });
  }
  return out;
}
