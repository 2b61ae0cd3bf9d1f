import { readFileSync } from "node:fs";
import {
  classProbabilities,
  createRng,
  Denoiser,
  eigenMixture,
  embeddedModelDir,
  loadDigitsPrior,
  loadModelPackage,
  type OnnxModel,
  Tensor,
  TweedieError,
} from "@tweedie/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DreamSamplerSolver, dreamSamplerParamsSchema, dreamSamplerPresets } from "../src/index.js";
import { MaskOperator } from "./helpers/mask-operator.js";

/*
 * Checks on the embedded digits prior, over every second source of the digits editing
 * benchmark that @tweedie/solver-flowalign ships (40 held-out digits and their targets).
 */
interface Entry {
  source: Tensor;
  sourceLabel: number;
  targetLabel: number;
}

const MAPPING = new URL(
  "../../solver-flowalign/bench/digits-pie/mapping_file.json",
  import.meta.url,
);
const entries: Entry[] = Object.values(
  JSON.parse(readFileSync(MAPPING, "utf8")) as Record<
    string,
    { digits_pixels: number[]; source_label: number; target_label: number }
  >,
)
  .filter((_, i) => i % 2 === 0)
  .map((e) => ({
    source: Tensor.from(
      e.digits_pixels.map((v) => (2 * v) / 16 - 1),
      [1, 1, 8, 8],
    ),
    sourceLabel: e.source_label,
    targetLabel: e.target_label,
  }));

let model: OnnxModel;
let denoiser: Denoiser;
let classify: (x: Tensor) => Float64Array;

beforeAll(async () => {
  model = await loadModelPackage(embeddedModelDir("digits"), { intraOpThreads: 1 });
  denoiser = new Denoiser(model);
  const { prior } = await loadDigitsPrior();
  const classes = prior.classes.map(eigenMixture);
  classify = (x) =>
    classProbabilities(
      classes,
      prior.classWeights,
      Float64Array.from(x.data, (v) => Math.min(1, Math.max(-1, v))),
    );
});

afterAll(async () => {
  await model?.dispose();
});

/** PSNR in dB on [0, 1] after clipping both images to [-1, 1]. */
function psnr(a: Tensor, b: Tensor): number {
  let sum = 0;
  for (let i = 0; i < a.size; i++) {
    const d = (Math.min(1, Math.max(-1, a.data[i])) - Math.min(1, Math.max(-1, b.data[i]))) / 2;
    sum += d * d;
  }
  return 10 * Math.log10(a.size / sum);
}

const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;

async function editAll(lambda: number): Promise<{ success: number; psnr: number }> {
  const params = dreamSamplerParamsSchema.parse(dreamSamplerPresets["dreamsampler-digits"].params);
  // Bypasses the schema on purpose when a test plants a negative weight.
  const solver = new DreamSamplerSolver({ ...params, lambda });
  const success: number[] = [];
  const psnrs: number[] = [];
  for (const entry of entries) {
    const problem = {
      kind: "editing" as const,
      denoiser,
      source: entry.source,
      sourcePrompt: `a handwritten digit ${entry.sourceLabel}`,
      targetPrompt: `a handwritten digit ${entry.targetLabel}`,
    };
    try {
      const { x } = await solver.solve(problem, createRng(0));
      success.push(classify(x)[entry.targetLabel]);
      psnrs.push(psnr(x, entry.source));
    } catch (error) {
      if (!(error instanceof TweedieError && error.code === "diverged")) throw error;
      success.push(0);
    }
  }
  return { success: mean(success), psnr: mean(psnrs) };
}

describe("DreamSampler on the digits prior", { timeout: 60_000 }, () => {
  it("inverts and regenerates the sources", async () => {
    const { psnr: roundTrip } = await editAll(0);
    expect(roundTrip).toBeGreaterThanOrEqual(22);
    // An independent numpy implementation of the official VP formulas on this prior gives
    // 35.62 dB here. The round trip beats a 3-component-per-class prior's (about 28 dB)
    // because the packaged prior, with one component per class, is smoother.
    expect(roundTrip).toBeCloseTo(35.62, 1);
  });

  it("edits to the target class at the digits preset", async () => {
    const { success, psnr: forward } = await editAll(0.2);
    expect(success).toBeGreaterThanOrEqual(0.9);
    // The same numpy reference: 12.35 dB to the source.
    expect(forward).toBeCloseTo(12.35, 1);
  });

  it("collapses with the guidance sign flipped", async () => {
    const { success } = await editAll(-0.2);
    expect(success).toBeLessThan(0.2);
  });

  it("rejects an unknown target prompt with the accepted ones", async () => {
    const solver = new DreamSamplerSolver(dreamSamplerParamsSchema.parse({ steps: 5 }));
    const problem = {
      kind: "editing" as const,
      denoiser,
      source: entries[0].source,
      sourcePrompt: "",
      targetPrompt: "a handwritten digit [8]",
    };
    const error = await solver.solve(problem, createRng(0)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TweedieError);
    expect((error as TweedieError).received).toBe("a handwritten digit [8]");
    expect(String((error as TweedieError).expected)).toContain('"a handwritten digit 8"');
  });

  it("inpaints the lower half guided by the prompt", async () => {
    const mask = Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? 1 : 0));
    const operator = new MaskOperator([1, 8, 8], mask);
    const solver = new DreamSamplerSolver(
      dreamSamplerParamsSchema.parse(dreamSamplerPresets["dreamsampler-digits"].params),
    );
    const results = {
      prompted: [] as number[],
      plain: [] as number[],
      fill: [] as number[],
      pTrue: [] as number[],
      pPlain: [] as number[],
    };
    for (const [k, entry] of entries.filter((_, i) => i % 2 === 0).entries()) {
      const noise = createRng("y").split(k).normalTensor([1, 1, 8, 8]);
      const y = operator.forward(entry.source.map((v, i) => v + 0.01 * noise.data[i]));
      const problem = {
        kind: "restoration" as const,
        denoiser,
        operator,
        y,
        sigmaY: 0.01,
        shape: [1, 8, 8],
      };
      const prompted = await solver.solve(
        { ...problem, prompt: `a handwritten digit ${entry.sourceLabel}` },
        createRng(k),
      );
      const plain = await solver.solve(problem, createRng(k));
      results.prompted.push(psnr(prompted.x, entry.source));
      results.plain.push(psnr(plain.x, entry.source));
      results.fill.push(
        psnr(
          y.map((v, i) => (mask[i] ? v : -1)),
          entry.source,
        ),
      );
      results.pTrue.push(classify(prompted.x)[entry.sourceLabel]);
      results.pPlain.push(classify(plain.x)[entry.sourceLabel]);
      expect(prompted.diagnostics.vjpMode).toBe("vjp");
    }
    // Filling the hole with background scores about 10 dB; the prompt fixes the class.
    expect(mean(results.prompted)).toBeGreaterThan(mean(results.fill) + 5);
    expect(mean(results.pTrue)).toBeGreaterThanOrEqual(0.9);
    expect(mean(results.pTrue)).toBeGreaterThan(mean(results.pPlain));
    expect(mean(results.prompted)).toBeGreaterThan(mean(results.plain));
  });
});
