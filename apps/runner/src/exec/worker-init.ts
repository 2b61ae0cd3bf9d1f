import { workerData } from "node:worker_threads";
import type { WorkerInit } from "./pool.js";

/** The slot and data of the current worker, whether it is a thread or a child process. */
export function workerInit(): WorkerInit {
  const fromProcess = (globalThis as { __tweedieWorkerInit?: WorkerInit }).__tweedieWorkerInit;
  const init = (workerData as WorkerInit | undefined) ?? fromProcess;
  if (!init) throw new Error("workerInit() called outside a Tweedie worker");
  return init;
}
