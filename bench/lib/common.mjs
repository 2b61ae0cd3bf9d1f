// Helpers shared by the repository-level benchmarks: option parsing, the machine and
// version record every result carries, and writing results under bench-results/.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, cpus, loadavg, release, totalmem, type } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Parses `--name value` pairs over `defaults`. A value is converted to a number when the
 * default is a number. Unknown names and missing values throw, listing the valid names.
 */
export function benchOptions(argv, defaults) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "");
    const value = argv[i + 1];
    if (!argv[i].startsWith("--") || !(name in defaults) || value === undefined) {
      throw new Error(
        `invalid option ${JSON.stringify(argv[i])}: expected one of ${Object.keys(defaults)
          .map((key) => `--${key} VALUE`)
          .join(", ")}`,
      );
    }
    options[name] = typeof defaults[name] === "number" ? Number(value) : value;
    if (typeof defaults[name] === "number" && !Number.isFinite(options[name])) {
      throw new Error(`invalid value for --${name}: expected a number, received ${value}`);
    }
  }
  return options;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function gitCommit() {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    }).trim();
  } catch {
    return null;
  }
}

function packageVersion(name) {
  const require = createRequire(join(REPO_ROOT, "packages/core/package.json"));
  try {
    return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
  } catch {
    return null;
  }
}

/** Machine, load and versions, recorded with every result so that figures can be compared. */
export function environment(extra = {}) {
  const cpu = cpus()[0];
  return {
    date: new Date().toISOString(),
    commit: gitCommit(),
    cpu: cpu?.model ?? "unknown",
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()}`,
    loadAverage1m: loadavg()[0],
    node: process.version,
    onnxruntimeNode: packageVersion("onnxruntime-node"),
    ...extra,
  };
}

export function writeResult(path, result) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${path}`);
}
