export const packageName = "@tweedie/solver-flowdps";
