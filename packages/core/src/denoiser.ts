import type { Conditioning, Model } from "./contracts/model.js";
import type { Tensor } from "./tensor.js";

/** The Tweedie pair for x_t = alpha x0Hat + sigma epsHat. */
export interface Denoised {
  x0Hat: Tensor;
  epsHat: Tensor;
}

/** TODO: implementation pending: wraps a Model into (x0Hat, epsHat) with CFG and clipping. */
export class Denoiser {
  nfe = 0;
  constructor(readonly model: Model) {}
  async denoise(_xt: Tensor, _t: number, _cond: Conditioning): Promise<Denoised> {
    throw new Error("not implemented");
  }
}
