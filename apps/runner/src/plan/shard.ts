import { TweedieError } from "@tweedie/core";
import { compareCodeUnits } from "./canonical.js";

/** Shard `index` of `count`, 0-based, and where the numbers came from. */
export interface ShardSpec {
  index: number;
  count: number;
  source: "flag" | "slurm" | "kubernetes" | "default";
}

const ONLY_SHARD: ShardSpec = { index: 0, count: 1, source: "default" };

function wholeNumber(text: string | undefined, name: string, min: number): number {
  const value = text === undefined ? Number.NaN : Number(text);
  if (text === undefined || text.trim() === "" || !Number.isInteger(value) || value < min) {
    throw new TweedieError(`${name} must be an integer >= ${min}`, {
      code: "invalid_value",
      path: [name],
      expected: `an integer >= ${min}`,
      received: text,
    });
  }
  return value;
}

function checked(
  index: number,
  count: number,
  source: ShardSpec["source"],
  name: string,
): ShardSpec {
  if (index >= count) {
    throw new TweedieError("shard index must be below the shard count", {
      code: "out_of_range",
      path: [name],
      expected: `0 <= index < ${count}`,
      received: index,
    });
  }
  return { index, count, source };
}

/** Parses `--shard i/n` with 0 <= i < n. */
export function parseShardFlag(text: string): ShardSpec {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) {
    throw new TweedieError("invalid shard", {
      code: "invalid_value",
      path: ["--shard"],
      expected: "i/n with 0 <= i < n, e.g. 0/4",
      received: text,
    });
  }
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1) {
    throw new TweedieError("shard count must be >= 1", {
      code: "out_of_range",
      path: ["--shard"],
      expected: "n >= 1",
      received: text,
    });
  }
  return checked(index, count, "flag", "--shard");
}

/**
 * Picks this process's shard. The `--shard i/n` flag comes first. Next is a SLURM job
 * array: index (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP and
 * count SLURM_ARRAY_TASK_COUNT, so arrays such as 1-8 or 0-14:2 work. Then a Kubernetes
 * Indexed Job: JOB_COMPLETION_INDEX, with the count from `shardCount` or
 * TWEEDIE_SHARD_COUNT because Kubernetes does not export it. Otherwise the only shard is 0/1.
 */
export function resolveShard(
  options: { flag?: string; shardCount?: string | number },
  env: NodeJS.ProcessEnv = process.env,
): ShardSpec {
  if (options.flag !== undefined) return parseShardFlag(options.flag);
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const id = wholeNumber(env.SLURM_ARRAY_TASK_ID, "SLURM_ARRAY_TASK_ID", 0);
    const count = wholeNumber(env.SLURM_ARRAY_TASK_COUNT, "SLURM_ARRAY_TASK_COUNT", 1);
    const min =
      env.SLURM_ARRAY_TASK_MIN === undefined
        ? 0
        : wholeNumber(env.SLURM_ARRAY_TASK_MIN, "SLURM_ARRAY_TASK_MIN", 0);
    const step =
      env.SLURM_ARRAY_TASK_STEP === undefined
        ? 1
        : wholeNumber(env.SLURM_ARRAY_TASK_STEP, "SLURM_ARRAY_TASK_STEP", 1);
    if (id < min || (id - min) % step !== 0) {
      throw new TweedieError("SLURM_ARRAY_TASK_ID is not on the array's grid", {
        code: "invalid_value",
        path: ["SLURM_ARRAY_TASK_ID"],
        expected: `${min} + k x ${step}`,
        received: id,
      });
    }
    return checked((id - min) / step, count, "slurm", "SLURM_ARRAY_TASK_ID");
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const index = wholeNumber(env.JOB_COMPLETION_INDEX, "JOB_COMPLETION_INDEX", 0);
    const countText = options.shardCount ?? env.TWEEDIE_SHARD_COUNT;
    if (countText === undefined) {
      throw new TweedieError("JOB_COMPLETION_INDEX is set but the shard count is not", {
        code: "missing",
        path: ["TWEEDIE_SHARD_COUNT"],
        expected: "the Indexed Job's completions, from --shard-count or TWEEDIE_SHARD_COUNT",
      });
    }
    const count = wholeNumber(String(countText), "TWEEDIE_SHARD_COUNT", 1);
    return checked(index, count, "kubernetes", "JOB_COMPLETION_INDEX");
  }
  return ONLY_SHARD;
}

/**
 * Assigns each id its shard: ids are sorted (as strings) and the one at position p goes to shard
 * p mod count. Shard sizes therefore differ by at most one. Since ids are uniform hashes,
 * sorting by them shuffles datasets, tasks and solvers, so each shard also gets a
 * statistically even mix of cheap and expensive cells. The assignment depends only on the
 * set of ids, never on listing, worker or machine order.
 */
export function assignShards(ids: readonly string[], count: number): Map<string, number> {
  const sorted = [...new Set(ids)].sort();
  const shards = new Map<string, number>();
  sorted.forEach((id, position) => {
    shards.set(id, position % count);
  });
  return shards;
}

/** Returns the cells of one shard, in id order. */
export function selectShard<T extends { id: string }>(cells: readonly T[], shard: ShardSpec): T[] {
  const sorted = [...cells].sort((a, b) => compareCodeUnits(a.id, b.id));
  return sorted.filter((_, position) => position % shard.count === shard.index);
}
