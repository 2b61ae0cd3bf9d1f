export const packageName = "@tweedie/solver-dps";
