/**
 * Child side of the thread-safety probe: two worker threads each build a small
 * convolution graph, open an onnxruntime session and run it 25 times. Prints "probe ok"
 * when every run returned the same output as the main thread.
 */
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { createSession, GraphBuilder, runSession } from "@tweedie/core";

function graph(): Uint8Array {
  const builder = new GraphBuilder({ name: "thread-probe" });
  builder.input("x", "float32", [1, 3, 8, 8]);
  const weights = Float32Array.from({ length: 3 * 3 * 3 * 3 }, (_, i) => ((i % 7) - 3) / 10);
  builder.initializer("w", { dtype: "float32", data: weights, dims: [3, 3, 3, 3] });
  builder.node("Conv", ["x", "w"], ["y"], { pads: { ints: [1, 1, 1, 1] } });
  builder.output("y", "float32", [1, 3, 8, 8]);
  return builder.toBytes();
}

async function runAll(): Promise<number> {
  const session = await createSession(graph(), { intraOpThreads: 1, fileLabel: "thread-probe" });
  const x = Float32Array.from({ length: 192 }, (_, i) => Math.sin(i));
  let checksum = 0;
  for (let run = 0; run < 25; run++) {
    const outputs = await runSession(session, {
      x: { dtype: "float32", data: x, dims: [1, 3, 8, 8] },
    });
    const y = outputs.y.data as Float32Array;
    checksum = y.reduce((sum, v) => sum + v, 0);
  }
  return checksum;
}

if (isMainThread) {
  const expected = await runAll();
  const url = new URL(import.meta.url);
  const results = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(url);
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
    ),
  );
  if (results.every((value) => Math.abs(value - expected) < 1e-5)) console.log("probe ok");
  else console.log(`probe mismatch: ${results.join(", ")} vs ${expected}`);
  process.exit(0);
} else {
  parentPort?.postMessage(await runAll());
}
