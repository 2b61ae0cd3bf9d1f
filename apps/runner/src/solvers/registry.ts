import type { SolverPlugin } from "@tweedie/core";
import * as dps from "@tweedie/solver-dps";
import * as dreamsampler from "@tweedie/solver-dreamsampler";
import * as flowalign from "@tweedie/solver-flowalign";
import * as flowdps from "@tweedie/solver-flowdps";
import {
  bicubicPlugin,
  meanFillPlugin,
  measurementPlugin,
  pseudoInversePlugin,
} from "./baselines.js";

function isPlugin(value: unknown): value is SolverPlugin {
  const candidate = value as Partial<SolverPlugin> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.name === "string" &&
    typeof candidate.create === "function" &&
    typeof candidate.paramsSchema === "object"
  );
}

/** Plugins a solver package exports, found by shape so a package may export several. */
function pluginsOf(module: Record<string, unknown>): SolverPlugin[] {
  return Object.values(module).filter(isPlugin);
}

/** Every solver the runner knows, by name: the four method packages and the baselines. */
export function solverRegistry(): Map<string, SolverPlugin> {
  const registry = new Map<string, SolverPlugin>();
  const all = [
    ...pluginsOf(dps),
    ...pluginsOf(flowdps),
    ...pluginsOf(dreamsampler),
    ...pluginsOf(flowalign),
    pseudoInversePlugin,
    bicubicPlugin,
    meanFillPlugin,
    measurementPlugin,
  ];
  for (const plugin of all) {
    const existing = registry.get(plugin.name);
    if (existing === plugin) continue; // A package may export one plugin under two names.
    if (existing) throw new Error(`two solver plugins are named ${plugin.name}`);
    registry.set(plugin.name, plugin as SolverPlugin);
  }
  return registry;
}
