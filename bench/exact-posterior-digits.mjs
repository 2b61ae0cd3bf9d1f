// DPS and FlowDPS against the exact posterior of the embedded digits prior. The prior is a
// Gaussian mixture (one full-covariance Gaussian per class), the operators are linear and
// the noise is Gaussian, so p(x | y) is a Gaussian mixture in closed form. Each method
// draws `samples` posterior samples for one measurement of each of `digits` held-out
// digits, for box inpainting and SR x2 (average pooling), with sigmaY 0.05 on [-1, 1] as
// in examples/demo.yaml. The ratio is SW1(method, exact) / SW1(exact', exact), the metric
// of the exact-posterior GMM benchmark (500 fixed random directions).
//
// Writes bench-results/exact-posterior-digits.json and .md (the table), and prints the table.
//
//   pnpm exec nx run-many -t build -p @tweedie/core @tweedie/operators @tweedie/solver-dps @tweedie/solver-flowdps
//   node bench/exact-posterior-digits.mjs [--samples 500] [--digits 8] [--first 0]
//     [--methods all|ID,...] [--out FILE]
//
// --methods picks rows by id: exact, prior, dps-demo, dps-tuned, dps-flipped, dps-unguided,
// dps-unguided-noclip, flowdps-official, flowdps-projected, flowdps-tuned, flowdps-proximal,
// flowdps-flipped, flowdps-unguided, flowdps-unguided-100, flowdps-unguided-shift1,
// flowdps-unguided-shift1-200, flowdps-unguided-200 and dps-unguided-noclip-200.
// The table's last lines need "exact".
// --first picks the first held-out digit (held-out row index, 0-based). The tuned settings
// were chosen on held-out digits 8 to 11, so the default digits 0 to 7 did not tune them.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createRng,
  Denoiser,
  digitsMixture,
  digitsSplit,
  embeddedModelDir,
  loadDigitsPrior,
  loadModelPackage,
  readDigitsFile,
  sampleMixture,
} from "../packages/core/dist/index.js";
import {
  createImagePosteriorProblem,
  scoreImagePosteriorSamples,
  solveImagePosterior,
} from "../packages/core/dist/testing/index.js";
import { buildOperator } from "../packages/operators/dist/index.js";
import { DpsSolver, dpsParamsSchema } from "../packages/solver-dps/dist/index.js";
import { FlowDpsSolver, flowDpsParamsSchema } from "../packages/solver-flowdps/dist/index.js";
import { benchOptions, environment, median, REPO_ROOT, writeResult } from "./lib/common.mjs";

const options = benchOptions(process.argv.slice(2), {
  samples: 500,
  digits: 8,
  first: 0,
  methods: "all",
  out: join(REPO_ROOT, "bench-results/exact-posterior-digits.json"),
});
const selected = options.methods === "all" ? undefined : options.methods.split(",");

const SIGMA_Y = 0.05;
const DIGITS_NULL_LABEL = 10;
const IMAGE_SHAPE = [1, 8, 8];

const TASKS = {
  "digits-inpaint": { kind: "inpainting", pattern: "box", placement: "centred" },
  "digits-sr2": { kind: "sr-avgpool", scale: 2 },
};

/** examples/demo.yaml's digits settings, written out so that preset edits do not move them. */
const DPS_DEMO = { steps: 100, zeta: 1 };
/** The flowdps-embedded preset's values with stepSize 1: the official norm step. */
const FLOWDPS_DEMO = { steps: 50, shift: 4, baseShift: 3, innerSteps: 3, stepSize: 1, cfgScale: 1 };

const dps = (params) =>
  new DpsSolver(dpsParamsSchema.parse({ ...params, samples: options.samples }));
const flowDps = (params) =>
  new FlowDpsSolver(flowDpsParamsSchema.parse({ ...params, samples: options.samples }));

/**
 * The methods: [id, name, settings text, solver or "prior"/"exact", target]. Sign-flipped
 * variants bypass the schemas on purpose (a negative step size) to show that the ratio
 * catches a broken guidance. Unguided runs are scored against the prior.
 */
