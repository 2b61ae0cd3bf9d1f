import { conformanceCases } from "@tweedie/core/testing";
import { describe, it } from "vitest";
import { flowDpsPlugin } from "../src/index.js";

describe("flowdps conformance", () => {
  for (const check of conformanceCases(flowDpsPlugin, {
    fastParams: { steps: 8, stepSize: 5 },
    unguidedParams: { steps: 100, innerSteps: 0 },
    unguidedMaxRatio: 1.6,
  })) {
    it(check.name, check.run, check.timeout);
  }
});
