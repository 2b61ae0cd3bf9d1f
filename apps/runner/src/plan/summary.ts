import type { Cell } from "./cells.js";
import { selectShard } from "./shard.js";

export interface PlanSummary {
  total: number;
  shardCount: number;
  /** Cells per shard, and how many of them are already done when `done` was given. */
  shards: { index: number; cells: number; done: number }[];
  byDataset: Record<string, number>;
  byTask: Record<string, number>;
  bySolver: Record<string, number>;
}

function countBy(cells: readonly Cell[], key: (cell: Cell) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const cell of cells) counts[key(cell)] = (counts[key(cell)] ?? 0) + 1;
  return counts;
}

/** Counts cells per shard (and per dataset, task and solver) for a dry run. */
export function summarizePlan(
  cells: readonly Cell[],
  shardCount: number,
  done: ReadonlySet<string> = new Set(),
): PlanSummary {
  const shards = Array.from({ length: shardCount }, (_, index) => ({ index, cells: 0, done: 0 }));
  const sorted = selectShard(cells, { index: 0, count: 1, source: "default" });
  sorted.forEach((cell, position) => {
    const shard = shards[position % shardCount];
    shard.cells += 1;
    if (done.has(cell.id)) shard.done += 1;
  });
  return {
    total: cells.length,
    shardCount,
    shards,
    byDataset: countBy(cells, (cell) => cell.dataset.name),
    byTask: countBy(cells, (cell) => cell.task.name),
    bySolver: countBy(cells, (cell) => cell.solver.label),
  };
}

/** Renders a summary as plain lines for the terminal. */
export function renderPlanSummary(summary: PlanSummary): string[] {
  const lines = [`${summary.total} cells in ${summary.shardCount} shard(s)`];
  for (const shard of summary.shards) {
    lines.push(
      `  shard ${shard.index}/${summary.shardCount}: ${shard.cells} cells, ${shard.done} done`,
    );
  }
  const section = (title: string, counts: Record<string, number>) => {
    lines.push(`${title}:`);
    for (const name of Object.keys(counts).sort()) lines.push(`  ${name}: ${counts[name]}`);
  };
  section("per dataset", summary.byDataset);
  section("per task", summary.byTask);
  section("per solver", summary.bySolver);
  return lines;
}
