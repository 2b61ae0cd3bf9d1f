/**
 * A real matrix in compressed sparse row form with float64 values. The 1-D factors of the
 * separable operators (block mean, bicubic resize, reflect-padded correlation) are sparse
 * banded matrices of this kind; their transposes give exact adjoints.
 */
export class SparseMatrix {
  constructor(
    readonly rows: number,
    readonly cols: number,
    /** Entries of row i are at positions rowStart[i] .. rowStart[i + 1] - 1. */
    readonly rowStart: Int32Array,
    readonly colIndex: Int32Array,
    readonly values: Float64Array,
  ) {}

  /**
   * Builds a matrix from per-row lists of (column, value). Repeated columns in one row
   * are summed, which is how reflected border taps fold back onto the image.
   */
  static fromRows(
    cols: number,
    rowEntries: readonly (readonly (readonly [number, number])[])[],
  ): SparseMatrix {
    const rowStart = new Int32Array(rowEntries.length + 1);
    const colIndex: number[] = [];
    const values: number[] = [];
    rowEntries.forEach((entries, row) => {
      const merged = new Map<number, number>();
      for (const [col, value] of entries) merged.set(col, (merged.get(col) ?? 0) + value);
      const sorted = [...merged.entries()].sort((a, b) => a[0] - b[0]);
      for (const [col, value] of sorted) {
        colIndex.push(col);
        values.push(value);
      }
      rowStart[row + 1] = colIndex.length;
    });
    return new SparseMatrix(
      rowEntries.length,
      cols,
      rowStart,
      Int32Array.from(colIndex),
      Float64Array.from(values),
    );
  }

  /** Builds a matrix that stores every entry of a dense row-major `rows` x `cols` array. */
  static fromDense(rows: number, cols: number, data: Float64Array): SparseMatrix {
    const rowStart = new Int32Array(rows + 1);
    const colIndex = new Int32Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      rowStart[i + 1] = (i + 1) * cols;
      for (let j = 0; j < cols; j++) colIndex[i * cols + j] = j;
    }
    return new SparseMatrix(rows, cols, rowStart, colIndex, data.slice());
  }

  transpose(): SparseMatrix {
    const counts = new Int32Array(this.cols + 1);
    for (let k = 0; k < this.colIndex.length; k++) counts[this.colIndex[k] + 1]++;
    for (let j = 0; j < this.cols; j++) counts[j + 1] += counts[j];
    const rowStart = counts.slice();
    const next = counts.slice(0, this.cols);
    const colIndex = new Int32Array(this.colIndex.length);
    const values = new Float64Array(this.values.length);
    for (let i = 0; i < this.rows; i++) {
      for (let k = this.rowStart[i]; k < this.rowStart[i + 1]; k++) {
        const j = this.colIndex[k];
        const slot = next[j]++;
        colIndex[slot] = i;
        values[slot] = this.values[k];
      }
    }
    return new SparseMatrix(this.cols, this.rows, rowStart, colIndex, values);
  }

  /** Returns the matrix as a dense row-major float64 array. */
  toDense(): Float64Array {
    const out = new Float64Array(this.rows * this.cols);
    for (let i = 0; i < this.rows; i++) {
      for (let k = this.rowStart[i]; k < this.rowStart[i + 1]; k++) {
        out[i * this.cols + this.colIndex[k]] += this.values[k];
      }
    }
    return out;
  }
}

/**
 * Computes dst = A_h * src * A_w^T for one plane: `src` is A_h.cols x A_w.cols row-major,
 * `dst` is A_h.rows x A_w.rows. The horizontal pass runs first, along contiguous rows.
 * The vertical pass forms each output row as a weighted sum of whole intermediate rows,
 * so both passes read memory in order. Sums are accumulated in float64.
 */
export function applySeparable(
  rowsMatrix: SparseMatrix,
  colsMatrix: SparseMatrix,
  src: Float32Array | Float64Array,
  dst: Float32Array | Float64Array,
): void {
  const inHeight = rowsMatrix.cols;
  const inWidth = colsMatrix.cols;
  const outWidth = colsMatrix.rows;
  const tmp = new Float64Array(inHeight * outWidth);
  const { rowStart: wStart, colIndex: wCol, values: wVal } = colsMatrix;
  for (let y = 0; y < inHeight; y++) {
    const srcRow = y * inWidth;
    const tmpRow = y * outWidth;
    for (let j = 0; j < outWidth; j++) {
      let sum = 0;
      for (let k = wStart[j]; k < wStart[j + 1]; k++) sum += wVal[k] * src[srcRow + wCol[k]];
      tmp[tmpRow + j] = sum;
    }
  }
  const { rowStart: hStart, colIndex: hCol, values: hVal } = rowsMatrix;
  const acc = new Float64Array(outWidth);
  for (let i = 0; i < rowsMatrix.rows; i++) {
    acc.fill(0);
    for (let k = hStart[i]; k < hStart[i + 1]; k++) {
      const weight = hVal[k];
      const tmpRow = hCol[k] * outWidth;
      for (let j = 0; j < outWidth; j++) acc[j] += weight * tmp[tmpRow + j];
    }
    dst.set(acc, i * outWidth);
  }
}
