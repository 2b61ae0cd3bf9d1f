import { TweedieError } from "@tweedie/core";
import { collectSecrets, redactValue } from "../config/redact.js";
import { mapLimit } from "../datasets/manifest.js";
import { sha256Hex } from "../plan/canonical.js";
import { CELL_KEY_LENGTH } from "../plan/cells.js";
import type { BlobStore, BodySource } from "./blob.js";
import {
  type CellRecord,
  type CellRecordInput,
  cellRecordSchema,
  type RunInfo,
  runInfoSchema,
} from "./record.js";

export const RUN_FILE = "run.json";
export const RECORD_FILE = "record.json";

/** Names of the files a cell may hold besides its record, e.g. output.png or measurement.npy. */
const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*\.[A-Za-z0-9]+$/;

export type RecordState =
  | { state: "done"; record: CellRecord }
  | { state: "failed"; record: CellRecord }
  | { state: "missing" }
  | { state: "invalid"; reason: string };

export interface Artifact {
  name: string;
  body: BodySource;
  contentType?: string;
}

function decodeJson(bytes: Uint8Array): unknown {
  return JSON.parse(Buffer.from(bytes).toString("utf8"));
}

function encodeJson(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, "utf8");
}

/**
 * The results of one run in a blob store, with the same keys in every store:
 * `<run>/run.json` and `<run>/cells/<key>/{files..., record.json}`, where `key` is the
 * first 16 hex digits of the cell id. A cell's record is written after all its other
 * files, so a cell without a valid record is not done and is redone on resume.
 */
export class ResultStore {
  private readonly secrets: string[];

  /**
   * `secrets` are values to keep out of everything written (static S3 credentials of the
   * config); the AWS secret variables of `env` are always added.
   */
  constructor(
    readonly blobs: BlobStore,
    readonly run: string,
    options: { env?: NodeJS.ProcessEnv; secrets?: readonly string[] } = {},
  ) {
    checkRunName(run);
    this.secrets = [...collectSecrets(options.env ?? process.env), ...(options.secrets ?? [])];
  }

  get runKey(): string {
    return `${this.run}/${RUN_FILE}`;
  }

  cellFolder(cellId: string): string {
    return `${this.run}/cells/${cellKey(cellId)}`;
  }

  /**
   * Writes run.json unless one exists. Returns "created", "same" when the existing one has
   * the same plan hash, or "different" (with the existing info) when it describes another
   * plan, which the caller reports. Secrets in the config are replaced before writing.
   */
  async ensureRun(
    info: Omit<RunInfo, "schemaVersion" | "run">,
  ): Promise<{ status: "created" | "same" } | { status: "different"; existing: RunInfo }> {
    const existing = await this.readRun();
    if (existing) {
      return existing.planHash === info.planHash
        ? { status: "same" }
        : { status: "different", existing };
    }
    await this.writeRun(info);
    return { status: "created" };
  }

  /** Writes run.json, replacing any existing one. */
  async writeRun(info: Omit<RunInfo, "schemaVersion" | "run">): Promise<void> {
    const secrets = [
      ...this.secrets,
      ...collectSecrets({}, info.config as Parameters<typeof collectSecrets>[1]),
    ];
    const full = runInfoSchema.parse(
      redactValue({ ...info, schemaVersion: 1, run: this.run }, secrets),
    );
    await this.blobs.put(this.runKey, encodeJson(full), { contentType: "application/json" });
  }

  async readRun(): Promise<RunInfo | undefined> {
    const bytes = await this.blobs.get(this.runKey);
    if (!bytes) return undefined;
    const parsed = runInfoSchema.safeParse(safeJson(bytes));
    if (!parsed.success) {
      throw new TweedieError("run.json is not valid", {
        code: "invalid_value",
        path: [`${this.blobs.location}/${this.runKey}`],
        received: parsed.error.issues[0]?.message,
      });
    }
    return parsed.data;
  }

  /**
   * Writes a cell: every artifact first (up to `concurrency` at once), then record.json.
   * Returns the record as stored. File sizes and hashes are recorded for byte bodies.
   */
  async writeCell(
    cellId: string,
    artifacts: readonly Artifact[],
    record: Omit<CellRecordInput, "schemaVersion" | "cellId" | "run" | "files">,
    concurrency = 3,
  ): Promise<CellRecord> {
    const folder = this.cellFolder(cellId);
    const files: CellRecord["files"] = {};
    for (const artifact of artifacts) {
      if (!ARTIFACT_NAME.test(artifact.name) || artifact.name === RECORD_FILE) {
        throw new TweedieError("invalid cell file name", {
          code: "invalid_value",
          path: [folder, artifact.name],
          expected: `a plain file name such as output.png, not ${RECORD_FILE}`,
          received: artifact.name,
        });
      }
      const bytes = typeof artifact.body === "string" ? Buffer.from(artifact.body) : artifact.body;
      files[artifact.name] =
        bytes instanceof Uint8Array
          ? { bytes: bytes.byteLength, sha256: sha256Hex(bytes) }
          : { bytes: null, sha256: null };
    }
    await this.blobs.removeStaleWrites?.(folder);
    await mapLimit(artifacts, concurrency, (artifact) =>
      this.blobs.put(`${folder}/${artifact.name}`, artifact.body, {
        contentType: artifact.contentType,
      }),
    );
    const full = cellRecordSchema.parse({
      ...record,
      schemaVersion: 1,
      cellId,
      run: this.run,
      files,
    });
    await this.blobs.put(`${folder}/${RECORD_FILE}`, encodeJson(redactValue(full, this.secrets)), {
      contentType: "application/json",
    });
    return full;
  }

