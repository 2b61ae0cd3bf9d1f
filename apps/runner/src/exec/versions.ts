import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

/** Resolves a package's entry point under either the require or the import condition. */
function entryOf(name: string): string {
  try {
    return require.resolve(name);
  } catch {
    return fileURLToPath(import.meta.resolve(name));
  }
}

/**
 * Reads the installed version of a package from the nearest package.json above its entry
 * point that carries its name. Requiring `<name>/package.json` fails for packages whose
 * exports map does not list that file (sharp 0.35, piscina 5).
 */
export function installedVersion(name: string): string {
  try {
    let dir = dirname(entryOf(name));
    for (;;) {
      const manifest = join(dir, "package.json");
      if (existsSync(manifest)) {
        const json = JSON.parse(readFileSync(manifest, "utf8")) as {
          name?: string;
          version?: string;
        };
        if (json.name === name && typeof json.version === "string") return json.version;
      }
      const parent = dirname(dir);
      if (parent === dir) return "unknown";
      dir = parent;
    }
  } catch {
    return "unknown";
  }
}

/**
 * Returns the commit recorded in run.json: TWEEDIE_COMMIT when set, else the HEAD of the git
 * checkout containing the runner's own files, with "-dirty" appended when tracked files differ
 * from HEAD. Returns null when the runner is not in a git checkout (an npm install: any
 * path under node_modules counts as one), git is missing, or git fails or takes over 2 s.
 */
export function runCommit(
  env: NodeJS.ProcessEnv,
  sourceDir = dirname(fileURLToPath(import.meta.url)),
): string | null {
  if (env.TWEEDIE_COMMIT) return env.TWEEDIE_COMMIT;
  if (sourceDir.split(/[\\/]/).includes("node_modules")) return null;
  const git = (args: string[]): string | null => {
    const result = spawnSync("git", ["-C", sourceDir, ...args], {
      encoding: "utf8",
      timeout: 2000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    return result.status === 0 ? result.stdout.trim() : null;
  };
  const head = git(["rev-parse", "--verify", "HEAD"]);
  if (!head || !/^[0-9a-f]{40,64}$/.test(head)) return null;
  const status = git(["status", "--porcelain", "--untracked-files=no"]);
  if (status === null) return null;
  return status === "" ? head : `${head}-dirty`;
}

/** Versions recorded in run.json: node, the runtime libraries and the Tweedie packages. */
export function runnerVersions(): Record<string, string> {
  const names = [
    "@tweedie/core",
    "@tweedie/operators",
    "@tweedie/eval",
    "@tweedie/solver-dps",
    "@tweedie/solver-flowdps",
    "@tweedie/solver-dreamsampler",
    "@tweedie/solver-flowalign",
    "onnxruntime-node",
    "sharp",
    "piscina",
  ];
  return {
    node: process.version,
    ...Object.fromEntries(names.map((name) => [name, installedVersion(name)])),
  };
}

/** Discrete training steps declared by a model package's schedule, or null. */
export async function readScheduleSteps(dir: string): Promise<number | null> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, "tweedie-model.json"), "utf8")) as {
      schedule?: { steps?: number };
    };
    return typeof manifest.schedule?.steps === "number" ? manifest.schedule.steps : null;
  } catch {
    return null;
  }
}

/**
 * Image channels a pixel-space model package takes, from its manifest. Null for latent
 * models (their decoder fixes the image channels) and for layouts without
 * tweedie-model.json.
 */
export async function readPixelChannels(dir: string): Promise<number | null> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, "tweedie-model.json"), "utf8")) as {
      space?: string;
      channels?: number;
    };
    if (manifest.space !== "pixel" || typeof manifest.channels !== "number") return null;
    return manifest.channels;
  } catch {
    return null;
  }
}

/**
 * Prompts a model package accepts: for a label-conditioned one the keys of its manifest's
 * prompt table and the empty prompt, for an unconditional one the empty prompt only. Null
 * for any other package (text-conditioned, or a layout without tweedie-model.json), whose
 * prompts the model itself checks.
 */
export async function readLabelPrompts(dir: string): Promise<Set<string> | null> {
  let manifest: { conditioning?: { kind?: string; prompts?: Record<string, unknown> } };
  try {
    manifest = JSON.parse(await readFile(join(dir, "tweedie-model.json"), "utf8"));
  } catch {
    return null;
  }
  const conditioning = manifest.conditioning;
  if (conditioning?.kind === "none") return new Set([""]);
  if (conditioning?.kind !== "label" || typeof conditioning.prompts !== "object") return null;
  return new Set(["", ...Object.keys(conditioning.prompts ?? {})]);
}
