export const packageName = "@tweedie/solver-flowalign";
