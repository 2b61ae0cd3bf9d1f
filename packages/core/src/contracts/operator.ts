import type { Shape, Tensor } from "../tensor.js";

/** A JSON spec that recreates an operator exactly, random kernels and masks included. */
export type OperatorSpec = { readonly kind: string } & Readonly<Record<string, unknown>>;

/**
 * A measurement operator y = A(x). Immutable once built: applying it never changes it,
 * and two calls on the same input give bit-identical output. Shapes are per image
 * ([C, H, W]); every method also accepts a batch [N, C, H, W] and maps over it.
 */
export interface Operator {
  readonly spec: OperatorSpec;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  readonly linear: boolean;
  forward(x: Tensor): Tensor;
  /** Exact adjoint A^T (linear operators). */
  adjoint?(y: Tensor): Tensor;
  /** Vector-Jacobian product (nonlinear operators): (dA/dx)^T g at x. */
  vjp?(x: Tensor, g: Tensor): Tensor;
  /** A^+ y: least-squares or regularised inverse, where one is defined. */
  pseudoInverse?(y: Tensor): Tensor;
}

/** VJP for any operator: the adjoint for linear ones, `vjp` for the rest. */
export function operatorVjp(op: Operator, x: Tensor, g: Tensor): Tensor {
  if (op.linear && op.adjoint) return op.adjoint(g);
  if (op.vjp) return op.vjp(x, g);
  throw new Error(`operator ${op.spec.kind} has neither an adjoint nor a vjp`);
}

/** Value range a noise level is stated in. Pixel models see [-1, 1]. */
export type ValueRange = "[-1,1]" | "[0,1]";

export type NoiseSpec =
  | { readonly kind: "none" }
  | { readonly kind: "gaussian"; readonly sigma: number; readonly range: ValueRange }
  | { readonly kind: "poisson"; readonly rate: number; readonly range: ValueRange };
