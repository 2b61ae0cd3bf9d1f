import type { ModelRef, TweedieConfig } from "../config/resolve.js";
import type { DatasetItem, DatasetManifest } from "../datasets/manifest.js";
import type { Cell } from "../plan/cells.js";

/** Everything a worker needs to run one cell; plain data, so it crosses threads and processes. */
export interface CellJob {
  type: "cell";
  output: TweedieConfig["output"];
  cell: Cell;
  dataset: Pick<DatasetManifest, "name" | "kind" | "root" | "policy">;
  item: DatasetItem;
  model: ModelRef;
  metrics: TweedieConfig["metrics"];
}

/** What a worker returns for a cell; failures come back as data, never as a thrown error. */
export interface CellOutcome {
  cellId: string;
  status: "ok" | "failed";
  metrics: Record<string, number | null>;
  nfe: number | null;
  seconds: number;
  error?: string;
}

export type WorkerRequest = CellJob | { type: "probe" };
