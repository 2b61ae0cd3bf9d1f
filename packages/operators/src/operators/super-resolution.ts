import type { Shape } from "@tweedie/core";
import { bicubicDownscaleMatrix, blockMeanMatrix } from "../kernels/resize.js";
import { invertSpd, multiplyDense, symmetricEigen } from "../math/linalg.js";
import { SparseMatrix } from "../math/sparse.js";
import { checkDivisible } from "../scale.js";
import type { AvgPoolSpec, BicubicSpec } from "../spec.js";
import { SeparableOperator } from "./separable.js";

/**
 * Block-mean downscaling by r (FlowDPS sr_avgpool). A^T replicates each value over its
 * block divided by r^2; because A A^T = I / r^2, the pseudo-inverse r^2 A^T is plain
 * replication.
 */
export function buildAvgPool(spec: AvgPoolSpec, imageShape: Shape): SeparableOperator {
  const [, height, width] = imageShape;
  checkDivisible(height, width, spec.scale);
  const rows = blockMeanMatrix(height, spec.scale);
  const cols = blockMeanMatrix(width, spec.scale);
  return new SeparableOperator(spec, imageShape, { rows, cols }, () => ({
    rows: scaled(rows.transpose(), spec.scale),
    cols: scaled(cols.transpose(), spec.scale),
  }));
}

/**
 * MATLAB-style antialiased bicubic downscaling by r (DPS Resizer, FlowDPS sr_bicubic).
 * With `truncate` > 0 each 1-D factor A = U S V^T becomes U S~ V^T with singular values
 * below `truncate` set to 0, as FlowDPS does; forward, adjoint and pseudo-inverse all use
 * that factor. The pseudo-inverse is A_h^+ (x) A_w^+ with each 1-D A^+ computed once in
 * float64: A^T (A A^T)^-1, or V S~^+ U^T after truncation.
 */
export function buildBicubic(spec: BicubicSpec, imageShape: Shape): SeparableOperator {
  const [, height, width] = imageShape;
  checkDivisible(height, width, spec.scale);
  const rowsFactor = bicubicFactor(height, spec.scale, spec.truncate);
  const colsFactor =
    height === width ? rowsFactor : bicubicFactor(width, spec.scale, spec.truncate);
  return new SeparableOperator(
    spec,
    imageShape,
    { rows: rowsFactor.matrix, cols: colsFactor.matrix },
    () => ({ rows: rowsFactor.pseudoInverse(), cols: colsFactor.pseudoInverse() }),
  );
}

interface Factor {
  readonly matrix: SparseMatrix;
  pseudoInverse(): SparseMatrix;
}

function bicubicFactor(n: number, scale: number, truncate: number): Factor {
  const a = bicubicDownscaleMatrix(n, scale);
  const m = a.rows;
  const dense = a.toDense();
  const aT = a.transpose().toDense();
  const gram = multiplyDense(dense, aT, m, n, m);

  if (truncate <= 0) {
    let cached: SparseMatrix | undefined;
    return {
      matrix: a,
      pseudoInverse: () => {
        cached ??= SparseMatrix.fromDense(n, m, multiplyDense(aT, invertSpd(gram, m), n, m, m));
        return cached;
      },
    };
  }

  // A A^T = U diag(s^2) U^T. Keeping the columns K of U with s >= truncate gives
  // A~ = U_K U_K^T A and A~^+ = A^T U_K diag(1 / s^2) U_K^T.
  const { values, vectors } = symmetricEigen(gram, m);
  const keptComponents: number[] = [];
  for (let k = 0; k < m; k++) {
    if (Math.sqrt(Math.max(values[k], 0)) >= truncate) keptComponents.push(k);
  }
  const projector = new Float64Array(m * m);
  const inverseGram = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let p = 0;
      let g = 0;
      for (const k of keptComponents) {
        const product = vectors[i * m + k] * vectors[j * m + k];
        p += product;
        g += product / values[k];
      }
      projector[i * m + j] = p;
      inverseGram[i * m + j] = g;
    }
  }

  const matrix =
    keptComponents.length === m
      ? a
      : SparseMatrix.fromDense(m, n, multiplyDense(projector, dense, m, m, n));
  const pseudoInverse = SparseMatrix.fromDense(n, m, multiplyDense(aT, inverseGram, n, m, m));
  return { matrix, pseudoInverse: () => pseudoInverse };
}

function scaled(matrix: SparseMatrix, factor: number): SparseMatrix {
  return new SparseMatrix(
    matrix.rows,
    matrix.cols,
    matrix.rowStart,
    matrix.colIndex,
    matrix.values.map((value) => value * factor),
  );
}
