import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkTarball,
  packPackage,
  readTarball,
  WORKSPACE_ROOT,
  workspacePackages,
} from "../../../../tests/pack/check-packages.mjs";

/**
 * The published packages must work without the workspace: packed by `pnpm pack`, installed
 * by npm into an empty folder outside the repository, and used from a plain ESM script.
 */

const PACKED = ["core", "operators", "solver-dps"] as const;
const DIGITS_FILE = join(WORKSPACE_ROOT, "data", "digits", "digits.csv.gz");

/**
 * DPS on the embedded digits prior, as a user would write it. DPS samples on a DDPM grid,
 * and the digits prior declares a rectified flow but is exact at any (alpha, sigma): the
 * wrapper feeds x / (alpha + sigma), which lies on the flow path at t = sigma / (alpha + sigma).
 */
const SCRIPT = `import { createRng, createSchedule, Denoiser, digitsSplit, embeddedModelDir, loadModelPackage, readDigitsFile, scale, Tensor } from "@tweedie/core";
import { buildOperator, measure, noiseRng } from "@tweedie/operators";
import { dpsPlugin } from "@tweedie/solver-dps";

const digits = readDigitsFile(process.argv[2]);
const row = digitsSplit(digits.count).heldOut[0];
const truth = new Tensor(Float32Array.from(digits.images.subarray(row * 64, row * 64 + 64)), [1, 1, 8, 8]);
const prior = await loadModelPackage(embeddedModelDir("digits"));
const vp = createSchedule({ kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 });
const model = { info: { ...prior.info, schedule: vp.spec, hasVjp: false }, condition: (p, n) => prior.condition(p, n), dispose: () => prior.dispose(),
  predict: (x, t, cond) => { const k = vp.alpha(t) + vp.sigma(t); return prior.predict(scale(x, 1 / k), vp.sigma(t) / k, cond); } };
const op = buildOperator({ kind: "sr-avgpool", scale: 2 }, { imageShape: [1, 8, 8] });
const { y } = measure(op, truth, { kind: "gaussian", sigma: 0.05, range: "[-1,1]" }, noiseRng(0, "row-" + row));
const dps = dpsPlugin.create(dpsPlugin.paramsSchema.parse({ steps: 20, zeta: 1 }));
const result = await dps.solve({ kind: "restoration", denoiser: new Denoiser(model), operator: op, y, sigmaY: 0.05, shape: [1, 8, 8] }, createRng(0));
const mse = (values) => values.reduce((sum, v, i) => sum + (v - truth.data[i]) ** 2, 0) / values.length;
console.log(JSON.stringify({ core: import.meta.resolve("@tweedie/core"), row, shape: result.x.shape, finite: result.x.isFinite(), mse: mse(result.x.data), mseZero: mse(new Float32Array(64)), nfe: result.nfe, gradient: result.diagnostics.gradientMode }));
await model.dispose();
`;

interface ScriptOutput {
  core: string;
  row: number;
  shape: number[];
  finite: boolean;
  mse: number;
  mseZero: number;
  nfe: number;
  gradient: string;
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, CI: "1" },
  });
  expect(
    result.status,
    `${command} ${args.join(" ")} in ${cwd}\n${result.stdout}\n${result.stderr}`,
  ).toBe(0);
  return result.stdout;
}

const workspace = workspacePackages();
const tarballs = new Map<string, string>();
const temporary: string[] = [];

async function tempFolder(prefix: string): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  temporary.push(dir);
  return dir;
}

beforeAll(async () => {
  const destination = await tempFolder("tweedie-tarballs-");
  for (const name of PACKED) {
    const dir = join(WORKSPACE_ROOT, "packages", name);
    run("pnpm", ["exec", "tsc", "-b"], dir);
    tarballs.set(name, packPackage(dir, destination));
  }
}, 120_000);

afterAll(async () => {
  for (const dir of temporary) await rm(dir, { recursive: true, force: true });
});

