import { beta, createRng, type Rng, type RngSeed, TweedieError, triangular } from "@tweedie/core";

/**
 * Random-trajectory motion-blur kernels after LeviBorodenko/motionblur (motionblur.py,
 * class Kernel), which DPS and FlowDPS use with size 61 and intensity 0.5. This port
 * follows the same steps and distributions and renders the path exactly as PIL does, but
 * draws its random numbers from Tweedie's seeded Philox streams instead of numpy's, so it
 * matches the original in distribution, not bit for bit:
 *  1. a canvas of twice the kernel size, diagonal D = sqrt(2) * 2 * size;
 *  2. path length L = 0.75 D (U(0, 1) + U(0, I^2)); step lengths Beta(1, 30) (1 - I + 0.1) D,
 *     a step of length >= L discarded, drawn until their sum reaches L;
 *  3. maximum angle A ~ U(0, I pi), jitter p ~ Beta(2, 20), first angle U(-A, A), each next
 *     |angle| ~ Triangular(0, I A, A + 0.1) with the sign of the previous angle flipped
 *     with probability p;
 *  4. the cumulative sum of the steps as complex numbers, centred on its mean, rotated by
 *     U(0, pi) and moved to the canvas centre;
 *  5. the polyline drawn 1 px wide at value 255, blurred by PIL's Gaussian approximation
 *     with radius int(0.01 D) = 1, Lanczos-3 downscaled by 2 (8-bit rounding after each
 *     stage, as PIL's 8-bit images), then normalised to sum 1.
 * Returns the size x size kernel row-major, rounded to float32.
 */
export function motionBlurKernel(size: number, intensity: number, seed: RngSeed): Float32Array {
  const rng = createRng(seed).split("motion-blur-kernel");
  const canvas = 2 * size;
  const diagonal = Math.SQRT2 * canvas;
  const image = renderTrajectory(trajectory(rng, intensity, diagonal, canvas), size);
  let total = 0;
  for (const value of image) total += value;
  if (!(total > 0)) {
    throw new TweedieError("motion-blur trajectory left the kernel canvas", {
      code: "invalid_value",
      path: ["seed"],
      expected: "a seed whose trajectory lies on the canvas",
      received: String(seed),
    });
  }
  return Float32Array.from(image, (value) => value / total);
}

/**
 * Step 5 without the normalisation: draws trajectory points given in pixels of the
 * 2 size x 2 size canvas and returns the 8-bit size x size kernel image. On the same
 * points it reproduces PIL 9.4's output value for value.
 */
export function renderTrajectory(
  points: readonly (readonly [number, number])[],
  size: number,
): Float64Array {
  const canvas = 2 * size;
  const diagonal = Math.SQRT2 * canvas;
  const drawn = rasterise(points, canvas);
  const blurred = boxGaussianBlur(drawn, canvas, Math.max(1, Math.trunc(0.01 * diagonal)));
  return lanczosHalve(blurred, canvas);
}

/** Steps 2-4: the trajectory's points in canvas pixel coordinates (x right, y down). */
function trajectory(rng: Rng, intensity: number, diagonal: number, canvas: number) {
  const [u1, u2] = rng.split("length").uniform64(2);
  const maxLength = 0.75 * diagonal * (u1 + u2 * intensity * intensity);
  const steps = stepLengths(rng.split("steps"), intensity, diagonal, maxLength);

  const [angleDraw, firstDraw] = rng.split("angles").uniform64(2);
  const maxAngle = angleDraw * intensity * Math.PI;
  const jitter = beta(rng.split("jitter"), 2, 20, 1)[0];
  const turns = triangular(
    rng.split("turns"),
    0,
    intensity * maxAngle,
    maxAngle + 0.1,
    steps.length,
  );
  const flips = rng.split("flips").uniform64(steps.length);
  const angles = [-maxAngle + 2 * maxAngle * firstDraw];
  for (let i = 1; i < steps.length; i++) {
    const previousSign = Math.sign(angles[i - 1]);
    angles.push(turns[i] * (flips[i] < jitter ? -previousSign : previousSign));
  }

  const xs: number[] = [];
  const ys: number[] = [];
  let x = 0;
  let y = 0;
  for (let i = 0; i < steps.length; i++) {
    x += steps[i] * Math.cos(angles[i]);
    y += steps[i] * Math.sin(angles[i]);
    xs.push(x);
    ys.push(y);
  }
  const meanX = xs.reduce((s, v) => s + v, 0) / xs.length;
  const meanY = ys.reduce((s, v) => s + v, 0) / ys.length;
  const rotation = rng.split("rotation").uniform64(1)[0] * Math.PI;
  const cos = Math.cos(rotation);
  const sin = Math.sin(rotation);
  return xs.map((px, i) => {
    const dx = px - meanX;
    const dy = ys[i] - meanY;
    return [canvas / 2 + dx * cos - dy * sin, canvas / 2 + dx * sin + dy * cos] as const;
  });
}

function stepLengths(rng: Rng, intensity: number, diagonal: number, maxLength: number): number[] {
  const scale = (1 - intensity + 0.1) * diagonal;
  const steps: number[] = [];
  let total = 0;
  let drawn = 0;
  // Beta draws of a longer call start with those of a shorter one, so the candidate list
  // can grow without changing the candidates already used.
  for (let batch = 256; total < maxLength; batch *= 2) {
    const candidates = beta(rng, 1, 30, batch);
    for (; drawn < batch && total < maxLength; drawn++) {
      const step = candidates[drawn] * scale;
      if (step < maxLength) {
        steps.push(step);
        total += step;
      }
    }
  }
  return steps;
}

