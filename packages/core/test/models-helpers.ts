/**
 * Shared pieces of the model-package tests: fixture paths, the deterministic inputs that
 * tools/export/make_fixtures.py feeds PyTorch, and probe comparisons against the
 * references.json it wrote next to each fixture.
 */
import { cp, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { Tensor } from "../src/index.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "models");

/** A tensor probe as make_fixtures.py writes it. */
export interface Probe {
  shape: number[];
  sum: number;
  sumAbs: number;
  indices: number[];
  values: number[];
}

export interface PatternSpec {
  shape: number[];
  phase: number;
}

export interface TokenizerCases {
  maxLength: number;
  ids: number[][];
}

/** references.json of the sd15, sd3 and flux fixtures. */
export interface PipelineReferences {
  /** The prompts of the tokenizer cases, in the order of their ids. */
  tokenizerTexts: string[];
  prompt: string;
  tokenizers: Record<string, TokenizerCases | TokenizerCases[]>;
  embeddings: Record<string, Probe>;
  denoise: {
    x: PatternSpec;
    /** SD: the UNet step index; SD3 and Flux: sigma. */
    timestepIndex?: number;
    sigma?: number;
    cfgScale: number;
    rawUncond: Probe;
    rawCond: Probe;
    x0Hat: Probe;
    decoded: Probe;
  };
  unetVjp?: { g: PatternSpec; raw: Probe };
  transformerVjp?: { g: PatternSpec; raw: Probe };
  vae: {
    image: PatternSpec;
    encodeMean: Probe;
    encodeStd: Probe;
    decoderVjp: { z: PatternSpec; g: PatternSpec; raw: Probe };
  };
  dynamicShift?: { imageSeqLen: number; mu: number; shift: number };
}

/** references.json of the adm fixture. */
export interface AdmReferences {
  x: PatternSpec;
  timestepIndex: number;
  output: Probe;
  vjp: { g: PatternSpec; raw: Probe };
}

export async function readReferences<T = PipelineReferences>(name: string): Promise<T> {
  return JSON.parse(await readFile(join(FIXTURES, name, "references.json"), "utf8")) as T;
}

/** 0.9 sin(0.37 i + phase) over the flat index, the fixture script's test input. */
export function pattern(spec: PatternSpec): Tensor {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = 0.9 * Math.sin(0.37 * i + spec.phase);
  return new Tensor(data, spec.shape);
}

/**
 * Checks a tensor against a PyTorch probe: shape exactly, and the sums and sampled values
 * within `relative` of the probe's absolute sum per element (float32 graphs on two
 * runtimes differ by rounding only).
 */
export function expectProbe(actual: Tensor, probe: Probe, relative = 1e-4, label = "tensor"): void {
  expect([...actual.shape], `${label} shape`).toEqual(probe.shape);
  const scale = probe.sumAbs / actual.size;
  let sum = 0;
  let sumAbs = 0;
  for (const v of actual.data) {
    sum += v;
    sumAbs += Math.abs(v);
  }
  const tolerance = relative * scale;
  expect(Math.abs(sumAbs - probe.sumAbs), `${label} sum of |x|`).toBeLessThan(
    tolerance * actual.size,
  );
  expect(Math.abs(sum - probe.sum), `${label} sum`).toBeLessThan(tolerance * actual.size);
  probe.indices.forEach((index, k) => {
    expect(Math.abs(actual.data[index] - probe.values[k]), `${label}[${index}]`).toBeLessThan(
      10 * tolerance,
    );
  });
}

/** Copies a fixture folder to a fresh temporary folder, for tests that edit its files. */
export async function copyFixture(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `tweedie-${name}-`));
  await cp(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}
