import { TweedieError } from "@tweedie/core";
import { builtinMetrics } from "./builtins.js";
import { getProfile } from "./profiles.js";
import type { PairMetric, ProfileName } from "./types.js";

/**
 * The metric registry: one `PairMetric` per (name, profile). It starts with the built-in
 * metrics; network metrics register themselves with `registerMetric(metric, { replace:
 * true })` over their `unavailable` placeholders.
 */
const registry = new Map<string, PairMetric>();
for (const metric of builtinMetrics()) registry.set(metricId(metric.name, metric.profile), metric);

/** "name@profile", the id of a metric in the registry and of a leaderboard column. */
export function metricId(name: string, profile: ProfileName): string {
  return `${name}@${profile}`;
}

export interface RegisterOptions {
  /** Replace an existing metric with the same name and profile; default false. */
  readonly replace?: boolean;
}

export function registerMetric(metric: PairMetric, options: RegisterOptions = {}): void {
  getProfile(metric.profile);
  const id = metricId(metric.name, metric.profile);
  if (registry.has(id) && !options.replace) {
    throw new TweedieError(`metric ${id} is already registered`, {
      code: "invalid_value",
      path: ["metric", id],
      hint: "pass { replace: true } to replace it",
    });
  }
  registry.set(id, metric);
}

/** Looks up a metric; the error lists the metrics the profile has. */
export function getMetric(name: string, profile: ProfileName): PairMetric {
  getProfile(profile);
  const metric = registry.get(metricId(name, profile));
  if (!metric) {
    throw new TweedieError(`profile ${profile} has no metric ${JSON.stringify(name)}`, {
      code: "not_found",
      path: ["metrics", name],
      expected: listMetrics(profile).map((m) => m.name),
      received: name,
    });
  }
  return metric;
}

/** Metrics of one profile, or of all profiles, in registration order. */
export function listMetrics(profile?: ProfileName): PairMetric[] {
  const all = [...registry.values()];
  return profile === undefined ? all : all.filter((m) => m.profile === profile);
}
