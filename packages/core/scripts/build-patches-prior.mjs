#!/usr/bin/env node
// Builds, checks or compares the embedded patches prior from data/samples, using the
// compiled package (run `pnpm exec tsc -b` in packages/core first).
//   node scripts/build-patches-prior.mjs                  fit and write assets/priors/patches
//   node scripts/build-patches-prior.mjs --check          refit and compare with the committed package
//   node scripts/build-patches-prior.mjs --select 1,8,32  fit each K and print held-out scores
// --threads N sets onnxruntime's intra-op threads (default: onnxruntime's choice).
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildPatchesPrior,
  checkPatchesPrior,
  evaluatePatchesPrior,
  fitPatchesPrior,
  PATCHES_FIT_SETTINGS,
  patchPriorParams,
  readPatchesSamples,
} from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = resolve(here, "../../../data/samples");
const outDir = resolve(here, "../assets/priors/patches");
const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at < 0 ? undefined : args[at + 1];
};
const threads = option("--threads");
const session = threads === undefined ? {} : { intraOpThreads: Number(threads) };
const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
const onIteration = (p) =>
  console.error(`${seconds()} s  ${p.stage} ${p.iteration}: ${p.objective.toFixed(4)}`);

if (args.includes("--check")) {
  const check = await checkPatchesPrior({ dataDir, modelDir: outDir, session, onIteration });
  console.log(JSON.stringify(check, null, 2));
  process.exitCode = check.ok ? 0 : 1;
} else if (args.includes("--select")) {
  const list = (option("--select") ?? "1,8,16,32").split(",").map(Number);
  const samples = readPatchesSamples(dataDir);
  const rows = [];
  for (const components of list) {
    const fitStart = performance.now();
    const settings = { ...PATCHES_FIT_SETTINGS, components };
    const { fit, patches } = await fitPatchesPrior(samples, settings, { session, onIteration });
    const fitSeconds = (performance.now() - fitStart) / 1000;
    const evaluation = await evaluatePatchesPrior(patchPriorParams(fit), samples, patches, session);
    rows.push({ components, fitSeconds, logLikelihoods: fit.logLikelihoods, evaluation });
    console.error(JSON.stringify(rows.at(-1)));
  }
  const output = option("--output");
  if (output !== undefined) writeFileSync(output, `${JSON.stringify(rows, null, 2)}\n`);
  console.log(
    "| K | held-out log-likelihood (nats per patch) | train log-likelihood | PSNR gain, stride 4 (dB) | stride 8 (dB) | fit time (s) |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const { components, fitSeconds, evaluation: e } of rows) {
    console.log(
      `| ${components} | ${e.heldoutLogLikelihood.toFixed(2)} | ${e.trainLogLikelihood.toFixed(2)} | ${e.meanGainStride4.toFixed(2)} | ${e.meanGainStride8.toFixed(2)} | ${fitSeconds.toFixed(0)} |`,
    );
  }
} else {
  const { record } = await buildPatchesPrior({ dataDir, outDir, session, onIteration });
  console.log(`wrote ${outDir} in ${seconds()} s`);
  console.log(JSON.stringify(record.evaluation, null, 2));
}
