import { add, norm, type Operator, scale, sub, Tensor, TweedieError } from "@tweedie/core";

export type Projection = "pinv" | "adjoint" | "none";

/** Resolves the projection P used for `requested` on `op`; throws naming the operator if it cannot apply. */
export function resolveProjection(requested: "auto" | Projection, op: Operator): Projection {
  if (requested === "auto") {
    if (op.pseudoInverse) return "pinv";
    return op.linear && op.adjoint ? "adjoint" : "none";
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
): { gradient: Tensor; residualNorm: number } {
  let residual: Tensor;
  let gradient: Tensor;
  const ax = op.forward(x);
  if (projection === "pinv") {
    const pinv = op.pseudoInverse!.bind(op);
    residual = sub(pinv(y), pinv(ax));
    gradient = residual;
  } else if (projection === "adjoint") {
    const adjoint = op.adjoint!.bind(op);
    residual = sub(adjoint(y), adjoint(ax));
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
