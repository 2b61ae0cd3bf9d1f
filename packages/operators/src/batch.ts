import { type Shape, sameShape, Tensor, TweedieError } from "@tweedie/core";

/**
 * Checks that `x` is one image of `shape` ([C, H, W]) or a batch [N, C, H, W] of them and
 * returns the number of images.
 */
export function imageCount(x: Tensor, shape: Shape, name: string): number {
  if (x.shape.length === shape.length && sameShape(x.shape, shape)) return 1;
  if (x.shape.length === shape.length + 1 && sameShape(x.shape.slice(1), shape)) {
    return x.shape[0];
  }
  throw new TweedieError(`${name} has the wrong shape`, {
    code: "shape_mismatch",
    path: [name],
    expected: `[${shape.join(", ")}] or [N, ${shape.join(", ")}]`,
    received: [...x.shape],
  });
}

/**
 * Applies `fn` to every image of `x` and stacks the results. `fn` reads one image of
 * `inShape` from `src` and writes one image of `outShape` into `dst` (zero-filled). An
 * unbatched input gives an unbatched output.
 */
export function mapImages(
  x: Tensor,
  inShape: Shape,
  outShape: Shape,
  name: string,
  fn: (src: Float32Array, dst: Float32Array, index: number) => void,
): Tensor {
  const count = imageCount(x, inShape, name);
  const inSize = shapeProduct(inShape);
  const outSize = shapeProduct(outShape);
  const out = new Float32Array(count * outSize);
  for (let n = 0; n < count; n++) {
    fn(
      x.data.subarray(n * inSize, (n + 1) * inSize),
      out.subarray(n * outSize, (n + 1) * outSize),
      n,
    );
  }
  const batched = x.shape.length === inShape.length + 1;
  return new Tensor(out, batched ? [count, ...outShape] : outShape);
}

/**
 * Like `mapImages` for a function of two aligned tensors (a point `x` and a cotangent
 * `g`): both must hold the same number of images.
 */
export function mapImagePairs(
  x: Tensor,
  xShape: Shape,
  g: Tensor,
  gShape: Shape,
  outShape: Shape,
  fn: (x: Float32Array, g: Float32Array, dst: Float32Array) => void,
): Tensor {
  const count = imageCount(x, xShape, "x");
  const gCount = imageCount(g, gShape, "g");
  if (gCount !== count || x.shape.length - xShape.length !== g.shape.length - gShape.length) {
    throw new TweedieError("x and g hold different numbers of images", {
      code: "shape_mismatch",
      path: ["g"],
      expected: [...x.shape.slice(0, x.shape.length - xShape.length), ...gShape],
      received: [...g.shape],
    });
  }
  const xSize = shapeProduct(xShape);
  const gSize = shapeProduct(gShape);
  const outSize = shapeProduct(outShape);
  const out = new Float32Array(count * outSize);
  for (let n = 0; n < count; n++) {
    fn(
      x.data.subarray(n * xSize, (n + 1) * xSize),
      g.data.subarray(n * gSize, (n + 1) * gSize),
      out.subarray(n * outSize, (n + 1) * outSize),
    );
  }
  const batched = x.shape.length === xShape.length + 1;
  return new Tensor(out, batched ? [count, ...outShape] : outShape);
}

export function shapeProduct(shape: Shape): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

/** Checks that an image shape is [C, H, W] with positive integer sides. */
export function checkImageShape(shape: Shape, name = "imageShape"): [number, number, number] {
  const valid = shape.length === 3 && shape.every((dim) => Number.isInteger(dim) && dim > 0);
  if (!valid) {
    throw new TweedieError("image shape must be [C, H, W] with positive integer sides", {
      code: "invalid_value",
      path: [name],
      expected: "[C, H, W]",
      received: [...shape],
    });
  }
  return [shape[0], shape[1], shape[2]];
}
