import { Denoiser, Tensor } from "@tweedie/core";
import { conformanceCases, isotropicGaussian, LabelGmmModel } from "@tweedie/core/testing";
import { describe, it } from "vitest";
import { dreamSamplerPlugin, REFERENCE_SCHEDULES } from "../src/index.js";

// Restoration: the suite's default d = 8 Gaussian-mixture problem with a linear operator,
// restored from the inverted A^T y. DreamSampler is not a sampler of the prior (its start
// is the inverted input), so the unguided case does not apply.
describe("DreamSampler plugin conformance, restoration", () => {
  const cases = conformanceCases(dreamSamplerPlugin, { fastParams: { steps: 20 } });
  for (const c of cases) it(c.name, c.run, c.timeout);
});

// Editing draws no random numbers (inversion and sampling are both deterministic).
describe("DreamSampler plugin conformance, editing", () => {
  const model = new LabelGmmModel({
    mixtures: [isotropicGaussian([0.5, -0.5, 0.2, 0], 0.1), isotropicGaussian([0, 0, 0, 0], 0.4)],
    prompts: { target: 0 },
    shape: [1, 2, 2],
    schedule: REFERENCE_SCHEDULES.sd15,
    parameterisation: "epsilon",
  });
  const problem = () => ({
    kind: "editing" as const,
    denoiser: new Denoiser(model),
    source: Tensor.from([0.3, 0.1, -0.2, 0.4], [1, 1, 2, 2]),
    sourcePrompt: "",
    targetPrompt: "target",
  });
  const cases = conformanceCases(dreamSamplerPlugin, {
    fastParams: { steps: 20, lambda: 0.5 },
    problem,
    stochastic: false,
  });
  for (const c of cases) it(c.name, c.run, c.timeout);
});