const METHODS = [
  ["exact", "exact posterior", "independent exact samples", "exact", "posterior"],
  ["prior", "prior samples", "samples of the unconditional prior", "prior", "posterior"],
  ["dps-demo", "DPS demo", "steps 100, zeta 1", () => dps(DPS_DEMO), "posterior"],
  [
    "dps-tuned",
    "DPS tuned",
    "steps 250, zeta 0.4, clipX0 false",
    () => dps({ steps: 250, zeta: 0.4, clipX0: false }),
    "posterior",
  ],
  [
    "dps-flipped",
    "DPS sign-flipped",
    "steps 100, zeta -1",
    () =>
      new DpsSolver({
        ...dpsParamsSchema.parse({ ...DPS_DEMO, samples: options.samples }),
        zeta: -1,
      }),
    "posterior",
  ],
  [
    "dps-unguided",
    "DPS unguided (vs prior)",
    "steps 100, zeta 0",
    () => dps({ ...DPS_DEMO, zeta: 0 }),
    "prior",
  ],
  [
    "dps-unguided-noclip",
    "DPS unguided (vs prior)",
    "steps 100, zeta 0, clipX0 false",
    () => dps({ ...DPS_DEMO, zeta: 0, clipX0: false }),
    "prior",
  ],
  [
    "flowdps-official",
    "FlowDPS official step",
    "flowdps-embedded, stepSize 1",
    () => flowDps(FLOWDPS_DEMO),
    "posterior",
  ],
  [
    "flowdps-projected",
    "FlowDPS projected",
    "flowdps-embedded, stepSize 1, finalProjection",
    () => flowDps({ ...FLOWDPS_DEMO, finalProjection: true }),
    "posterior",
  ],
  [
    "flowdps-tuned",
    "FlowDPS tuned",
    "flowdps-embedded, steps 100, stepSize 7",
    () => flowDps({ ...FLOWDPS_DEMO, steps: 100, stepSize: 7 }),
    "posterior",
  ],
  [
    "flowdps-proximal",
    "FlowDPS proximal",
    "flowdps-embedded-proximal (proximal data step, weight 0.5, shift 1)",
    () =>
      flowDps({
        steps: 50,
        shift: 1,
        baseShift: 3,
        innerStep: "proximal",
        proximalWeight: 0.5,
        cfgScale: 1,
      }),
    "posterior",
  ],
  [
    "flowdps-flipped",
    "FlowDPS sign-flipped",
    "flowdps-embedded, stepSize -1",
    () =>
      new FlowDpsSolver({
        ...flowDpsParamsSchema.parse({ ...FLOWDPS_DEMO, samples: options.samples }),
        stepSize: -1,
      }),
    "posterior",
  ],
  [
    "flowdps-unguided",
    "FlowDPS unguided (vs prior)",
    "flowdps-embedded, stepSize 0",
    () => flowDps({ ...FLOWDPS_DEMO, stepSize: 0 }),
    "prior",
  ],
  [
    "flowdps-unguided-100",
    "FlowDPS unguided (vs prior)",
    "flowdps-embedded, steps 100, stepSize 0",
    () => flowDps({ ...FLOWDPS_DEMO, steps: 100, stepSize: 0 }),
    "prior",
  ],
  // Grid and step-count checks of the unguided FlowDPS bias (docs/exact-posterior.md).
  [
    "flowdps-unguided-shift1",
    "FlowDPS unguided (vs prior)",
    "shift 1, baseShift 1, stepSize 0",
    () => flowDps({ ...FLOWDPS_DEMO, shift: 1, baseShift: 1, stepSize: 0 }),
    "prior",
  ],
  [
    "flowdps-unguided-shift1-200",
    "FlowDPS unguided (vs prior)",
    "steps 200, shift 1, baseShift 1, stepSize 0",
    () => flowDps({ ...FLOWDPS_DEMO, steps: 200, shift: 1, baseShift: 1, stepSize: 0 }),
    "prior",
  ],
  [
    "flowdps-unguided-200",
    "FlowDPS unguided (vs prior)",
    "flowdps-embedded, steps 200, stepSize 0",
    () => flowDps({ ...FLOWDPS_DEMO, steps: 200, stepSize: 0 }),
    "prior",
  ],
  [
    "dps-unguided-noclip-200",
    "DPS unguided (vs prior)",
    "steps 200, zeta 0, clipX0 false",
    () => dps({ ...DPS_DEMO, steps: 200, zeta: 0, clipX0: false }),
    "prior",
  ],
];

const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length;
const fixed = (value, digits = 2) => value.toFixed(digits);

