/**
 * Worker entry: one instance per worker thread (or child process), pinned to one device.
 * It keeps its model sessions and result stores for the life of the worker and runs one
 * cell per task.
 */
import { renderError } from "@tweedie/core";
import { openResultStore } from "../store/open.js";
import type { ResultStore } from "../store/results.js";
import { executeCell } from "./cell.js";
import type { CellJob, CellOutcome, WorkerRequest } from "./job.js";
import { editScores, ModelCache, modelDir } from "./models.js";
import { workerInit } from "./worker-init.js";

const init = workerInit();
const models = new ModelCache(init.slot);
const stores = new Map<string, ResultStore>();

function storeFor(job: CellJob): ResultStore {
  const key = JSON.stringify([job.output.location, job.output.run]);
  let store = stores.get(key);
  if (!store) {
    store = openResultStore({ output: job.output });
    stores.set(key, store);
  }
  return store;
}

export default async function handle(
  request: WorkerRequest,
): Promise<CellOutcome | { ok: true; slot: number }> {
  if (request.type === "probe") return { ok: true, slot: init.slot.index };
  try {
    return await executeCell(request, {
      loadModel: (job) => models.get(job.model),
      store: storeFor,
      editingScores: async (job, output, target) =>
        editScores(await models.get(job.model), modelDir(job.model), output, target, init.slot),
    });
  } catch (error) {
    // executeCell stores failures itself; this catches a failure to store the failure.
    return {
      cellId: request.cell.id,
      status: "failed",
      metrics: {},
      nfe: null,
      seconds: 0,
      error: renderError(error),
    };
  }
}
