import type { Tensor } from "./tensor.js";

/**
 * A seeded, splittable, counter-based random stream. A draw depends only on
 * (seed, stream key path, index within the stream), never on thread, batch position or
 * call order.
 * TODO: implementation pending (Philox4x32-10 keyed by a hash of the key path).
 */
export interface Rng {
  /** A child stream whose key path is this one's plus `keys`. */
  split(...keys: readonly (string | number)[]): Rng;
  /** `count` uniforms on [0, 1) from the start of this stream. */
  uniform(count: number): Float32Array;
  /** `count` standard normals from the start of this stream. */
  normal(count: number): Float32Array;
  normalTensor(shape: readonly number[]): Tensor;
}
