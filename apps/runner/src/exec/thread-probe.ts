import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { PoolKind } from "./pool.js";

/**
 * Some onnxruntime-node releases abort the whole process when several worker threads
 * run sessions at once (a V8 HandleScope fatal error, reported for 1.21.0). The probe runs
 * that situation in a child process: two worker threads each create a session and run it
 * 25 times. If the child exits cleanly, threads are safe with this build; otherwise the
 * pool uses child processes, which speak the same protocol.
 */
export interface ThreadProbeResult {
  kind: PoolKind;
  /** One line for the run log. */
  note: string;
}

let cached: Promise<ThreadProbeResult> | undefined;

export function probeThreadSafety(timeoutMs = 60_000): Promise<ThreadProbeResult> {
  cached ??= runProbe(timeoutMs);
  return cached;
}

function runProbe(timeoutMs: number): Promise<ThreadProbeResult> {
  // Resolves to dist/exec from both src/exec (tests run the sources) and dist/exec.
  const script = fileURLToPath(new URL("../../dist/exec/thread-probe-child.js", import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && output.includes("probe ok")) {
        resolve({
          kind: "threads",
          note: "onnxruntime-node runs in several worker threads: using a thread pool",
        });
        return;
      }
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      const last = output.trim().split("\n").at(-1) ?? "";
      resolve({
        kind: "processes",
        note: `onnxruntime-node failed in two worker threads (${how}${last ? `: ${last.slice(0, 200)}` : ""}); using child processes instead`,
      });
    });
  });
}
