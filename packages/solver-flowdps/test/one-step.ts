import { createRng, Denoiser, Tensor } from "@tweedie/core";
import { createGmmProblem, GmmModel, MatrixOperator, matrix } from "@tweedie/core/testing";
import { FlowDpsSolver, flowDpsParamsSchema } from "../src/index.js";

/**
 * Builds a one-step FlowDPS problem whose result is known in closed form. Rectified flow with one step runs the
 * grid tau = 1 then 0, so the output is the data-consistent clean estimate itself and
 * innerSteps 0 returns x0Hat. A picks coordinates 0 and 1 of an 8-dimensional mixture
 * with gains 2 and 1: A^T A = diag(4, 1, 0, ...), ||A||^2 = 4, and y = (0.5, -1).
 */
export function oneStepProblem() {
  const mixture = createGmmProblem({ dim: 8, dy: 1, sigmaY: 0.1, seed: 0 }).mixture;
  const model = new GmmModel(mixture, {
    parameterisation: "velocity",
    schedule: { kind: "rectified-flow", shift: 1 },
  });
  const data = new Array(16).fill(0);
  data[0] = 2;
  data[9] = 1;
  const operator = new MatrixOperator(matrix(2, 8, data));
  const problem = {
    kind: "restoration" as const,
    denoiser: new Denoiser(model),
    operator,
    y: Tensor.from([0.5, -1], [1, 2, 1, 1]),
    sigmaY: 0.1,
    shape: operator.inputShape,
  };

  /** Runs one FlowDPS step with seed 7; the same seed gives the same draws in every run. */
  async function solveOnce(overrides: Record<string, unknown>): Promise<Float32Array> {
    const params = flowDpsParamsSchema.parse({ steps: 1, shift: 1, baseShift: 1, ...overrides });
    const result = await new FlowDpsSolver(params).solve(problem, createRng(7));
    return result.x.data;
  }

  return { operator, problem, solveOnce };
}
