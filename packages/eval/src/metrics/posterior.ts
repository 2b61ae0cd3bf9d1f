import { TweedieError } from "@tweedie/core";
import {
  randomUnitDirections,
  type SampleSet,
  type SlicedWassersteinOptions,
  slicedWasserstein,
} from "./sliced-wasserstein.js";

/** A solver's sliced Wasserstein distance to exact posterior samples, relative to the noise floor. */
export interface PosteriorRatio {
  /** SW1(solver samples, exact samples). */
  readonly distance: number;
  /** SW1(independent exact samples, exact samples): the distance sampling noise alone gives. */
  readonly floor: number;
  /** distance / floor: about 1 for a sampler of the exact posterior, larger when it is off. */
  readonly ratio: number;
  readonly directions: number;
  readonly dim: number;
  /** Seed of the random directions; null when the caller passed the directions. */
  readonly seed: number | null;
  readonly counts: {
    readonly solver: number;
    readonly exact: number;
    readonly independent: number;
  };
}

/**
 * Compares solver samples with exact posterior samples of an embedded prior (a Gaussian
 * mixture, whose posterior is known in closed form). The distance SW1(solver, exact) is
 * divided by the noise floor SW1(independent, exact) between two independent exact sets,
 * both over the same directions. The floor depends on the sample count, so the solver set
 * and the independent exact set must be of equal size.
 */
export function posteriorSlicedWassersteinRatio(
  solver: SampleSet,
  exact: SampleSet,
  independent: SampleSet,
  options: SlicedWassersteinOptions,
): PosteriorRatio {
  if (solver.count !== independent.count) {
    throw new TweedieError("solver and independent exact sample sets differ in size", {
      code: "shape_mismatch",
      path: ["independent", "count"],
      expected: solver.count,
      received: independent.count,
      hint: "draw as many independent exact samples as the solver returned, so the noise floor matches",
    });
  }
  const seed = typeof options.directions === "number" ? (options.seed ?? 0) : null;
  const directions =
    typeof options.directions === "number"
      ? randomUnitDirections(options.directions, exact.dim, seed ?? 0)
      : options.directions;
  const distance = slicedWasserstein(solver, exact, { directions });
  const floor = slicedWasserstein(independent, exact, { directions });
  if (floor.value === 0) {
    throw new TweedieError("noise floor is 0: the two exact sample sets project identically", {
      code: "invalid_value",
      path: ["independent"],
      expected: "an exact sample set drawn independently of `exact`",
      received: 0,
    });
  }
  return {
    distance: distance.value,
    floor: floor.value,
    ratio: distance.value / floor.value,
    directions: distance.directions,
    dim: distance.dim,
    seed,
    counts: { solver: solver.count, exact: exact.count, independent: independent.count },
  };
}
