import type { Comparison, MissingEntry, RegressionReport } from "./compare.js";

/**
 * Renders a regression report as Markdown: a verdict line, then one table of drops and
 * lists of missing rows, columns, lost values and convention changes. Improvements and
 * comparisons within tolerance are counted, not listed.
 */
export function regressionToMarkdown(report: RegressionReport): string {
  const lines = [
    report.passed ? "**Regression check passed.**" : "**Regression check failed.**",
    "",
    `${report.drops.length} drops, ${report.improvements.length} improvements, ` +
      `${report.within.length} within tolerance, ${report.missingInCurrent.length} missing in the current run, ` +
      `${report.lostValues.length} lost values, ${report.fewerRows.length} rows with fewer done cells, ` +
      `${report.dataChanges.length} data changes, ${report.conventionChanges.length} convention changes.`,
  ];
  if (report.drops.length > 0) {
    lines.push(
      "",
      "| row | column | baseline | current | worse by | allowed | n |",
      "| --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const drop of report.drops) lines.push(dropRow(drop));
  }
  section(lines, "Missing in the current run", report.missingInCurrent);
  section(lines, "Only in the current run", report.missingInBaseline);
  section(lines, "Values lost", report.lostValues);
  section(lines, "Fewer done cells", report.fewerRows);
  if (report.dataChanges.length > 0) {
    lines.push("", "Data changes (rows compare different images):", "");
    for (const change of report.dataChanges) {
      lines.push(
        `- ${escapeCell(change.dataset)}: content hash ${change.baseline.map(short).join(", ")} in the baseline, ${change.current.map(short).join(", ")} now`,
      );
    }
  }
  if (report.conventionChanges.length > 0) {
    lines.push("", "Convention changes (not compared):", "");
    for (const change of report.conventionChanges) lines.push(`- ${escapeCell(change.column)}`);
  }
  return `${lines.join("\n")}\n`;
}

function dropRow(drop: Comparison): string {
  const cells = [
    drop.groupId,
    drop.column,
    String(drop.baseline),
    String(drop.current),
    String(drop.worsening),
    String(drop.allowed),
    `${drop.n.baseline} -> ${drop.n.current}`,
  ];
  return `| ${cells.map(escapeCell).join(" | ")} |`;
}

function section(lines: string[], title: string, entries: readonly MissingEntry[]): void {
  if (entries.length === 0) return;
  lines.push("", `${title}:`, "");
  for (const entry of entries) {
    const where = entry.column === null ? entry.groupId : `${entry.groupId} ${entry.column}`;
    lines.push(`- ${escapeCell(where)}: ${escapeCell(entry.reason)}`);
  }
}

function short(hash: string): string {
  return hash.slice(0, 12);
}

function escapeCell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}
