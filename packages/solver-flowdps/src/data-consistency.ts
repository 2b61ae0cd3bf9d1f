import {
  add,
  axpby,
  conjugateGradient,
  createRng,
  dot,
  norm,
  type Operator,
  scale,
  sub,
  Tensor,
  TweedieError,
} from "@tweedie/core";

export type Projection = "pinv" | "tikhonov" | "adjoint" | "none";

/** Resolves the projection P used for `requested` on `op`; throws naming the operator if it cannot apply. */
export function resolveProjection(requested: "auto" | Projection, op: Operator): Projection {
  if (requested === "auto") {
    if (op.pseudoInverse) return "pinv";
    return op.linear && op.adjoint ? "adjoint" : "none";
  }
  if (requested === "tikhonov" && !(op.linear && op.adjoint)) {
    throw new TweedieError("projection tikhonov needs a linear operator", {
      code: "unsupported",
      path: ["params", "projection"],
      received: op.spec.kind,
    });
  }
  if (requested === "pinv" && !op.pseudoInverse) {
    throw new TweedieError("projection pinv needs an operator with a pseudo-inverse", {
      code: "unsupported",
      path: ["params", "projection"],
      received: op.spec.kind,
    });
  }
  if (requested === "adjoint" && !(op.linear && op.adjoint)) {
    throw new TweedieError("projection adjoint needs a linear operator", {
      code: "unsupported",
      path: ["params", "projection"],
      received: op.spec.kind,
    });
  }
  return requested;
}

/**
 * Gradient with respect to the clean image x of L(x) = ||P(y) - P(A(x))|| (plain norm,
 * one batch-1 item), and the residual norm. Zero residual gives a zero gradient.
 * - pinv: A^+ A is the orthogonal projector onto the row space of A and the residual
 *   r = A^+ y - A^+ A x already lies there, so the gradient is -r / ||r||.
 * - adjoint: r = A^T y - A^T A x, gradient -A^T A r / ||r||.
 * - none: r = y - A(x), gradient -(dA/dx)^T r / ||r|| (the VJP for nonlinear operators).
 */
export function dataGradient(
  op: Operator,
  projection: Projection,
  x: Tensor,
  y: Tensor,
  projectedY: Tensor = projectMeasurement(op, projection, y),
): { gradient: Tensor; residualNorm: number } {
  if (projection === "tikhonov") {
    throw new TweedieError("projection tikhonov applies to the preconditioned inner step only", {
      code: "unsupported",
      path: ["params", "projection"],
      expected: 'innerStep "preconditioned", or projection pinv, adjoint, none or auto',
      received: projection,
    });
  }
  let residual: Tensor;
  let gradient: Tensor;
  const ax = op.forward(x);
  if (projection === "pinv") {
    residual = sub(projectedY, op.pseudoInverse!(ax));
    gradient = residual;
  } else if (projection === "adjoint") {
    const adjoint = op.adjoint!.bind(op);
    residual = sub(projectedY, adjoint(ax));
    gradient = adjoint(op.forward(residual));
  } else {
    residual = sub(y, ax);
    gradient =
      op.linear && op.adjoint
        ? op.adjoint(residual)
        : op.vjp
          ? op.vjp(x, residual)
          : missingVjp(op);
  }
  const residualNorm = norm(residual);
  if (residualNorm === 0) return { gradient: Tensor.zeros(gradient.shape), residualNorm };
  return { gradient: scale(gradient, -1 / residualNorm), residualNorm };
}

/**
 * Returns P(y), the measurement as the data gradient compares it: A^+ y for pinv, A^T y
 * for adjoint, y itself otherwise. It depends only on y, so a solve computes it once
 * instead of in every inner step.
 */
export function projectMeasurement(op: Operator, projection: Projection, y: Tensor): Tensor {
  if (projection === "pinv") return op.pseudoInverse!(y);
  if (projection === "adjoint") return op.adjoint!(y);
  return y;
}

function missingVjp(op: Operator): never {
  throw new TweedieError("operator has neither an adjoint nor a VJP", {
    code: "unsupported",
    path: ["operator"],
    received: op.spec.kind,
  });
}

/** x + A^+(y - A x): the point of the measurement set nearest to x (exact A^+). */
export function projectOntoMeasurements(op: Operator, x: Tensor, y: Tensor): Tensor {
  if (!op.pseudoInverse) {
    throw new TweedieError("final projection needs an operator with a pseudo-inverse", {
      code: "unsupported",
      path: ["params", "finalProjection"],
      received: op.spec.kind,
    });
  }
  return add(x, op.pseudoInverse(sub(y, op.forward(x))));
}

/** Relative residual and iteration cap of the conjugate-gradient Tikhonov solve in each inner step. */
export const TIKHONOV_TOLERANCE = 1e-2;
export const TIKHONOV_MAX_ITERATIONS = 50;

/** Settings of the preconditioned inner step, fixed for one solve. */
export interface Preconditioner {
  projection: Exclude<Projection, "none">;
  /** lambda of the Tikhonov inverse (A^T A + lambda I)^-1 A^T. */
  lambda: number;
  /** ||A||^2, the largest eigenvalue of A^T A, which normalises the adjoint step. */
  operatorNormSquared: number;
}

