import {
  createRng,
  Denoiser,
  digitsMixture,
  type EditingProblem,
  embeddedModelDir,
  loadDigitsPrior,
  loadModelPackage,
  type OnnxModel,
  sampleMixture,
  Tensor,
} from "@tweedie/core";
import { conformanceCases } from "@tweedie/core/testing";
import { afterAll, beforeAll, describe, it } from "vitest";
import { flowAlignPlugin, flowEditPlugin, sdEditPlugin } from "../src/index.js";

/*
 * The shared solver conformance suite on one digits edit (a 3 from the held-out rows, to
 * an 8). SDEdit from t0 = 1 without guidance samples the target class's prior, which the
 * unguided case compares with exact draws from that class's Gaussian mixture.
 */
let model: OnnxModel;
let problem: EditingProblem;
let classEight: Parameters<typeof sampleMixture>[0];

beforeAll(async () => {
  model = await loadModelPackage(embeddedModelDir("digits"), { intraOpThreads: 1 });
  const { prior } = await loadDigitsPrior();
  classEight = digitsMixture(prior, 8);
  const source = sampleMixture(digitsMixture(prior, 3), 1, createRng("conformance-source"));
  problem = {
    kind: "editing",
    denoiser: new Denoiser(model),
    source: new Tensor(Float32Array.from(source.samples), [1, 1, 8, 8]),
    sourcePrompt: "a handwritten digit 3",
    targetPrompt: "a handwritten digit 8",
  };
});

afterAll(async () => {
  await model?.dispose();
});

let priorDraws = 0;
/** Fresh exact class-8 draws on every call, so the suite's noise floor compares two sets. */
function classEightSamples(count: number): Float64Array {
  priorDraws++;
  return sampleMixture(classEight, count, createRng("conformance-prior").split(priorDraws)).samples;
}

const suites = [
  [flowEditPlugin, { fastParams: { steps: 12, nMax: 8, sourceCfg: 1, targetCfg: 3 } }],
  [flowAlignPlugin, { fastParams: { steps: 10, shift: 2, gamma: 0.03, cfgScale: 1.5 } }],
  [
    sdEditPlugin,
    {
      fastParams: { steps: 10 },
      unguidedParams: { t0: 1, steps: 25, cfgScale: 1 },
      priorSamples: classEightSamples,
      unguidedSamples: 400,
    },
  ],
] as const;

for (const [plugin, options] of suites) {
  describe(`${plugin.name} plugin conformance`, () => {
    const cases = conformanceCases(plugin, { ...options, problem: () => problem });
    for (const c of cases) it(c.name, c.run, c.timeout);
  });
}