describe("published packages", () => {
  it.each(PACKED)("%s packs cleanly", (name) => {
    expect(checkTarball(tarballs.get(name)!, workspace)).toEqual([]);
  });

  it("core ships the digits prior", () => {
    const files = readTarball(tarballs.get("core")!);
    for (const file of ["tweedie-model.json", "denoiser.onnx", "denoiser-vjp.onnx"]) {
      expect(files.has(`assets/priors/digits/${file}`), file).toBe(true);
    }
    const core = workspace.find(({ manifest }) => manifest.name === "@tweedie/core")!;
    const operators = JSON.parse(
      readTarball(tarballs.get("operators")!).get("package.json")!.toString(),
    );
    expect(operators.dependencies["@tweedie/core"]).toBe(core.manifest.version);
  });

  it("install outside the workspace and run DPS", async () => {
    const project = await tempFolder("tweedie-consumer-");
    expect(relative(WORKSPACE_ROOT, project).startsWith("..")).toBe(true);

    // Third-party dependencies are file: links into the workspace's pnpm store. The install
    // is then offline and takes seconds, while onnxruntime-node from the registry is a
    // 100 MB download. npm still checks each linked version against the tarballs' ranges.
    const links: Record<string, string> = {};
    for (const name of PACKED) {
      const dir = join(WORKSPACE_ROOT, "packages", name);
      const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
      for (const dependency of Object.keys(manifest.dependencies ?? {})) {
        if (dependency.startsWith("@tweedie/")) continue;
        links[dependency] = `file:${await realpath(join(dir, "node_modules", dependency))}`;
      }
    }
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: links }),
    );
    const cache = join(project, ".npm-cache");
    await mkdir(cache);
    // --ignore-scripts: onnxruntime-node's install script downloads CUDA libraries.
    run(
      "npm",
      [
        "install",
        "--offline",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--cache",
        cache,
        ...PACKED.map((name) => tarballs.get(name)!),
      ],
      project,
    );

    await writeFile(join(project, "dps.mjs"), SCRIPT);
    const output = JSON.parse(
      run("node", ["dps.mjs", DIGITS_FILE], project).trim(),
    ) as ScriptOutput;
    expect(output.core).toBe(
      `file://${join(project, "node_modules", "@tweedie", "core", "dist", "index.js")}`,
    );
    expect(output.row).toBe(4);
    expect(output.shape).toEqual([1, 1, 8, 8]);
    expect(output.finite).toBe(true);
    expect(output.gradient).toBe("jvp-fd");
    // One denoiser call per step plus two for the finite-difference gradient.
    expect(output.nfe).toBe(20 * 3);
    expect(output.mse, `mse ${output.mse} vs ${output.mseZero} for zero`).toBeLessThan(
      output.mseZero,
    );
  }, 120_000);

  it("checker reports a broken package", async () => {
    const dir = await tempFolder("tweedie-broken-");
    await mkdir(join(dir, "dist"));
    await writeFile(
      join(dir, "dist", "index.js"),
      'import { z } from "zod";\nexport const schema = z.string();\n',
    );
    await writeFile(join(dir, "dist", ".tsbuildinfo"), "{}");
    await writeFile(
      join(dir, "package.json"),
      JSON.stringify({
        name: "@tweedie/broken",
        version: "0.0.1",
        license: "MIT",
        type: "module",
        engines: { node: ">=20.19" },
        exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } },
        files: ["dist"],
        dependencies: { "@tweedie/core": "workspace:*" },
      }),
    );
    const tarball = join(
      dir,
      run("npm", ["pack", "--silent", "--pack-destination", dir], dir).trim(),
    );
    const problems = checkTarball(tarball, workspace);
    const label = "@tweedie/broken@0.0.1";
    expect(problems).toEqual(
      expect.arrayContaining([
        `${label}: LICENSE is missing from the tarball`,
        `${label}: README.md is missing from the tarball`,
        `${label}: entry ./dist/index.d.ts is not in the tarball (run pnpm build?)`,
        `${label}: build state dist/.tsbuildinfo is in the tarball`,
        `${label}: dependency @tweedie/core is still workspace:*`,
        `${label}: dist/index.js imports zod, which is not in dependencies`,
        `${label}: README.md has no js example that imports @tweedie/broken`,
      ]),
    );
    expect(problems).toHaveLength(7);
  });
});
