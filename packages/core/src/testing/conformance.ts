import type { Problem, Solver, SolverPlugin, StepInfo } from "../contracts/solver.js";
import { Denoiser } from "../denoiser.js";
import { TweedieError } from "../errors.js";
import { sampleMixture } from "../priors/gmm.js";
import { createRng } from "../rng.js";
import { Tensor } from "../tensor.js";
import { benchmarkDirections, createGmmProblem } from "./gmm-benchmark.js";
import { GmmModel } from "./gmm-model.js";
import { slicedWasserstein } from "./sliced-wasserstein.js";

/**
 * The conformance suite every solver plugin passes. It returns named cases instead of
 * registering tests, so core needs no test runner; a plugin's test file runs each case:
 *   for (const c of conformanceCases(plugin, options)) it(c.name, c.run, c.timeout);
 * The suite never branches on a concrete plugin: what differs between plugins comes in
 * through `options` (a problem factory, and the parameters that switch guidance off).
 */
export interface ConformanceOptions {
  /** Parameters small enough for a fast test (few steps); merged over the schema defaults. */
  fastParams: Record<string, unknown>;
  /** Parameters that switch every guidance term off, so the solver samples its prior. */
  unguidedParams?: Record<string, unknown>;
  /** A problem for the plugin's task; default: an exact Gaussian-mixture restoration (d = 8). */
  problem?: () => Problem;
  /** Prior samples for the unguided check, as rows of `dim` values; required with a custom problem. */
  priorSamples?: (count: number) => Float64Array;
  /** Largest SW ratio to the noise floor for the unguided run; default 2. */
  unguidedMaxRatio?: number;
  /** Samples drawn for the unguided check; default 600. */
  unguidedSamples?: number;
  /** False for solvers with no random draw (baselines); skips the different-seed check. */
  stochastic?: boolean;
}

export interface ConformanceCase {
  name: string;
  run: () => Promise<void>;
  /** Milliseconds. */
  timeout: number;
}

function fail(message: string, expected?: unknown, received?: unknown): never {
  throw new TweedieError(message, { code: "invalid_value", expected, received });
}

function defaultProblem(): Problem {
  const problem = createGmmProblem({ dim: 8, dy: 2, sigmaY: 0.1, seed: 7 });
  return {
    kind: "restoration",
    denoiser: new Denoiser(new GmmModel(problem.mixture)),
    operator: problem.operator,
    y: new Tensor(Float32Array.from(problem.y), [1, 2, 1, 1]),
    sigmaY: 0.1,
    shape: problem.operator.inputShape,
  };
}

function problemShape(problem: Problem): readonly number[] {
  return problem.kind === "restoration" ? problem.shape : problem.source.shape.slice(1);
}

/** Deep equality of plain JSON values. */
function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

