import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import type { WorkerSlot } from "./devices.js";

/**
 * A pool of single-worker slots, each pinned to one device. Tasks go to the first idle
 * slot. A task whose worker exits, crashes or runs out of memory is rejected with a
 * `WorkerCrash` naming the slot and the cause. The slot then starts a fresh worker and
 * the pool goes on. Threads (piscina) are the default; child processes speak the same
 * protocol for onnxruntime builds that cannot run in several worker threads.
 */
export type PoolKind = "threads" | "processes";

export interface PoolOptions {
  /** URL or path of the worker module; its default export handles one task. */
  workerModule: string | URL;
  slots: readonly WorkerSlot[];
  kind: PoolKind;
  /** Per-worker V8 heap limit in MiB (threads only; processes get --max-old-space-size). */
  maxHeapMb?: number;
  /** Extra data every worker receives next to its slot. */
  workerData?: Record<string, unknown>;
}

export interface WorkerInit {
  slot: WorkerSlot;
  data: Record<string, unknown>;
}

export class WorkerCrash extends Error {
  constructor(
    message: string,
    readonly slot: number,
    readonly reason: "exit" | "out-of-memory" | "error",
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "WorkerCrash";
  }
}

interface SlotRunner {
  run(task: unknown): Promise<unknown>;
  close(): Promise<void>;
}

function modulePath(module: string | URL): string {
  return module instanceof URL
    ? fileURLToPath(module)
    : module.startsWith("file:")
      ? fileURLToPath(module)
      : module;
}

function threadSlot(options: PoolOptions, slot: WorkerSlot): SlotRunner {
  const pool = new Piscina({
    filename: modulePath(options.workerModule),
    minThreads: 1,
    maxThreads: 1,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: { slot, data: options.workerData ?? {} } satisfies WorkerInit,
    ...(options.maxHeapMb ? { resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb } } : {}),
  });
  return {
    async run(task) {
      try {
        return await pool.run(task);
      } catch (error) {
        throw classifyThreadError(error, slot, options.maxHeapMb);
      }
    },
    // close() waits for the running task; destroy() during a session.run aborts the
    // whole process with onnxruntime-node, so it is never used here.
    close: () => pool.close(),
  };
}

function classifyThreadError(
  error: unknown,
  slot: WorkerSlot,
  maxHeapMb: number | undefined,
): unknown {
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_WORKER_OUT_OF_MEMORY") {
    const limit = maxHeapMb ? ` (limit ${maxHeapMb} MB)` : "";
    return new WorkerCrash(
      `worker ${slot.index} (${slot.device}) ran out of memory${limit}`,
      slot.index,
      "out-of-memory",
      { cause: error },
    );
  }
  if (/worker exited with code/i.test(message) || /Terminating worker thread/i.test(message)) {
    return new WorkerCrash(
      `worker ${slot.index} (${slot.device}) stopped: ${message}`,
      slot.index,
      "exit",
      { cause: error },
    );
  }
  return error;
}

/** Child-process slot: one forked node process, restarted after it dies. */
function processSlot(options: PoolOptions, slot: WorkerSlot): SlotRunner {
  // Resolves to dist/exec from both src/exec (tests run the sources) and dist/exec.
  const hostPath = fileURLToPath(new URL("../../dist/exec/process-host.js", import.meta.url));
  let child: ChildProcess | undefined;
  let pending: { resolve: (value: unknown) => void; reject: (error: unknown) => void } | undefined;

  const start = (): ChildProcess => {
    const execArgv = options.maxHeapMb ? [`--max-old-space-size=${options.maxHeapMb}`] : [];
    const proc = fork(hostPath, [], {
      execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    proc.send({
      type: "init",
      module: modulePath(options.workerModule),
      init: { slot, data: options.workerData ?? {} },
    });
    proc.on(
      "message",
      (message: {
        type: string;
        value?: unknown;
        error?: { message: string; name?: string; code?: string };
      }) => {
        const current = pending;
        pending = undefined;
        if (!current) return;
        if (message.type === "result") current.resolve(message.value);
        else {
          const error = Object.assign(
            new Error(message.error?.message ?? "task failed"),
            message.error ?? {},
          );
          current.reject(error);
        }
      },
    );
    proc.on("exit", (code, signal) => {
      child = undefined;
      const current = pending;
      pending = undefined;
      if (current) {
        const how = signal ? `signal ${signal}` : `code ${code}`;
        current.reject(
          new WorkerCrash(
            `worker process ${slot.index} (${slot.device}) exited with ${how}`,
            slot.index,
            "exit",
          ),
        );
      }
    });
    return proc;
  };

  return {
    run(task) {
      return new Promise((resolve, reject) => {
        child ??= start();
        pending = { resolve, reject };
        child.send({ type: "task", task });
      });
    },
    async close() {
      const proc = child;
      child = undefined;
      if (!proc) return;
      await new Promise<void>((resolve) => {
        proc.once("exit", () => resolve());
        proc.send({ type: "close" });
      });
    },
  };
}

export class SlotPool {
  readonly kind: PoolKind;
  readonly size: number;
  private readonly runners: SlotRunner[];
  private readonly idle: number[];
  private readonly waiting: ((slot: number) => void)[] = [];

  constructor(options: PoolOptions) {
    this.kind = options.kind;
    this.size = options.slots.length;
    this.runners = options.slots.map((slot) =>
      options.kind === "threads" ? threadSlot(options, slot) : processSlot(options, slot),
    );
    this.idle = options.slots.map((_, i) => i);
  }

  /** Runs one task on the next idle slot. */
  async run<T>(task: unknown): Promise<T> {
    const slot = await this.acquire();
    try {
      return (await this.runners[slot].run(task)) as T;
    } finally {
      this.release(slot);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.close()));
  }

  private acquire(): Promise<number> {
    const slot = this.idle.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: number): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.idle.push(slot);
  }
}
