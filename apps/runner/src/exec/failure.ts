import type { Cell } from "../plan/cells.js";
import type { ResultStore } from "../store/results.js";
import type { CellOutcome } from "./job.js";

/**
 * Stores a failed cell's record (the error and what the cell was, no artifacts), so the
 * failure is kept and counted. A resumed run redoes the cell. Returns the outcome to report.
 */
export async function storeFailure(
  store: ResultStore,
  cell: Cell,
  message: string,
  timings: Record<string, number>,
  seconds: number,
): Promise<CellOutcome> {
  await store.writeCell(cell.id, [], {
    status: "failed",
    cell: cell.content,
    error: message,
    timings,
    createdAt: new Date().toISOString(),
    solver: cell.solver,
    dataset: cell.dataset,
    item: cell.item,
    task: cell.task,
    taskDefinition: cell.taskDefinition,
    seed: cell.seed,
    sample: cell.sample,
  });
  return { cellId: cell.id, status: "failed", metrics: {}, nfe: null, seconds, error: message };
}
