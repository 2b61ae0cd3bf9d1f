import type { Tensor } from "../tensor.js";

/** State a guidance term sees at one step of a sampler loop. */
export interface GuidanceState {
  step: number;
  t: number;
  tNext: number;
  xt: Tensor;
  x0Hat: Tensor;
  epsHat: Tensor;
}

/**
 * A change to the denoised estimate or to the step built from it: data consistency,
 * classifier-free or proximal text guidance, source consistency. Returns the corrected
 * estimate; solvers compose a sampler loop with such terms.
 */
export interface Guidance {
  readonly name: string;
  apply(state: GuidanceState): Promise<Tensor>;
}
