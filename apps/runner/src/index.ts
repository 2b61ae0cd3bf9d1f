export const packageName = "@tweedie/runner";
