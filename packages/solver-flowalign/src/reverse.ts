import {
  clamp,
  type EditingProblem,
  type Rng,
  type SolveOptions,
  type SolveResult,
  type Solver,
  type Tensor,
  TweedieError,
} from "@tweedie/core";

/**
 * PSNR in dB between two images on [-1, 1], measured on [0, 1] after clipping both to
 * [-1, 1]: 10 log10(1 / MSE) with MSE over every value of (a - b) / 2. Identical images
 * give Infinity.
 */
export function psnrUnit(a: Tensor, b: Tensor): number {
  if (a.size !== b.size) {
    throw new TweedieError("PSNR needs two images of the same size", {
      code: "shape_mismatch",
      path: ["b"],
      expected: [...a.shape],
      received: [...b.shape],
    });
  }
  let sum = 0;
  for (let i = 0; i < a.size; i++) {
    const u = Math.min(1, Math.max(-1, a.data[i]));
    const v = Math.min(1, Math.max(-1, b.data[i]));
    const d = (u - v) / 2;
    sum += d * d;
  }
  return 10 * Math.log10(a.size / sum);
}

export interface ReverseEditResult {
  /** The edit source -> target, as `solver.solve(problem, rng)` returns it. */
  forward: SolveResult;
  /** The edit of the clipped first forward sample back from target to source. */
  reverse: SolveResult;
  /** PSNR (dB, on [0, 1]) of the forward edit to the source: how much of it was kept. */
  forwardPsnr: number;
  /** PSNR (dB, on [0, 1]) of the reverse edit to the source: how well the edit undoes. */
  reversePsnr: number;
}

/**
 * Reverse editing: edit source -> target, clip the result to [-1, 1] as a saved image would
 * be, edit it back with the prompts swapped, and score both against the source. The
 * forward pass uses `rng` itself and the reverse pass rng.split("reverse"), so the forward
 * output equals a plain solve with the same seed.
 */
export async function reverseEdit(
  solver: Solver,
  problem: EditingProblem,
  rng: Rng,
  options: SolveOptions = {},
): Promise<ReverseEditResult> {
  const forward = await solver.solve(problem, rng, options);
  const edited = clamp(forward.x.item(0), -1, 1);
  const reverse = await solver.solve(
    {
      ...problem,
      source: edited,
      sourcePrompt: problem.targetPrompt,
      targetPrompt: problem.sourcePrompt,
    },
    rng.split("reverse"),
    options,
  );
  return {
    forward,
    reverse,
    forwardPsnr: psnrUnit(forward.x.item(0), problem.source),
    reversePsnr: psnrUnit(reverse.x.item(0), problem.source),
  };
}
