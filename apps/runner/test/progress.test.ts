import { describe, expect, it } from "vitest";
import { formatDuration, Progress } from "../src/exec/progress.js";

function capture(isTTY: boolean) {
  const lines: string[] = [];
  return { sink: { isTTY, write: (text: string) => lines.push(text) }, lines };
}

describe("Progress", () => {
  it("writes one JSON object per event with running counts", () => {
    const { sink, lines } = capture(false);
    let clock = 0;
    const progress = new Progress(sink, "json", () => clock);
    progress.report({ type: "start", total: 3 });
    clock = 1000;
    progress.report({ type: "cell-done", cellId: "a" });
    progress.report({ type: "cell-failed", cellId: "b", message: "non-finite x0Hat" });
    const last = JSON.parse(lines.at(-1) ?? "{}");
    expect(last).toMatchObject({ type: "cell-failed", cellId: "b", done: 1, failed: 1, total: 3 });
  });

  it("prints failures as plain lines with the cell and the error", () => {
    const { sink, lines } = capture(false);
    const progress = new Progress(sink, "plain", () => 0);
    progress.report({ type: "start", total: 2 });
    progress.report({
      type: "cell-failed",
      label: "digits/0007 dps",
      message: "diverged at step 12",
    });
    expect(lines).toContain("failed digits/0007 dps: diverged at step 12\n");
    expect(lines[0]).toMatch(/^0\/2 cells/);
  });

  it("formats durations", () => {
    expect(formatDuration(42)).toBe("42s");
    expect(formatDuration(125)).toBe("2m05s");
    expect(formatDuration(7260)).toBe("2h01m");
  });
});
