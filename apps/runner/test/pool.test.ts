import { describe, expect, it } from "vitest";
import { planWorkerSlots } from "../src/exec/devices.js";
import { SlotPool, WorkerCrash } from "../src/exec/pool.js";

const workerModule = new URL("./fixtures/crash-worker.mjs", import.meta.url);

describe("planWorkerSlots", () => {
  it("splits CPU threads so workers x threads <= cores", () => {
    expect(planWorkerSlots("cpu", 2, 2).map((s) => s.intraOpThreads)).toEqual([1, 1]);
    expect(planWorkerSlots("cpu", 1, 2)[0].intraOpThreads).toBe(2);
    expect(planWorkerSlots("cpu", 3, 16).map((s) => s.intraOpThreads)).toEqual([5, 5, 5]);
  });

  it("pins one worker per GPU", () => {
    const slots = planWorkerSlots("cuda:0,1,3", undefined, 16);
    expect(slots.map((s) => s.device)).toEqual(["cuda:0", "cuda:1", "cuda:3"]);
  });

  it("rejects malformed devices with the value", () => {
    expect(() => planWorkerSlots("gpu0", undefined)).toThrow(/invalid device/);
    expect(() => planWorkerSlots("cuda:0,0", undefined)).toThrow(/listed twice/);
    expect(() => planWorkerSlots("cuda:0,1", 3)).toThrow(/one per device/);
  });
});

describe.each(["threads", "processes"] as const)("SlotPool (%s)", (kind) => {
  it("fails only the crashing tasks and keeps going", async () => {
    const pool = new SlotPool({
      workerModule,
      slots: planWorkerSlots("cpu", 2, 2),
      kind,
      maxHeapMb: 64,
    });
    const actions = ["ok", "ok", "exit", "ok", "oom", "ok", "throw", "ok", "ok", "ok", "ok", "ok"];
    const results = await Promise.allSettled(
      actions.map((action, id) => pool.run<{ id: number }>({ id, action })),
    );
    await pool.close();

    for (const [id, result] of results.entries()) {
      if (actions[id] === "ok") {
        expect(result.status, `task ${id}`).toBe("fulfilled");
        if (result.status === "fulfilled") expect(result.value.id).toBe(id);
      } else {
        expect(result.status, `task ${id}`).toBe("rejected");
      }
    }
    const exit = results[2] as PromiseRejectedResult;
    expect(exit.reason).toBeInstanceOf(WorkerCrash);
    expect((exit.reason as WorkerCrash).reason).toBe("exit");
    const oom = results[4] as PromiseRejectedResult;
    expect(oom.reason).toBeInstanceOf(WorkerCrash);
    if (kind === "threads") {
      expect((oom.reason as WorkerCrash).reason).toBe("out-of-memory");
      expect(String(oom.reason.message)).toContain("limit 64 MB");
    }
    expect((results[6] as PromiseRejectedResult).reason.message).toContain(
      "task 6 failed on purpose",
    );
  });

  it("gives each worker its slot", async () => {
    const pool = new SlotPool({ workerModule, slots: planWorkerSlots("cpu", 2, 4), kind });
    const result = await pool.run<{ device: string; threads: number }>({ id: 0, action: "ok" });
    await pool.close();
    expect(result).toMatchObject({ device: "cpu", threads: 2 });
  });
});

describe("thread-safety probe", () => {
  it("finds this onnxruntime-node build safe in worker threads", async () => {
    const { probeThreadSafety } = await import("../src/exec/thread-probe.js");
    const result = await probeThreadSafety();
    expect(result.kind, result.note).toBe("threads");
  }, 90_000);
});
