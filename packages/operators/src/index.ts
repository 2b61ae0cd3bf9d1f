export const packageName = "@tweedie/operators";