export function conformanceCases(
  plugin: SolverPlugin,
  options: ConformanceOptions,
): ConformanceCase[] {
  const makeProblem = options.problem ?? defaultProblem;
  const create = (extra: Record<string, unknown> = {}): Solver =>
    plugin.create(plugin.paramsSchema.parse({ ...options.fastParams, ...extra }));
  const cases: ConformanceCase[] = [
    {
      name: "params round-trip through JSON",
      timeout: 10_000,
      run: async () => {
        const parsed = plugin.paramsSchema.parse({ ...options.fastParams });
        const again = plugin.paramsSchema.parse(JSON.parse(JSON.stringify(parsed)));
        if (!jsonEqual(parsed, again)) fail("params change after a JSON round trip", parsed, again);
        const defaults = plugin.paramsSchema.parse({});
        if (!jsonEqual(defaults, plugin.paramsSchema.parse(JSON.parse(JSON.stringify(defaults)))))
          fail("default params change after a JSON round trip");
      },
    },
    {
      name: "presets parse and name a source",
      timeout: 10_000,
      run: async () => {
        for (const [name, preset] of Object.entries(plugin.presets)) {
          if (!preset.source || preset.source.length < 8)
            fail(`preset ${name} names no source`, "a source", preset.source);
          const parsed = plugin.paramsSchema.safeParse(preset.params);
          if (!parsed.success)
            fail(`preset ${name} does not parse`, "valid params", parsed.error.issues[0]?.message);
        }
      },
    },
    {
      name: "unknown parameters are rejected",
      timeout: 10_000,
      run: async () => {
        if (plugin.paramsSchema.safeParse({ definitelyNotAParameter: 1 }).success)
          fail("an unknown parameter was accepted");
      },
    },
    {
      name: "output has the problem's shape and is finite",
      timeout: 60_000,
      run: async () => {
        const problem = makeProblem();
        const result = await create().solve(problem, createRng(1));
        const expected = [result.x.batch, ...problemShape(problem)];
        if (result.x.shape.join(",") !== expected.join(","))
          fail("output shape differs from the problem's", expected, result.x.shape);
        if (!result.x.isFinite()) fail("output has non-finite values");
        if (!(result.nfe >= 0)) fail("nfe must be a non-negative number", ">= 0", result.nfe);
      },
    },
    {
      name: "same seed gives identical output",
      timeout: 60_000,
      run: async () => {
        const first = await create().solve(makeProblem(), createRng(3));
        const second = await create().solve(makeProblem(), createRng(3));
        if (!first.x.data.every((v, i) => Object.is(v, second.x.data[i])))
          fail("two runs with one seed differ");
        if (options.stochastic !== false) {
          const other = await create().solve(makeProblem(), createRng(4));
          if (first.x.data.every((v, i) => v === other.x.data[i]))
            fail("two seeds gave identical output");
        }
      },
    },
    {
      name: "progress payload is the same for every step",
      timeout: 60_000,
      run: async () => {
        const problem = makeProblem();
        const steps: StepInfo[] = [];
        await create().solve(problem, createRng(5), { onStep: (info) => steps.push(info) });
        if (options.stochastic === false && steps.length === 0) return;
        if (steps.length === 0) fail("onStep was never called");
        steps.forEach((info, index) => {
          if (info.step !== index + 1) fail("steps must count 1, 2, 3, ...", index + 1, info.step);
          if (info.totalSteps < info.step)
            fail("step exceeds totalSteps", `<= ${info.totalSteps}`, info.step);
          if (!(info.t >= 0 && info.t <= 1)) fail("t must lie in [0, 1]", "[0, 1]", info.t);
          if (index > 0 && info.nfe < steps[index - 1].nfe) fail("nfe must not decrease");
          if (!(info.x0Hat instanceof Tensor)) fail("x0Hat must be a Tensor");
        });
      },
    },
    {
      name: "cancellation stops between steps",
      timeout: 60_000,
      run: async () => {
        if (options.stochastic === false) return;
        const controller = new AbortController();
        let calls = 0;
        try {
          await create().solve(makeProblem(), createRng(6), {
            signal: controller.signal,
            onStep: () => {
              calls++;
              controller.abort();
            },
          });
        } catch (error) {
          if (error instanceof TweedieError && error.code === "cancelled") {
            if (calls !== 1) fail("the solver kept stepping after cancellation", 1, calls);
            return;
          }
          throw error;
        }
        fail("an aborted solve finished instead of rejecting with code cancelled");
      },
    },
  ];
  if (options.unguidedParams) {
    const unguided = options.unguidedParams;
    cases.push({
      name: "unguided run reproduces the prior",
      timeout: 120_000,
      run: async () => {
        const count = options.unguidedSamples ?? 600;
        const problem = makeProblem();
        let prior: (n: number, seed: number) => Float64Array;
        if (options.priorSamples) {
          const sampler = options.priorSamples;
          prior = (n) => sampler(n);
        } else {
          const gmm = createGmmProblem({ dim: 8, dy: 2, sigmaY: 0.1, seed: 7 });
          prior = (n, seed) => sampleMixture(gmm.mixture, n, createRng(seed)).samples;
        }
        const samplesParam = "samples" in plugin.paramsSchema.parse({}) ? { samples: count } : {};
        const result = await create({ ...unguided, ...samplesParam }).solve(problem, createRng(8));
        const dim = result.x.size / result.x.batch;
        const method = Float64Array.from(result.x.data);
        const n = result.x.batch;
        const directions = benchmarkDirections(dim, 200);
        const distance = slicedWasserstein(method, prior(n, 101), dim, directions);
        const floor = slicedWasserstein(prior(n, 102), prior(n, 101), dim, directions);
        const ratio = distance / floor;
        const limit = options.unguidedMaxRatio ?? 2;
        if (!(ratio <= limit))
          fail(
            "unguided samples are far from the prior (sliced Wasserstein ratio to the noise floor)",
            `<= ${limit}`,
            Number(ratio.toFixed(3)),
          );
      },
    });
  }
  return cases;
}
