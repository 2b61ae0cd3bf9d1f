import { availableParallelism } from "node:os";
import { TweedieError } from "@tweedie/core";

/** One worker's place: the execution provider it opens sessions on and its thread budget. */
export interface WorkerSlot {
  index: number;
  /** "cpu" or "cuda:N". */
  device: string;
  /** onnxruntime intra-op threads for this worker's sessions. */
  intraOpThreads: number;
}

/**
 * Plans one worker per GPU device (`cuda:0,1,...`) or per CPU slot (`cpu`, with
 * `workers` slots). CPU threads are split so that workers x threads <= cores, because
 * oversubscribed onnxruntime sessions run slower than fewer threads.
 */
export function planWorkerSlots(
  device: string,
  workers: number | undefined,
  cores = availableParallelism(),
): WorkerSlot[] {
  const spec = device.trim();
  if (spec === "cpu") {
    const count = workers ?? Math.max(1, Math.min(cores, 2));
    if (!Number.isInteger(count) || count < 1) {
      throw new TweedieError("invalid worker count", {
        code: "invalid_value",
        path: ["--workers"],
        expected: "an integer >= 1",
        received: workers,
      });
    }
    const threads = Math.max(1, Math.floor(cores / count));
    return Array.from({ length: count }, (_, index) => ({
      index,
      device: "cpu",
      intraOpThreads: threads,
    }));
  }
  const match = /^cuda:(\d+(?:,\d+)*)$/.exec(spec);
  if (!match) {
    throw new TweedieError("invalid device", {
      code: "invalid_value",
      path: ["--device"],
      expected: 'cpu or cuda:IDS, for example "cuda:0" or "cuda:0,1,2,3"',
      received: device,
    });
  }
  const ids = match[1].split(",").map(Number);
  if (new Set(ids).size !== ids.length) {
    throw new TweedieError("a GPU is listed twice", {
      code: "invalid_value",
      path: ["--device"],
      received: device,
    });
  }
  if (workers !== undefined && workers !== ids.length) {
    throw new TweedieError("with GPUs, the worker count is one per device", {
      code: "invalid_value",
      path: ["--workers"],
      expected: ids.length,
      received: workers,
    });
  }
  // Each GPU worker keeps a little CPU for pre- and post-processing.
  const threads = Math.max(1, Math.floor(cores / ids.length));
  return ids.map((id, index) => ({ index, device: `cuda:${id}`, intraOpThreads: threads }));
}
