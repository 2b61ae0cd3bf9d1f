/**
 * Entry of a child-process worker: loads the worker module named by the parent and runs
 * one task per message with the same default-export protocol as a piscina thread.
 */
import { pathToFileURL } from "node:url";

type Handler = (task: unknown) => Promise<unknown>;

let handler: Handler | undefined;

interface InitMessage {
  type: "init";
  module: string;
  init: unknown;
}

process.on(
  "message",
  async (message: InitMessage | { type: "task"; task: unknown } | { type: "close" }) => {
    if (message.type === "init") {
      (globalThis as { __tweedieWorkerInit?: unknown }).__tweedieWorkerInit = message.init;
      const module = (await import(pathToFileURL(message.module).href)) as { default: Handler };
      handler = module.default;
      return;
    }
    if (message.type === "close") {
      process.disconnect?.();
      process.exit(0);
    }
    try {
      while (!handler) await new Promise((resolve) => setTimeout(resolve, 5));
      const value = await handler(message.task);
      process.send?.({ type: "result", value });
    } catch (error) {
      const plain =
        error instanceof Error
          ? { message: error.message, name: error.name, code: (error as { code?: string }).code }
          : { message: String(error) };
      process.send?.({ type: "error", error: plain });
    }
  },
);
