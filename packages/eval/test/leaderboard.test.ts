import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import {
  aggregate,
  csvField,
  type Leaderboard,
  parseLeaderboard,
  type ResultRow,
  toCsv,
  toJson,
  toMarkdown,
} from "../src/index.js";
import { result } from "./helpers.js";

function board(): Leaderboard {
  const rows: ResultRow[] = [1, 2, 3, 4].map((psnr, i) => ({
    dataset: "pie-bench",
    task: "edit",
    solver: "flowalign",
    params: { prompt: 'a "red" car, | glossy', zeta: 0.5 },
    metrics: [
      result("psnr", "canonical", psnr),
      result(
        "mse_background",
        "pie-compat",
        i < 2 ? 0.0018 + 0.0002 * i : null,
        i < 2 ? "ok" : "undefined",
      ),
    ],
    nfe: 28,
    seconds: 1.5,
  }));
  rows.push({ dataset: "pie-bench", task: "edit", solver: "sdedit", status: "failed" });
  return aggregate(rows);
}

/** Parses RFC 4180 CSV; written apart from the writer, for the round-trip check. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      fields.push(field);
      field = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      fields.push(field);
      records.push(fields);
      fields = [];
      field = "";
      i++;
    } else field += ch;
  }
  return records;
}

describe("leaderboard formats", () => {
  it("JSON round-trips through the schema", () => {
    const leaderboard = board();
    const text = toJson(leaderboard);
    expect(parseLeaderboard(text)).toEqual(leaderboard);
    expect(JSON.parse(text)).toMatchObject({ schema: "tweedie.leaderboard", version: 1 });
  });

  it("JSON reader rejects other versions and broken documents", () => {
    const json = JSON.parse(toJson(board()));
    expect(() => parseLeaderboard(JSON.stringify({ ...json, version: 2 }))).toThrow(TweedieError);
    delete json.groups[0].metrics["psnr@canonical"].n;
    try {
      parseLeaderboard(JSON.stringify(json), "runs/a/leaderboard.json");
      expect.unreachable();
    } catch (error) {
      expect((error as TweedieError).path).toEqual([
        "runs/a/leaderboard.json",
        "groups",
        0,
        "metrics",
        "psnr@canonical",
        "n",
      ]);
    }
    expect(() => parseLeaderboard("{")).toThrow(/not valid JSON/);
  });

  it("CSV follows RFC 4180 and keeps full precision", () => {
    const leaderboard = board();
    const text = toCsv(leaderboard);
    expect(text.endsWith("\r\n")).toBe(true);
    expect(text.split("\r\n").every((line) => !line.includes("\n"))).toBe(true);
    const [header, first, second] = parseCsv(text);
    expect(header.slice(0, 6)).toEqual([
      "dataset",
      "task",
      "solver",
      "params",
      "rows",
      "failed_rows",
    ]);
    const column = (record: string[], name: string) => record[header.indexOf(name)];
    expect(column(first, "params")).toBe('{"prompt":"a \\"red\\" car, | glossy","zeta":0.5}');
    expect(Number(column(first, "psnr@canonical:mean"))).toBe(2.5);
    const halfWidth = leaderboard.groups[0].metrics["psnr@canonical"].ci95?.halfWidth ?? 0;
    expect(Number(column(first, "psnr@canonical:ci95_high"))).toBe(2.5 + halfWidth);
    expect(column(first, "mse_background@pie-compat:undefined")).toBe("2");
    expect(Number(column(first, "mse_background@pie-compat:mean"))).toBe(
      leaderboard.groups[0].metrics["mse_background@pie-compat"].mean,
    );
    expect(column(second, "solver")).toBe("sdedit");
    expect(column(second, "psnr@canonical:mean")).toBe("");
    expect(column(second, "psnr@canonical:failed")).toBe("1");
  });

  it("quotes CSV fields only when needed", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
  });

  it("Markdown shows mean, CI half-width and counts", () => {
    const text = toMarkdown(board());
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe(
      "| dataset | task | solver | params | rows | mse_background@pie-compat ↓ | psnr@canonical ↑ | NFE | s/image |",
    );
    expect(lines[2]).toContain("2.500 ± 2.054 (n=4)");
    // Backslashes and pipes are escaped, so the JSON text renders unchanged.
    expect(lines[2]).toContain('{"prompt":"a \\\\"red\\\\" car, \\| glossy","zeta":0.5}');
    expect(lines[2]).toContain("0.001900 ± 0.001271 (n=2, 2 undef)");
    expect(lines[3]).toContain("| 1 (1 failed) |");
    expect(lines[3]).toContain("– (n=0, 1 fail)");
    expect(lines.at(-1)).toContain("95% confidence interval");
  });

  it("Markdown column shares its decimals", () => {
    const rows: ResultRow[] = [9.87654, 19.8765].map((psnr, i) => ({
      dataset: "photos",
      task: "sr4",
      solver: `solver-${i}`,
      metrics: [result("psnr", "canonical", psnr)],
      nfe: 10 ** (i + 1),
      seconds: 0.5,
    }));
    const lines = toMarkdown(aggregate(rows)).trimEnd().split("\n");
    // Four significant digits of the largest mean, 19.88, fix two decimals for the column.
    expect(lines[2]).toContain("| 9.88 (n=1) |");
    expect(lines[3]).toContain("| 19.88 (n=1) |");
    // NFE 10 and 100, whole numbers: no decimals (not 10.00 beside 100.0).
    expect(lines[2]).toContain("| 10 |");
    expect(lines[3]).toContain("| 100 |");
  });

  it("Markdown applies display scales only when asked", () => {
    const text = toMarkdown(board(), { scaled: true });
    expect(text).toContain("mse_background@pie-compat ↓ ×1e4");
    expect(text).toContain("19.00 ± 12.71 (n=2, 2 undef)");
    expect(text).toContain("2.500 ± 2.054 (n=4)");
  });
});
