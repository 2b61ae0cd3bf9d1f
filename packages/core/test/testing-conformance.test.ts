import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { SolverPlugin } from "../src/index.js";
import { Tensor } from "../src/index.js";
import { conformanceCases } from "../src/testing/index.js";

/** A plugin that returns a constant image and reports nothing: wrong on several counts. */
const constantPlugin: SolverPlugin<{ steps: number; samples: number }> = {
  name: "constant",
  version: "0.0.0",
  description: "test double that ignores its seed",
  tasks: ["restoration"],
  paramsSchema: z.object({ steps: z.number().default(1), samples: z.number().default(1) }).strict(),
  presets: { bad: { params: { steps: 2 }, source: "" } },
  requires: {},
  create: (params) => ({
    async solve(problem) {
      const shape = problem.kind === "restoration" ? problem.shape : problem.source.shape.slice(1);
      return { x: Tensor.zeros([params.samples, ...shape]), nfe: 0, steps: 0, diagnostics: {} };
    },
  }),
};

async function outcome(name: string): Promise<string> {
  const check = conformanceCases(constantPlugin, { fastParams: {}, unguidedParams: {} }).find(
    (c) => c.name === name,
  );
  if (!check) throw new Error(`no case named ${name}`);
  try {
    await check.run();
    return "passed";
  } catch (error) {
    return (error as Error).message;
  }
}

describe("conformance suite on a broken plugin", () => {
  it("flags a preset without a source", async () => {
    expect(await outcome("presets parse and name a source")).toMatch(/names no source/);
  });

  it("flags output that ignores the seed", async () => {
    expect(await outcome("same seed gives identical output")).toMatch(/identical output/);
  });

  it("flags a solver that never reports progress", async () => {
    expect(await outcome("progress payload is the same for every step")).toMatch(/never called/);
  });

  it("flags a solver that ignores cancellation", async () => {
    expect(await outcome("cancellation stops between steps")).toMatch(
      /finished instead of rejecting/,
    );
  });

  it("flags samples far from the prior", async () => {
    expect(await outcome("unguided run reproduces the prior")).toMatch(/far from the prior/);
  });

  it("passes the shape check for a correct shape", async () => {
    expect(await outcome("output has the problem's shape and is finite")).toBe("passed");
  });
});
