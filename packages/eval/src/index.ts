export const packageName = "@tweedie/eval";
