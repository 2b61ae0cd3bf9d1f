import type { Conditioning, Model } from "./contracts/model.js";
import { TweedieError } from "./errors.js";
import { timeAtSnr } from "./reschedule.js";
import { createSchedule } from "./schedules.js";
import { add, scale, sub, Tensor } from "./tensor.js";

/**
 * Runs an x0-predicting denoiser at several scales and combines the estimates, so that a
 * local prior (such as an 8x8 patch mixture) also constrains coarse structure.
 *
 * Level l denoises c_l, the mean over 2^l x 2^l pixel blocks of x_t. Averaging f^2 pixels
 * divides the noise by f = 2^l, so c_l = alpha avg(x0) + (sigma / f) n: the same model
 * denoises it at the time tau_l whose signal-to-noise ratio is f alpha / sigma, after
 * scaling by alpha_m(tau_l) / alpha (as in rescheduleModel). With D_l its estimate of
 * avg(x0) and P = up(avg(.)) the projector onto 2x2-block-constant images of level l,
 *   E_L = D_L,   E_l = D_l - P D_l + up(E_(l+1)),
 * so the finest level keeps the detail of its own estimate within 2x2 blocks and takes
 * the block means from the next coarser level. The output is E_0. `up` repeats each value
 * over its 2x2 block and `avg` is the 2x2 mean.
 *
 * The VJP follows the same recursion backwards (P is symmetric, avg^T = up / 4 and
 * up^T = 4 avg):
 *   J_L^T g = s_L V_L(g),   J_l^T g = s_l V_l(g - P g) + up(J_(l+1)^T (avg g)),
 * where V_l is the model's VJP at level l's input and s_l its input scale.
 */
export function multiscaleModel(model: Model, levels: number, spatialMultiple = 1): Model {
  if (model.info.parameterisation !== "x0") {
    throw new TweedieError("the multiscale denoiser combines x0 estimates", {
      code: "unsupported",
      path: [model.info.name, "parameterisation"],
      expected: "x0",
      received: model.info.parameterisation,
    });
  }
  if (!Number.isInteger(levels) || levels < 1 || levels > 6) {
    throw new TweedieError("multiscale levels must be an integer in [1, 6]", {
      code: "invalid_value",
      path: [model.info.name, "multiscale", "levels"],
      received: levels,
    });
  }
  const schedule = createSchedule(model.info.schedule);

  /** Returns the input scale and model time of each level at t, level 0 included. */
  const levelTimes = (t: number): { tau: number; scale: number }[] => {
    const alpha = schedule.alpha(t);
    const sigma = schedule.sigma(t);
    return Array.from({ length: levels + 1 }, (_, level) => {
      if (level === 0) return { tau: t, scale: 1 };
      if (sigma <= 0) return { tau: t, scale: 1 };
      const tau = timeAtSnr(schedule, (2 ** level * alpha) / sigma);
      return { tau, scale: alpha > 0 ? schedule.alpha(tau) / alpha : 1 };
    });
  };

  /** Computes the block means c_0 = x_t, c_1, ..., c_L. */
  const pyramid = (xt: Tensor): Tensor[] => {
    checkSize(xt, 2 ** levels * spatialMultiple, levels, model.info.name);
    const out = [xt];
    for (let level = 1; level <= levels; level++) out.push(average2(out[level - 1]));
    return out;
  };

  const wrapped: Model = {
    info: model.info,
    async predict(xt: Tensor, t: number, cond: Conditioning) {
      const inputs = pyramid(xt);
      const times = levelTimes(t);
      let estimate: Tensor | undefined;
      for (let level = levels; level >= 0; level--) {
        const { tau, scale } = times[level];
        const own = await model.predict(scaled(inputs[level], scale), tau, cond);
        estimate = estimate === undefined ? own : replaceBlockMeans(own, estimate);
      }
      return estimate as Tensor;
    },
    condition: (prompt, batch) => model.condition(prompt, batch),
    dispose: () => model.dispose(),
  };
  if (model.vjp) {
    const vjp = model.vjp.bind(model);
    wrapped.vjp = async (xt, t, cond, g) => {
      const inputs = pyramid(xt);
      const times = levelTimes(t);
      // Cotangents per level: g_0 = g, g_(l+1) = avg(g_l) (the up^T / 4 of each step).
      const cotangents = [g.reshape(xt.shape)];
      for (let level = 1; level <= levels; level++) {
        cotangents.push(average2(cotangents[level - 1]));
      }
      let estimate: Tensor | undefined;
      let gradient: Tensor | undefined;
      for (let level = levels; level >= 0; level--) {
        const { tau, scale } = times[level];
        const own = cotangents[level];
        const projected = level === levels ? own : sub(own, upsample2(average2(own)));
        const result = await vjp(scaled(inputs[level], scale), tau, cond, projected);
        const local = scaled(result.vjp, scale);
        estimate =
          estimate === undefined ? result.output : replaceBlockMeans(result.output, estimate);
        gradient = gradient === undefined ? local : add(local, upsample2(gradient));
      }
      return { output: estimate as Tensor, vjp: gradient as Tensor };
    };
  }
  return wrapped;
}

/**
 * Checks that every level's image has even sides and that the coarsest still meets the
 * model's own spatial multiple, so H and W must be multiples of 2^levels times it.
 */
function checkSize(xt: Tensor, factor: number, levels: number, name: string): void {
  const [, , height, width] = xt.shape;
  if (height % factor !== 0 || width % factor !== 0) {
    throw new TweedieError(
      `the multiscale denoiser needs height and width divisible by ${factor}`,
      {
        code: "shape_mismatch",
        path: [name, "x_t"],
        expected: `[N, C, H, W] with H and W multiples of ${factor} (2^${levels} times the model's spatial multiple)`,
        received: [...xt.shape],
      },
    );
  }
}

/** Returns fine - up(avg(fine)) + up(coarse): fine's detail on coarse's block means. */
function replaceBlockMeans(fine: Tensor, coarse: Tensor): Tensor {
  return add(sub(fine, upsample2(average2(fine))), upsample2(coarse));
}

/** Means over 2x2 blocks of [N, C, H, W]. */
export function average2(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const oh = h / 2;
  const ow = w / 2;
  const out = new Float32Array(n * c * oh * ow);
  const data = x.data;
  for (let plane = 0; plane < n * c; plane++) {
    const src = plane * h * w;
    const dst = plane * oh * ow;
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const a = src + 2 * i * w + 2 * j;
        out[dst + i * ow + j] = 0.25 * (data[a] + data[a + 1] + data[a + w] + data[a + w + 1]);
      }
    }
  }
  return new Tensor(out, [n, c, oh, ow]);
}

/** Repeats each value of [N, C, h, w] over a 2x2 block. */
export function upsample2(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const ow = 2 * w;
  const out = new Float32Array(n * c * 4 * h * w);
  const data = x.data;
  for (let plane = 0; plane < n * c; plane++) {
    const src = plane * h * w;
    const dst = plane * 4 * h * w;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const value = data[src + i * w + j];
        const a = dst + 2 * i * ow + 2 * j;
        out[a] = value;
        out[a + 1] = value;
        out[a + ow] = value;
        out[a + ow + 1] = value;
      }
    }
  }
  return new Tensor(out, [n, c, 2 * h, ow]);
}

/** Returns factor * x, or x itself for a factor of 1. */
function scaled(x: Tensor, factor: number): Tensor {
  return factor === 1 ? x : scale(x, factor);
}
