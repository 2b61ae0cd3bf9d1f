export const packageName = "@tweedie/solver-dreamsampler";
