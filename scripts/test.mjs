#!/usr/bin/env node
// Runs every project's tests through nx (cached per project), then prints one plain
// summary line "N passed, N failed" summed from the vitest JSON reports. The reports are
// nx outputs, so a fully cached run still prints the counts of the run it replays.
// The tests write their temporary files under one folder (TMPDIR). A run that passes
// removes it, and a run that fails keeps it and prints its path.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const extra = process.argv.slice(2);
const tempRoot = mkdtempSync(join(tmpdir(), "tweedie-tests-"));
const nx = spawnSync(
  "pnpm",
  ["exec", "nx", "run-many", "-t", "test", "--outputStyle=static", ...extra],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, TMPDIR: tempRoot },
  },
);

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const group of ["packages", "apps"]) {
  for (const name of readdirSync(join(root, group))) {
    const report = join(root, group, name, ".vitest-report.json");
    if (!existsSync(report)) {
      missing.push(`${group}/${name}`);
      continue;
    }
    const json = JSON.parse(readFileSync(report, "utf8"));
    passed += json.numPassedTests;
    failed += json.numFailedTests;
    skipped += json.numPendingTests + json.numTodoTests;
  }
}
if (missing.length > 0) console.error(`no test report from: ${missing.join(", ")}`);
const status = nx.status ?? 1;
if (status !== 0 && failed === 0) failed = 1; // nx failed before a test could report
const ok = status === 0 && failed === 0 && passed > 0;
if (ok) rmSync(tempRoot, { recursive: true, force: true });
else console.error(`the tests' temporary files are kept in ${tempRoot}`);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exit(ok ? 0 : 1);
