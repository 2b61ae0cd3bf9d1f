import {
  createRng,
  Denoiser,
  embeddedModelDir,
  loadModel,
  type Model,
  type Operator,
  type RestorationProblem,
} from "@tweedie/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dps } from "./helpers.js";

const SHAPE = [3, 16, 16] as const;

/** Keeps the pixels outside a centred 8x8 box (y keeps the image's shape). */
const boxMask: Operator = {
  spec: { kind: "test-box-mask" },
  inputShape: SHAPE,
  outputShape: SHAPE,
  linear: true,
  forward: (x) => x.map((value, i) => (inBox(i) ? 0 : value)),
  adjoint: (y) => y.map((value, i) => (inBox(i) ? 0 : value)),
};

function inBox(index: number): boolean {
  const row = Math.floor(index / 16) % 16;
  const column = index % 16;
  return row >= 4 && row < 12 && column >= 4 && column < 12;
}

describe.each(["patches", "patches-multiscale"])("DPS on the ONNX %s prior", (name) => {
  let model: Model;
  let problem: RestorationProblem;

  beforeAll(async () => {
    model = await loadModel(embeddedModelDir(name));
    const image = createRng(11)
      .normalTensor([1, ...SHAPE])
      .map((v) => 0.3 * v);
    problem = {
      kind: "restoration",
      denoiser: new Denoiser(model),
      operator: boxMask,
      y: boxMask.forward(image),
      sigmaY: 0.05,
      shape: [...SHAPE],
    };
  });

  afterAll(async () => {
    await model?.dispose();
  });

  it("gives sample k alone exactly as in a batch of 3", async () => {
    // Batched ONNX kernels round differently from single-item runs, and the sampler
    // amplifies that; the CPU provider therefore runs items one at a time.
    const params = { steps: 15, zeta: 1 };
    const batch = await dps({ ...params, samples: 3 }).solve(problem, createRng(4));
    for (const k of [0, 2]) {
      const alone = await dps({ ...params, samples: 1, sampleOffset: k }).solve(
        problem,
        createRng(4),
      );
      expect(Array.from(alone.x.data)).toEqual(Array.from(batch.x.item(k).data));
    }
  });
});
