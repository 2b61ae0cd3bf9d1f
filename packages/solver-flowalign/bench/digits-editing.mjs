#!/usr/bin/env node
// Runs the full digits editing benchmark (80 held-out digits of bench/digits-pie) for
// SDEdit, FlowEdit, FlowAlign and DreamSampler on the embedded digits prior. It scores
// edit success (the prior's Bayes classifier probability of the target class), PSNR to
// the source on [0, 1] and reverse-edit PSNR. The runs cover each method's presets, the
// reference settings and the broken variants the tests plant. Writes bench-results/digits-editing.json
// at the repository root and prints the tables as Markdown.
//
// Usage (from the repository root):
//   pnpm exec nx run-many -t build -p @tweedie/core @tweedie/solver-flowalign @tweedie/solver-dreamsampler
//   node packages/solver-flowalign/bench/digits-editing.mjs
//
// DreamSampler lives in its own package; this script loads its build output by path so
// that all four editing methods share one table.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Denoiser, embeddedModelDir, loadModelPackage } from "@tweedie/core";
import {
  DreamSamplerSolver,
  dreamSamplerParamsSchema,
  dreamSamplerPresets,
} from "../../solver-dreamsampler/dist/index.js";
import {
  FlowAlignSolver,
  FlowEditSolver,
  flowAlignParamsSchema,
  flowAlignPresets,
  flowEditParamsSchema,
  flowEditPresets,
  loadDigitsClassifier,
  readDigitsEditingMapping,
  runDigitsEditing,
  SdEditSolver,
  sdEditParamsSchema,
  sdEditPresets,
} from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const SEED = 1;

const flowEdit = (params, faults) => new FlowEditSolver(params, faults);
const flowAlign = (params, faults) => new FlowAlignSolver(params, faults);
const sdEdit = (params) => new SdEditSolver(params);
const dreamSampler = (params) => new DreamSamplerSolver(params);

const presets = {
  sdedit: sdEditParamsSchema.parse(sdEditPresets["sdedit-digits"].params),
  floweditDigits: flowEditParamsSchema.parse(flowEditPresets["flowedit-digits"].params),
  floweditSd3: flowEditParamsSchema.parse(flowEditPresets["flowedit-sd3"].params),
  flowalignDigits: flowAlignParamsSchema.parse(flowAlignPresets["flowalign-digits"].params),
  flowalignSd3: flowAlignParamsSchema.parse(flowAlignPresets["flowalign-sd3"].params),
  dreamsampler: dreamSamplerParamsSchema.parse(dreamSamplerPresets["dreamsampler-digits"].params),
};

/**
 * Every run: a table, a name, the solver and whether to edit back. Broken variants bypass
 * the parameter schemas on purpose (negative weights) or set a fault flag.
 */
const runs = [
  ["presets", "SDEdit digits preset", sdEdit(presets.sdedit), true],
  ["presets", "FlowEdit digits preset", flowEdit(presets.floweditDigits), true],
  ["presets", "FlowAlign digits preset", flowAlign(presets.flowalignDigits), true],
  ["presets", "DreamSampler digits preset", dreamSampler(presets.dreamsampler), false],
  ["reference", "SDEdit t0 0.5, guidance 1", sdEdit({ ...presets.sdedit, cfgScale: 1 }), false],
  [
    "reference",
    "SDEdit t0 0.7, guidance 1",
    sdEdit({ ...presets.sdedit, t0: 0.7, steps: 35, cfgScale: 1 }),
    false,
  ],
  [
    "reference",
    "SDEdit t0 0.9, guidance 1",
    sdEdit({ ...presets.sdedit, t0: 0.9, steps: 45, cfgScale: 1 }),
    false,
  ],
  ["reference", "FlowEdit SD3 preset 3.5 / 13.5", flowEdit(presets.floweditSd3), true],
  [
    "reference",
    "FlowAlign gamma 0 (digits preset otherwise)",
    flowAlign({ ...presets.flowalignDigits, gamma: 0 }),
    true,
  ],
  [
    "reference",
    "FlowAlign gamma 0.05, SD3 grid, guidance 1.5",
    flowAlign({ ...presets.flowalignDigits, shift: 3, gamma: 0.05 }),
    true,
  ],
  [
    "reference",
    "FlowAlign gamma 0.03, SD3 grid, guidance 1.5",
    flowAlign({ ...presets.flowalignDigits, shift: 3 }),
    true,
  ],
  [
    "reference",
    "FlowAlign gamma 0.01, guidance 7.5, no divergence stop",
    flowAlign({ ...presets.flowalignSd3, cfgScale: 7.5, divergenceLimit: 1e30 }),
    true,
  ],
  ["reference", "FlowAlign SD3 preset (guidance 13.5)", flowAlign(presets.flowalignSd3), true],
  [
    "reference",
    "DreamSampler lambda 1",
    dreamSampler({ ...presets.dreamsampler, lambda: 1 }),
    false,
  ],
  [
    "reference",
    "DreamSampler lambda 5",
    dreamSampler({ ...presets.dreamsampler, lambda: 5 }),
    false,
  ],
  [
    "reference",
    "DDIM round trip, empty prompt, 50 steps",
    dreamSampler({ ...presets.dreamsampler, lambda: 0 }),
    false,
  ],
  [
    "reference",
    "DDIM round trip, empty prompt, 200 steps",
    dreamSampler({ ...presets.dreamsampler, steps: 200, lambda: 0 }),
    false,
  ],
  [
    "broken",
    "FlowEdit target guidance flipped",
    flowEdit({ ...presets.floweditDigits, targetCfg: -presets.floweditDigits.targetCfg }),
    false,
  ],
  [
    "broken",
    "FlowEdit SD3 CFG scales swapped",
    flowEdit({ ...presets.floweditSd3, sourceCfg: 13.5, targetCfg: 3.5 }),
    true,
  ],
  [
    "broken",
    "FlowAlign gamma sign flipped",
    flowAlign({ ...presets.flowalignDigits, gamma: -presets.flowalignDigits.gamma }),
    true,
  ],
  [
    "broken",
    "FlowAlign CFG on the source branch",
    flowAlign(presets.flowalignDigits, { cfgOnSourceBranch: true }),
    true,
  ],
  [
    "broken",
    "SDEdit CFG branches swapped",
    sdEdit({ ...presets.sdedit, cfgScale: 1 - presets.sdedit.cfgScale }),
    false,
  ],
  [
    "broken",
    "DreamSampler guidance flipped",
    dreamSampler({ ...presets.dreamsampler, lambda: -presets.dreamsampler.lambda }),
    false,
  ],
];