/**
 * Step 5a: a 1 px polyline at value 255. Each segment runs between its end points
 * truncated to integers, drawn by Bresenham's algorithm, as PIL draws width-1 lines.
 */
function rasterise(points: readonly (readonly [number, number])[], canvas: number): Float64Array {
  const image = new Float64Array(canvas * canvas);
  const plot = (col: number, row: number) => {
    if (row >= 0 && row < canvas && col >= 0 && col < canvas) image[row * canvas + col] = 255;
  };
  const ends = points.map(([x, y]) => [Math.trunc(x), Math.trunc(y)] as const);
  if (ends.length === 1) plot(ends[0][0], ends[0][1]);
  for (let i = 1; i < ends.length; i++) {
    let [x, y] = ends[i - 1];
    const [x1, y1] = ends[i];
    const dx = Math.abs(x1 - x);
    const dy = -Math.abs(y1 - y);
    const sx = x < x1 ? 1 : -1;
    const sy = y < y1 ? 1 : -1;
    let error = dx + dy;
    for (;;) {
      plot(x, y);
      if (x === x1 && y === y1) break;
      const twice = 2 * error;
      if (twice >= dy) {
        error += dy;
        x += sx;
      }
      if (twice <= dx) {
        error += dx;
        y += sy;
      }
    }
  }
  return image;
}

/**
 * Step 5b: PIL's GaussianBlur, an extended box blur (Gwosdek et al., 2011) of three
 * passes per axis that approximates a Gaussian of standard deviation `sigma`. Each pass
 * sums 2l + 1 pixels plus a fractional weight on the next pixel each side and extends the
 * edge pixels past the border. It rounds to 8 bits with the 24-bit fixed-point weights of
 * Pillow 9.4. Rows go first, then columns.
 */
function boxGaussianBlur(image: Float64Array, n: number, sigma: number): Float64Array {
  const passes = 3;
  const variance = (sigma * sigma) / passes;
  const length = Math.sqrt(12 * variance + 1);
  const l = Math.floor((length - 1) / 2);
  const fraction =
    ((2 * l + 1) * (l * (l + 1) - 3 * variance)) / (6 * (variance - (l + 1) * (l + 1)));
  const radius = l + fraction;

  // Weights in 24-bit fixed point. PIL computes the inner weight in float32 before
  // truncating it to an integer.
  const fixedOne = 2 ** 24;
  const inner = Math.trunc(Math.fround(fixedOne / Math.fround(2 * radius + 1)));
  const edge = Math.floor((fixedOne - (2 * l + 1) * inner) / 2);

  const reach = l + 1;
  const padded = new Float64Array(n + 2 * reach);
  let current = image;
  for (const horizontal of [true, false]) {
    const step = horizontal ? 1 : n;
    for (let pass = 0; pass < passes; pass++) {
      const next = new Float64Array(n * n);
      for (let line = 0; line < n; line++) {
        const base = horizontal ? line * n : line;
        // The line with `reach` copies of its edge pixels on each side.
        for (let p = -reach; p < n + reach; p++) {
          padded[p + reach] = current[base + Math.min(n - 1, Math.max(0, p)) * step];
        }
        for (let p = 0; p < n; p++) {
          let bulk = 0;
          for (let t = p + 1; t <= p + 2 * l + 1; t++) bulk += padded[t];
          const sides = padded[p] + padded[p + 2 * reach];
          const sum = bulk * inner + sides * edge + fixedOne / 2;
          next[base + p * step] = Math.min(255, Math.floor(sum / fixedOne));
        }
      }
      current = next;
    }
  }
  return current;
}

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (Math.abs(x) >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

/**
 * Downscales an n x n 8-bit image by 2 with PIL's antialiased Lanczos-3 resampling, as
 * Pillow 9.4 does it. Each output reads the inputs within 6 pixels of its centre, with
 * taps clipped at the border and renormalised. Weights are rounded to 22-bit fixed point,
 * the horizontal pass runs first, and each pass is rounded and clipped to 8 bits.
 */
function lanczosHalve(image: Float64Array, n: number): Float64Array {
  const m = n / 2;
  const precision = 2 ** 22;
  const weights: { first: number; taps: number[] }[] = [];
  for (let j = 0; j < m; j++) {
    const centre = (j + 0.5) * 2;
    const first = Math.max(0, Math.trunc(centre - 6 + 0.5));
    const last = Math.min(n, Math.trunc(centre + 6 + 0.5));
    const taps: number[] = [];
    for (let i = first; i < last; i++) taps.push(lanczos3((i - centre + 0.5) / 2));
    const total = taps.reduce((s, v) => s + v, 0);
    const fixed = taps.map((w) => {
      const scaled = (w / total) * precision;
      return scaled < 0 ? Math.trunc(scaled - 0.5) : Math.trunc(scaled + 0.5);
    });
    weights.push({ first, taps: fixed });
  }
  const clip8 = (sum: number) => {
    if (sum <= 0) return 0;
    if (sum >= 255 * precision) return 255;
    return Math.floor(sum / precision);
  };
  const horizontal = new Float64Array(n * m);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < m; j++) {
      const { first, taps } = weights[j];
      let sum = precision / 2;
      for (let t = 0; t < taps.length; t++) sum += taps[t] * image[r * n + first + t];
      horizontal[r * m + j] = clip8(sum);
    }
  }
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    const { first, taps } = weights[i];
    for (let c = 0; c < m; c++) {
      let sum = precision / 2;
      for (let t = 0; t < taps.length; t++) sum += taps[t] * horizontal[(first + t) * m + c];
      out[i * m + c] = clip8(sum);
    }
  }
  return out;
}
