import { conformanceCases } from "@tweedie/core/testing";
import { describe, it } from "vitest";
import { dpsPlugin } from "../src/index.js";

// The shared suite's default problem is the d = 8 Gaussian mixture, whose values reach
// +-16, so clipping is off; 50 respaced steps keep each case short.
describe("DPS plugin conformance", () => {
  const cases = conformanceCases(dpsPlugin, {
    fastParams: { steps: 50, zeta: 2, clipX0: false },
    unguidedParams: { zeta: 0 },
  });
  for (const c of cases) it(c.name, c.run, c.timeout);
});