const model = await loadModelPackage(embeddedModelDir("digits"), { intraOpThreads: 1 });
const denoiser = new Denoiser(model);
const entries = readDigitsEditingMapping(join(here, "digits-pie", "mapping_file.json"));
const classifier = await loadDigitsClassifier();

const results = [];
for (const [table, name, solver, reverse] of runs) {
  const started = performance.now();
  denoiser.resetNfe();
  const { summary, records } = await runDigitsEditing({
    denoiser,
    solver,
    entries,
    classifier,
    seed: SEED,
    reverse,
  });
  results.push({
    table,
    name,
    params: solver.params,
    reverse,
    summary,
    nfePerEntry: denoiser.nfe / entries.length,
    seconds: (performance.now() - started) / 1000,
    records,
  });
  console.error(`${name}: ${JSON.stringify(summary)}`);
}
await model.dispose();

const byName = (name) => results.find((r) => r.name === name).summary;
const gates = [
  ...[
    "SDEdit digits preset",
    "FlowEdit digits preset",
    "FlowAlign digits preset",
    "DreamSampler digits preset",
  ].map((name) => ({
    gate: `${name}: success >= 0.9`,
    value: byName(name).success,
    pass: byName(name).success >= 0.9,
  })),
  {
    gate: "FlowAlign forward PSNR - gamma 0 >= 3 dB",
    value:
      byName("FlowAlign digits preset").forwardPsnr -
      byName("FlowAlign gamma 0 (digits preset otherwise)").forwardPsnr,
  },
  {
    gate: "FlowAlign reverse-edit PSNR >= 21 dB",
    value: byName("FlowAlign digits preset").reversePsnr,
  },
  {
    gate: "FlowEdit reverse-edit PSNR >= 17 dB",
    value: byName("FlowEdit digits preset").reversePsnr,
  },
  {
    gate: "DDIM round trip (50 steps) >= 22 dB",
    value: byName("DDIM round trip, empty prompt, 50 steps").forwardPsnr,
  },
].map((g) => ({ ...g, pass: g.pass ?? g.value >= Number(g.gate.match(/>= ([\d.]+)/)[1]) }));

let commit = null;
try {
  commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo, encoding: "utf8" }).trim();
} catch {
  // Outside a git checkout the record simply has no commit.
}
const output = {
  benchmark: "digits-editing",
  commit,
  node: process.version,
  entries: entries.length,
  seed: SEED,
  gates,
  results,
};
mkdirSync(join(repo, "bench-results"), { recursive: true });
const path = join(repo, "bench-results", "digits-editing.json");
writeFileSync(path, `${JSON.stringify(output, null, 2)}\n`);

const number = (v, digits) => (v === null || Number.isNaN(v) ? "-" : v.toFixed(digits));
for (const table of ["presets", "reference", "broken"]) {
  console.log(`\n### ${table}\n`);
  console.log("| run | success | PSNR to source | reverse-edit PSNR | diverged | NFE per entry |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of results.filter((x) => x.table === table)) {
    const s = r.summary;
    // A round trip has no target class, so its success column is empty.
    const success = r.name.startsWith("DDIM round trip") ? "-" : number(s.success, 2);
    console.log(
      `| ${r.name} | ${success} | ${number(s.forwardPsnr, 1)} | ${r.reverse ? number(s.reversePsnr, 1) : "-"} | ${s.diverged} of ${s.count} | ${Math.round(r.nfePerEntry)} |`,
    );
  }
}
console.log("\n### gates\n");
for (const g of gates)
  console.log(`- ${g.pass ? "pass" : "FAIL"}: ${g.gate} (${g.value.toFixed(2)})`);
console.log(`\nwrote ${path}`);
process.exitCode = gates.every((g) => g.pass) ? 0 : 1;