  /** Reads and validates a cell's record; a record of another cell id is invalid. */
  async readRecord(cellId: string): Promise<RecordState> {
    const bytes = await this.blobs.get(`${this.cellFolder(cellId)}/${RECORD_FILE}`);
    if (!bytes) return { state: "missing" };
    return recordState(bytes, cellId);
  }

  /**
   * True when the cell has a valid "ok" record (and, with `verifyFiles`, every file the
   * record lists exists). A "failed" record counts as done only with `skipFailed`.
   */
  async isDone(
    cellId: string,
    options: { verifyFiles?: boolean; skipFailed?: boolean } = {},
  ): Promise<boolean> {
    const state = await this.readRecord(cellId);
    if (state.state === "failed" && options.skipFailed) return true;
    if (state.state !== "done") return false;
    if (!options.verifyFiles) return true;
    const folder = this.cellFolder(cellId);
    for (const name of Object.keys(state.record.files)) {
      if (!(await this.blobs.exists(`${folder}/${name}`))) return false;
    }
    return true;
  }

  /**
   * Reads every record of the run, listed through the store (paginated on S3), with
   * `concurrency` reads at once. Invalid records go to `onInvalid` and are skipped.
   */
  async listRecords(options: ListRecordsOptions = {}): Promise<CellRecord[]> {
    const found = await readRecords(this.blobs, `${this.run}/cells/`, options);
    return found.map(({ record }) => record);
  }

  /** Ids of cells with an "ok" record. */
  async doneCellIds(): Promise<Set<string>> {
    const records = await this.listRecords();
    return new Set(
      records.filter((record) => record.status === "ok").map((record) => record.cellId),
    );
  }
}

export interface ListRecordsOptions {
  concurrency?: number;
  onInvalid?: (key: string, reason: string) => void;
}

/** Matches `<run>/cells/<key>/record.json`. */
const RECORD_KEY = /^([A-Za-z0-9][A-Za-z0-9._-]*)\/cells\/([0-9a-f]{16})\/record\.json$/;

/**
 * Lists and reads every cell record under `prefix`, skipping temporary and foreign keys.
 * A record that fails to parse, or whose cell id does not match its folder, goes to
 * `onInvalid` instead of the result.
 */
async function readRecords(
  blobs: BlobStore,
  prefix: string,
  options: ListRecordsOptions,
): Promise<{ run: string; record: CellRecord }[]> {
  const keys: string[] = [];
  for await (const key of blobs.list(prefix)) {
    if (RECORD_KEY.test(key)) keys.push(key);
  }
  keys.sort();
  const records = await mapLimit(keys, options.concurrency ?? 16, async (key) => {
    const bytes = await blobs.get(key);
    const [, run, folderKey] = RECORD_KEY.exec(key) ?? ["", "", ""];
    const state: RecordState = bytes ? recordState(bytes, undefined) : { state: "missing" };
    if (state.state === "invalid" || state.state === "missing") {
      const reason = state.state === "invalid" ? state.reason : "disappeared while listing";
      options.onInvalid?.(key, reason);
      return undefined;
    }
    if (cellKey(state.record.cellId) !== folderKey) {
      options.onInvalid?.(key, `record of cell ${state.record.cellId} stored under ${folderKey}`);
      return undefined;
    }
    return { run, record: state.record };
  });
  return records.filter((found) => found !== undefined);
}

/**
 * Reads every cell record of every run in a location, for aggregation across runs and
 * shards. Records are grouped by the run folder they were found in.
 */
export async function listLocationRecords(
  blobs: BlobStore,
  options: ListRecordsOptions = {},
): Promise<Map<string, CellRecord[]>> {
  const byRun = new Map<string, CellRecord[]>();
  for (const { run, record } of await readRecords(blobs, "", options)) {
    const list = byRun.get(run) ?? [];
    list.push(record);
    byRun.set(run, list);
  }
  return byRun;
}

/** Returns the store key of a cell id: its first 16 hex digits. */
export function cellKey(cellId: string): string {
  if (!/^[0-9a-f]{64}$/.test(cellId)) {
    throw new TweedieError("invalid cell id", {
      code: "invalid_value",
      path: ["cellId"],
      expected: "64 lowercase hex digits",
      received: cellId,
    });
  }
  return cellId.slice(0, CELL_KEY_LENGTH);
}

function checkRunName(run: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(run)) {
    throw new TweedieError("invalid run name", {
      code: "invalid_value",
      path: ["run"],
      expected: "letters, digits, '.', '_' and '-', starting with a letter or digit",
      received: run,
    });
  }
}

function safeJson(bytes: Uint8Array): unknown {
  try {
    return decodeJson(bytes);
  } catch {
    return undefined;
  }
}

function recordState(bytes: Uint8Array, cellId: string | undefined): RecordState {
  const value = safeJson(bytes);
  if (value === undefined) return { state: "invalid", reason: "not valid JSON" };
  const parsed = cellRecordSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { state: "invalid", reason: `${issue.path.join(".") || "record"}: ${issue.message}` };
  }
  if (cellId !== undefined && parsed.data.cellId !== cellId) {
    return { state: "invalid", reason: `record of cell ${parsed.data.cellId}, expected ${cellId}` };
  }
  return parsed.data.status === "ok"
    ? { state: "done", record: parsed.data }
    : { state: "failed", record: parsed.data };
}
