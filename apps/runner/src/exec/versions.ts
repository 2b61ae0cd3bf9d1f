import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);

function versionOf(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return "unknown";
  }
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
    ...Object.fromEntries(names.map((name) => [name, versionOf(name)])),
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
 * Prompts a label-conditioned model package accepts: the keys of its manifest's prompt
 * table and the empty prompt. Null for any other package (unconditional, text-conditioned,
 * or a layout without tweedie-model.json), whose prompts the model itself checks.
 */
export async function readLabelPrompts(dir: string): Promise<Set<string> | null> {
  let manifest: { conditioning?: { kind?: string; prompts?: Record<string, unknown> } };
  try {
    manifest = JSON.parse(await readFile(join(dir, "tweedie-model.json"), "utf8"));
  } catch {
    return null;
  }
  const conditioning = manifest.conditioning;
  if (conditioning?.kind !== "label" || typeof conditioning.prompts !== "object") return null;
  return new Set(["", ...Object.keys(conditioning.prompts ?? {})]);
}
