#!/usr/bin/env node
// Builds, checks or re-selects the embedded digits prior from data/digits, using the
// compiled package (run `pnpm exec tsc -b` in packages/core first).
//   node scripts/build-digits-prior.mjs            fit and write assets/priors/digits
//   node scripts/build-digits-prior.mjs --check    refit and compare with the committed package
//   node scripts/build-digits-prior.mjs --select   print the cross-validation table
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildDigitsPrior,
  checkDigitsPrior,
  crossValidateDigits,
  DIGITS_DATA_FILE,
  DIGITS_FIT_SETTINGS,
  digitsSplit,
  readDigitsFile,
  selectDigits,
} from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = resolve(here, "../../../data/digits");
const outDir = resolve(here, "../assets/priors/digits");
const mode = process.argv[2] ?? "--build";

if (mode === "--build") {
  const { record } = await buildDigitsPrior({ dataDir, outDir });
  console.log(`wrote ${outDir}`);
  console.log(JSON.stringify(record.evaluation, null, 2));
} else if (mode === "--check") {
  const check = await checkDigitsPrior({ dataDir, modelDir: outDir });
  console.log(JSON.stringify(check, null, 2));
  process.exitCode = check.ok ? 0 : 1;
} else if (mode === "--select") {
  const file = readDigitsFile(join(dataDir, DIGITS_DATA_FILE));
  const train = selectDigits(file, digitsSplit(file.count).train);
  const grid = [];
  for (const componentsPerClass of [1, 2, 3]) {
    for (const covarianceFloor of [1e-3, 2e-3, 3e-3, 5e-3, 1e-2])
      grid.push({ componentsPerClass, covarianceFloor });
  }
  console.log(
    "| components per class | covariance floor | 4-fold CV log-likelihood (nats per image) |",
  );
  console.log("| --- | --- | --- |");
  for (const score of crossValidateDigits(train, grid, DIGITS_FIT_SETTINGS)) {
    console.log(
      `| ${score.componentsPerClass} | ${score.covarianceFloor} | ${score.logLikelihood.toFixed(2)} |`,
    );
  }
} else {
  console.error(`unknown option ${mode}; expected --build, --check or --select`);
  process.exitCode = 2;
}
