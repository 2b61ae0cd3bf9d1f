import { canonicalJson, type JsonValue } from "../aggregate/aggregate.js";
import {
  type GroupKey,
  type Leaderboard,
  type LeaderboardGroup,
  rankKey,
} from "../leaderboard/schema.js";

/** The best parameters for one metric column within one sweep, and the runner-up. */
export interface SweepWinner {
  readonly column: string;
  readonly higherIsBetter: boolean;
  /** Best value of a metric that is best at a value. The winner is the mean nearest to it. */
  readonly target?: number;
  readonly best: SweepCandidate;
  /** Null when only one parameter set has a value in this column. */
  readonly runnerUp: SweepCandidate | null;
  /** |best mean - runner-up mean| in the metric's units (never display-scaled); null without a runner-up. */
  readonly margin: number | null;
  /** Whether the two 95% confidence intervals overlap; null when either is missing. */
  readonly intervalsOverlap: boolean | null;
}

export interface SweepCandidate {
  readonly params: Readonly<Record<string, JsonValue>>;
  readonly mean: number;
  readonly n: number;
  readonly ci95: { readonly low: number; readonly high: number } | null;
}

/** One sweep: the groups that share every group field but `params`. */
export interface SweepSummary {
  /** The shared fields (dataset, task, solver, subset as the leaderboard groups them). */
  readonly key: Omit<GroupKey, "params">;
  /** Parameter sets in the sweep. */
  readonly candidates: number;
  readonly winners: readonly SweepWinner[];
}

/**
 * Finds, for every sweep in a leaderboard (two or more parameter sets that share all
 * other group fields), the best parameter set per metric column by mean, direction-aware,
 * with its margin over the runner-up. Ties keep the order of the leaderboard's groups.
 */
export function summarizeSweeps(leaderboard: Leaderboard): SweepSummary[] {
  if (!leaderboard.groupBy.includes("params")) return [];
  const sweeps = new Map<string, { key: Omit<GroupKey, "params">; groups: LeaderboardGroup[] }>();
  for (const group of leaderboard.groups) {
    const { params: _params, ...rest } = group.key;
    const id = canonicalJson(rest as JsonValue);
    const sweep = sweeps.get(id) ?? { key: rest, groups: [] };
    sweep.groups.push(group);
    sweeps.set(id, sweep);
  }

  const summaries: SweepSummary[] = [];
  for (const { key, groups } of sweeps.values()) {
    if (groups.length < 2) continue;
    const winners: SweepWinner[] = [];
    for (const column of leaderboard.columns) {
      const ranked = groups
        .map((group) => candidate(group, column.key))
        .filter((entry): entry is SweepCandidate => entry !== null)
        .sort((a, b) => rankKey(column, a.mean) - rankKey(column, b.mean));
      if (ranked.length === 0) continue;
      const [best, runnerUp = null] = ranked;
      winners.push({
        column: column.key,
        higherIsBetter: column.higherIsBetter,
        ...(column.target === undefined ? {} : { target: column.target }),
        best,
        runnerUp,
        margin: runnerUp === null ? null : Math.abs(best.mean - runnerUp.mean),
        intervalsOverlap:
          runnerUp === null || best.ci95 === null || runnerUp.ci95 === null
            ? null
            : best.ci95.low <= runnerUp.ci95.high && runnerUp.ci95.low <= best.ci95.high,
      });
    }
    summaries.push({ key, candidates: groups.length, winners });
  }
  return summaries;
}

function candidate(group: LeaderboardGroup, column: string): SweepCandidate | null {
  const summary = group.metrics[column];
  if (summary === undefined || summary.mean === null) return null;
  return {
    params: group.key.params ?? {},
    mean: summary.mean,
    n: summary.n,
    ci95: summary.ci95 === null ? null : { low: summary.ci95.low, high: summary.ci95.high },
  };
}