/**
 * Direction d of the preconditioned step u + lr d on the squared loss (1/2) ||y - A u||^2,
 * with r = y - A u:
 * - pinv: d = A^+ r. With lr 1 and an exact A^+, u + d lies on the measurement set
 *   (A A^+ = I for a full-row-rank A), the point of it nearest to u.
 * - tikhonov: d = (A^T A + lambda I)^-1 A^T r, solved by conjugate gradient to a relative
 *   residual of TIKHONOV_TOLERANCE (at most TIKHONOV_MAX_ITERATIONS iterations).
 * - adjoint: d = A^T r / ||A||^2, the gradient step of size 1 / L for the loss's
 *   Lipschitz constant L = ||A||^2.
 */
export function preconditionedDirection(
  op: Operator,
  preconditioner: Preconditioner,
  u: Tensor,
  y: Tensor,
): Tensor {
  const residual = sub(y, op.forward(u));
  if (preconditioner.projection === "pinv") return op.pseudoInverse!(residual);
  const adjoint = op.adjoint!.bind(op);
  if (preconditioner.projection === "adjoint") {
    return scale(adjoint(residual), 1 / preconditioner.operatorNormSquared);
  }
  const lambda = preconditioner.lambda;
  const normal = (v: Tensor): Tensor => axpby(1, adjoint(op.forward(v)), lambda, v);
  const rhs = adjoint(residual);
  return conjugateGradient(normal, rhs, Tensor.zeros(rhs.shape), {
    maxIterations: TIKHONOV_MAX_ITERATIONS,
    tolerance: TIKHONOV_TOLERANCE,
  }).x;
}

/**
 * Relative residual and iteration cap of the conjugate-gradient solve in the proximal step.
 * NOTE: for ill-conditioned operators (blurs) the cap, not the tolerance, ends the early
 * steps where mu is near 0, and it regularises them. The exact solve amplifies the noise of y there.
 */
export const PROXIMAL_TOLERANCE = 1e-4;
export const PROXIMAL_MAX_ITERATIONS = 100;

/**
 * Proximal data step, a Tweedie variant of FlowDPS. It solves the data subproblem of
 * DiffPIR (Zhu et al., CVPR Workshops 2023, arXiv 2305.08995), whose prior term has weight
 * rho_t = lambda sigma_n^2 / sigma_t^2, here with lambda = 1 / weight. It returns the minimiser of (1 / (2 sigmaY^2)) ||y - A u||^2 + (1 / (2 weight r^2)) ||u - x0Hat||^2,
 * where r is the std of the clean image given x_t under a flat prior (sigma(t) / alpha(t)).
 * With mu = sigmaY^2 / (weight r^2) it solves (A^T A + mu I) d = A^T (y - A x0Hat) by
 * conjugate gradient and returns x0Hat + d. The data weight 1 / (1 + mu) per direction of
 * unit singular value stays near 1 while r exceeds sigmaY and fades only once the noise
 * of x_t falls below the measurement noise, unlike the official weighting t.
 * mu = 0 (sigmaY = 0 or alpha = 0) gives the nearest point of the measurement set.
 */
export function proximalDataStep(
  op: Operator,
  x0Hat: Tensor,
  y: Tensor,
  sigmaY: number,
  r: number,
  weight: number,
): Tensor {
  if (!(op.linear && op.adjoint)) {
    throw new TweedieError("the proximal inner step needs a linear operator with an adjoint", {
      code: "unsupported",
      path: ["params", "innerStep"],
      expected: "a linear operator, or innerStep norm",
      received: op.spec.kind,
    });
  }
  const mu = Number.isFinite(r) && r > 0 ? (sigmaY * sigmaY) / (weight * r * r) : 0;
  const residual = sub(y, op.forward(x0Hat));
  if (mu === 0 && op.pseudoInverse) return add(x0Hat, op.pseudoInverse(residual));
  const adjoint = op.adjoint.bind(op);
  const rhs = adjoint(residual);
  const normal = (v: Tensor): Tensor => axpby(1, adjoint(op.forward(v)), mu, v);
  const { x: d } = conjugateGradient(normal, rhs, Tensor.zeros(rhs.shape), {
    maxIterations: PROXIMAL_MAX_ITERATIONS,
    tolerance: PROXIMAL_TOLERANCE,
  });
  return add(x0Hat, d);
}

/**
 * ||A||^2 by power iteration on A^T A: the Rayleigh quotient after `iterations` steps from
 * a fixed pseudo-random start (its own stream, so the sampler's draws do not change). The
 * quotient approaches the largest eigenvalue from below.
 */
export function operatorNormSquared(op: Operator, iterations = 50): number {
  if (!(op.linear && op.adjoint)) {
    throw new TweedieError("the operator norm needs a linear operator with an adjoint", {
      code: "unsupported",
      path: ["operator"],
      received: op.spec.kind,
    });
  }
  let v = createRng("flowdps-operator-norm").normalTensor([1, ...op.inputShape]);
  v = scale(v, 1 / norm(v));
  let quotient = 0;
  for (let i = 0; i < iterations; i++) {
    const w = op.adjoint(op.forward(v));
    quotient = dot(v, w);
    const length = norm(w);
    if (length === 0) break;
    v = scale(w, 1 / length);
  }
  if (!(quotient > 0)) {
    throw new TweedieError("the operator maps every tested direction to zero", {
      code: "invalid_value",
      path: ["operator"],
      expected: "an operator with ||A|| > 0",
      received: quotient,
    });
  }
  return quotient;
}