async function main() {
  const file = readDigitsFile(join(REPO_ROOT, "data/digits/digits.csv.gz"));
  const heldOut = digitsSplit(file.count).heldOut;
  const rows = Array.from(heldOut.subarray(options.first, options.first + options.digits));
  const { prior } = await loadDigitsPrior();
  const mixture = digitsMixture(prior, DIGITS_NULL_LABEL);
  const model = await loadModelPackage(embeddedModelDir("digits"), {
    intraOpThreads: 1,
    // Hundreds of samples share one batch here and only their distribution is compared,
    // so batched runs are kept: item runs would double the time.
    itemRuns: false,
  });
  const denoiser = new Denoiser(model);

  const results = [];
  for (const [task, spec] of Object.entries(TASKS)) {
    const operator = buildOperator(spec, { imageShape: IMAGE_SHAPE });
    const problems = rows.map((row) =>
      createImagePosteriorProblem({
        prior: mixture,
        x0: file.images.subarray(row * 64, (row + 1) * 64),
        shape: IMAGE_SHAPE,
        operator,
        sigmaY: SIGMA_Y,
        seed: `digits-row-${row}`,
      }),
    );
    for (const [id, method, settings, make, target] of METHODS) {
      if (selected !== undefined && !selected.includes(id)) continue;
      const started = performance.now();
      const perDigit = [];
      for (const [index, problem] of problems.entries()) {
        const rng = createRng(`exact-posterior-digits/${task}`).split("row", rows[index]);
        let samples;
        let nfe = 0;
        if (make === "exact") {
          samples = sampleMixture(problem.posterior, options.samples, rng.split("exact")).samples;
        } else if (make === "prior") {
          samples = sampleMixture(mixture, options.samples, rng.split("prior")).samples;
        } else {
          ({ samples, nfe } = await solveImagePosterior(
            problem,
            make(),
            denoiser,
            options.samples,
            rng.split("solver"),
          ));
        }
        const score = scoreImagePosteriorSamples(problem, samples, { target });
        perDigit.push({ row: rows[index], label: file.labels[rows[index]], nfe, ...score });
      }
      const ratios = perDigit.map((entry) => entry.ratio);
      const result = {
        task,
        id,
        method,
        settings,
        target,
        medianRatio: median(ratios),
        minRatio: Math.min(...ratios),
        maxRatio: Math.max(...ratios),
        meanPsnr: mean(perDigit.map((entry) => entry.meanPsnr)),
        floorMeanPsnr: mean(perDigit.map((entry) => entry.floorMeanPsnr)),
        consistency: mean(perDigit.map((entry) => entry.consistency)),
        exactConsistency: mean(perDigit.map((entry) => entry.exactConsistency)),
        nfePerSample: perDigit[0].nfe / options.samples,
        seconds: (performance.now() - started) / 1000,
        perDigit,
      };
      results.push(result);
      console.log(
        `${task} ${method}: ratio ${fixed(result.medianRatio)} [${fixed(result.minRatio)}-${fixed(result.maxRatio)}], ` +
          `mean PSNR ${fixed(result.meanPsnr, 1)} dB, consistency ${fixed(result.consistency)} (${fixed(result.seconds, 0)} s)`,
      );
    }
  }
  await model.dispose();

  const table = [
    "| task | method | settings | SW ratio, median [min-max] | mean PSNR (dB) | data consistency |",
    "| --- | --- | --- | --- | --- | --- |",
    ...results.map(
      (r) =>
        `| ${r.task} | ${r.method} | ${r.settings} | ${fixed(r.medianRatio)} [${fixed(r.minRatio)}-${fixed(r.maxRatio)}] | ` +
        `${fixed(r.meanPsnr, 1)} | ${r.target === "prior" ? "-" : fixed(r.consistency)} |`,
    ),
  ].join("\n");
  const floors = Object.keys(TASKS).flatMap((task) => {
    const exact = results.find((r) => r.task === task && r.id === "exact");
    if (exact === undefined) return [];
    return `${task}: exact-set mean PSNR ${fixed(exact.floorMeanPsnr, 1)} dB, exact consistency ${fixed(exact.exactConsistency)}`;
  });
  const command =
    `node bench/exact-posterior-digits.mjs --samples ${options.samples} --digits ${options.digits} ` +
    `--first ${options.first} --methods ${options.methods}`;
  const env = environment();
  const markdown = [
    `Command: \`${command}\``,
    `Machine: ${env.cpu}, ${env.cores} cores, ${env.os}, Node ${env.node}, onnxruntime-node ${env.onnxruntimeNode}, commit ${env.commit}, ${env.date}`,
    `Held-out rows: ${rows.join(", ")} (labels ${rows.map((row) => file.labels[row]).join(", ")}); ${options.samples} samples per digit`,
    "",
    table,
    "",
    ...floors,
    "",
  ].join("\n");
  console.log(`\n${markdown}`);
  writeResult(options.out, {
    name: "exact-posterior-digits",
    environment: env,
    command,
    sigmaY: SIGMA_Y,
    samples: options.samples,
    rows,
    labels: rows.map((row) => file.labels[row]),
    results,
  });
  const markdownPath = options.out.replace(/\.json$/, ".md");
  writeFileSync(markdownPath, markdown);
  console.log(`wrote ${markdownPath}`);
}

await main();
