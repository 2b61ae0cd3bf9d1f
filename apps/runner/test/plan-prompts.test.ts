import { describe, expect, it } from "vitest";
import type { Cell } from "../src/plan/cells.js";
import { checkPlanPrompts } from "../src/plan/prompts.js";

function cell(dataset: string, task: Cell["task"]): Cell {
  return { dataset: { name: dataset, manifestHash: "" }, task } as Cell;
}

const restoration = (prompt?: string): Cell["task"] => ({
  name: "inpaint",
  kind: "restoration",
  operator: { kind: "inpainting" },
  noise: { kind: "gaussian", sigma: 0.05 },
  ...(prompt === undefined ? {} : { prompt }),
});
const editing = (sourcePrompt: string, targetPrompt: string): Cell["task"] => ({
  name: "edit",
  kind: "editing",
  sourcePrompt,
  targetPrompt,
});

const labels = new Map([
  ["fashion", new Set(["", "dress", "a photo of a dress", "t-shirt"])],
  ["photos", null],
  ["patches", new Set([""])],
]);
const taskIndex = new Map([
  ["inpaint", 0],
  ["edit", 1],
]);

describe("checkPlanPrompts", () => {
  it("accepts table prompts, the empty prompt and no prompt", () => {
    const cells = [
      cell("fashion", restoration()),
      cell("fashion", restoration("")),
      cell("fashion", restoration("dress")),
      cell("fashion", editing("t-shirt", "a photo of a dress")),
    ];
    expect(checkPlanPrompts(cells, labels, taskIndex)).toEqual([]);
  });

  it("rejects a prompt outside the table once per task field", () => {
    const cells = [
      cell("fashion", restoration("a photo of a hat")),
      cell("fashion", restoration("a photo of a hat")),
      cell("fashion", editing("t-shirt", "Dress")),
    ];
    const errors = checkPlanPrompts(cells, labels, taskIndex);
    expect(errors.map((error) => error.path)).toEqual([
      ["tasks", 0, "prompt"],
      ["tasks", 1, "editing", "target"],
    ]);
    expect(errors[0].received).toBe("a photo of a hat");
    expect(errors[1].message).toContain('no label for prompt "Dress"');
    expect(errors[1].hint).toContain('"a photo of a dress"');
  });

  it("rejects any prompt but the empty one on an unconditional model", () => {
    const cells = [cell("patches", restoration("")), cell("patches", editing("a cat", ""))];
    const errors = checkPlanPrompts(cells, labels, taskIndex);
    expect(errors.map((error) => [error.path, error.message])).toEqual([
      [
        ["tasks", 1, "editing", "source"],
        "the model of dataset patches is unconditional and takes only the empty prompt",
      ],
    ]);
  });

  it("leaves models without a label table to the model", () => {
    const cells = [cell("photos", restoration("anything at all"))];
    expect(checkPlanPrompts(cells, labels, taskIndex)).toEqual([]);
  });
});
