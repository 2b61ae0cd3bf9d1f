#!/usr/bin/env node
// Packs every publishable workspace package with `pnpm pack`, which builds the same
// tarball that `pnpm publish` uploads, and checks what would ship. The checks cover
// manifest fields, exports and types that resolve inside the tarball, workspace: ranges,
// runtime imports missing from dependencies, LICENSE and README, and the embedded priors.
// It needs no network, so CI runs it as the dry-run publish (`pnpm publish:dry-run`).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, posix, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

export const WORKSPACE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const WORKSPACE_GROUPS = ["packages", "apps"];
const BUILTINS = new Set(builtinModules);

/** Lists the workspace packages (folder and manifest), public and private. */
export function workspacePackages(root = WORKSPACE_ROOT) {
  const found = [];
  for (const group of WORKSPACE_GROUPS) {
    const groupDir = join(root, group);
    if (!existsSync(groupDir)) continue;
    for (const name of readdirSync(groupDir).sort()) {
      const manifestPath = join(groupDir, name, "package.json");
      if (!existsSync(manifestPath)) continue;
      found.push({
        dir: join(groupDir, name),
        manifest: JSON.parse(readFileSync(manifestPath, "utf8")),
      });
    }
  }
  return found;
}

/** Runs `pnpm pack` in `dir` and returns the tarball's path inside `destination`. */
export function packPackage(dir, destination) {
  const result = spawnSync("pnpm", ["pack", "--pack-destination", destination, "--json"], {
    cwd: dir,
    encoding: "utf8",
  });
  if (result.status !== 0) {
    throw new Error(`pnpm pack failed in ${dir} (exit ${result.status}): ${result.stderr}`);
  }
  return JSON.parse(result.stdout).filename;
}

/** Reads a .tgz into a map from path (without the leading "package/") to file bytes. */
export function readTarball(path) {
  const bytes = gunzipSync(readFileSync(path));
  const files = new Map();
  let offset = 0;
  let longName;
  while (offset + 512 <= bytes.length) {
    const header = bytes.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start, length) =>
      header
        .subarray(start, start + length)
        .toString("latin1")
        .replace(/\0.*$/s, "");
    const size = Number.parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1);
    const body = bytes.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      // A pax extended header: its path record replaces the next entry's name.
      longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString("utf8"))?.[1];
      continue;
    }
    const prefix = field(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    if (type === "0" || type === "") files.set(name.replace(/^package\//, ""), Buffer.from(body));
  }
  return files;
}

/** Collects every `exports` target path (strings at any depth of the map). */
function exportTargets(exportsField) {
  if (typeof exportsField === "string") return [exportsField];
  if (exportsField === null || typeof exportsField !== "object") return [];
  return Object.values(exportsField).flatMap((value) => exportTargets(value));
}

/** Returns the package name of every bare import and re-export in a compiled JS file. */
function bareImports(source) {
  const names = new Set();
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"'./][^"']*)["']/g;
  for (const match of source.matchAll(pattern)) {
    const specifier = match[1];
    if (specifier.startsWith("node:") || BUILTINS.has(specifier.split("/")[0])) continue;
    const parts = specifier.split("/");
    names.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]);
  }
  return names;
}

/**
 * Checks that every source map in a tarball can show its sources. The src/ folder does not
 * ship, so a .js.map needs sourcesContent for each source. Any other map (.d.ts.map) needs
 * sourcesContent or a source file that is in the tarball.
 */
export function sourceMapProblems(label, files) {
  const problems = [];
  for (const [path, bytes] of files) {
    if (!path.endsWith(".map")) continue;
    let map;
    try {
      map = JSON.parse(bytes.toString("utf8"));
    } catch (error) {
      problems.push(`${label}: ${path} is not valid JSON (${error.message})`);
      continue;
    }
    const sources = Array.isArray(map.sources) ? map.sources : [];
    if (sources.length === 0) problems.push(`${label}: ${path} lists no sources`);
    for (const [i, source] of sources.entries()) {
      const content = map.sourcesContent?.[i];
      if (typeof content === "string") continue;
      const shipped = files.has(
        posix.normalize(posix.join(posix.dirname(path), map.sourceRoot ?? "", source)),
      );
      if (path.endsWith(".js.map") || !shipped) {
        problems.push(
          `${label}: ${path} has no sourcesContent for ${source}${shipped ? "" : ", which is not in the tarball"} (expected "inlineSources": true and no declarationMap in tsconfig)`,
        );
      }
    }
  }
  return problems;
}

/**
 * Checks one packed tarball against its workspace. Returns a list of problems, each a
 * sentence naming the file or field, the expected value and the value found.
 */
export function checkTarball(tarballPath, workspace = workspacePackages()) {
  const files = readTarball(tarballPath);
  const problems = [];
  const manifestBytes = files.get("package.json");
  if (!manifestBytes) return [`${tarballPath}: package.json is missing from the tarball`];
  const manifest = JSON.parse(manifestBytes.toString("utf8"));
  const label = `${manifest.name}@${manifest.version}`;
  const has = (path) => files.has(posix.normalize(path.replace(/^\.\//, "")));

  if (manifest.license !== "MIT")
    problems.push(`${label}: license is ${JSON.stringify(manifest.license)}, expected "MIT"`);
  if (manifest.type !== "module")
    problems.push(`${label}: "type" is ${JSON.stringify(manifest.type)}, expected "module"`);
  if (!manifest.engines?.node) problems.push(`${label}: engines.node is missing`);
  for (const required of ["LICENSE", "README.md"]) {
    if (!has(required)) problems.push(`${label}: ${required} is missing from the tarball`);
  }

  // Entry points: exports targets, main and types must exist in the tarball.
  if (!manifest.exports) problems.push(`${label}: no "exports" map`);
  for (const target of [...exportTargets(manifest.exports), manifest.main, manifest.types]) {
    if (target && !has(target))
      problems.push(`${label}: entry ${target} is not in the tarball (run pnpm build?)`);
  }
  for (const [subpath, conditions] of Object.entries(manifest.exports ?? {})) {
    if (subpath.endsWith("package.json") || typeof conditions !== "object") continue;
    if (!conditions.types)
      problems.push(`${label}: exports["${subpath}"] has no "types" condition`);
  }

  // What ships: compiled output and declared assets, never build state, sources or tests.
  for (const path of files.keys()) {
    if (path.endsWith(".tsbuildinfo"))
      problems.push(`${label}: build state ${path} is in the tarball`);
    if (/^(src|test|tests|bench)\//.test(path))
      problems.push(`${label}: ${path} is in the tarball`);
  }

  // Dependencies: no workspace ranges, and workspace packages at their current versions.
  const versions = new Map(workspace.map(({ manifest: m }) => [m.name, m.version]));
  const declared = {
    ...manifest.peerDependencies,
    ...manifest.optionalDependencies,
    ...manifest.dependencies,
  };
  for (const [name, range] of Object.entries(declared)) {
    if (String(range).startsWith("workspace:"))
      problems.push(`${label}: dependency ${name} is still ${range}`);
    else if (versions.has(name) && range !== versions.get(name)) {
      problems.push(
        `${label}: dependency ${name} is ${range}, expected the workspace version ${versions.get(name)}`,
      );
    }
  }
  for (const [path, bytes] of files) {
    if (!path.endsWith(".js") && !path.endsWith(".mjs")) continue;
    for (const name of bareImports(bytes.toString("utf8"))) {
      if (name !== manifest.name && !(name in declared)) {
        problems.push(`${label}: ${path} imports ${name}, which is not in dependencies`);
      }
    }
  }

  // README: one runnable example that imports this package.
  const readme = files.get("README.md")?.toString("utf8") ?? "";
  const examples = [...readme.matchAll(/```(?:js|javascript|mjs|ts)\n([\s\S]*?)```/g)].map(
    (m) => m[1],
  );
  if (!examples.some((code) => code.includes(`from "${manifest.name}`))) {
    problems.push(`${label}: README.md has no js example that imports ${manifest.name}`);
  }

  problems.push(...sourceMapProblems(label, files));

  // Model packages under assets/priors: every file the manifest lists must ship.
  for (const path of files.keys()) {
    const match = /^(assets\/priors\/[^/]+)\/tweedie-model\.json$/.exec(path);
    if (!match) continue;
    const modelManifest = JSON.parse(files.get(path).toString("utf8"));
    for (const entry of Object.values(modelManifest.files ?? {})) {
      if (!has(`${match[1]}/${entry.path}`))
        problems.push(`${label}: ${match[1]}/${entry.path} is missing`);
    }
  }
  return problems;
}

/** Packs and checks every publishable package, printing one line each. Returns the exit code. */
export function main(argv = process.argv.slice(2)) {
  const outIndex = argv.indexOf("--out");
  const keep = outIndex >= 0;
  const destination = keep
    ? resolve(argv[outIndex + 1])
    : mkdtempSync(join(tmpdir(), "tweedie-pack-"));
  const workspace = workspacePackages();
  const publishable = workspace.filter(({ manifest }) => !manifest.private);
  const skipped = workspace
    .filter(({ manifest }) => manifest.private)
    .map(({ manifest }) => manifest.name);
  let failures = 0;
  for (const { dir, manifest } of publishable) {
    const tarball = packPackage(dir, destination);
    const problems = checkTarball(tarball, workspace);
    const files = readTarball(tarball);
    const bytes = readFileSync(tarball).length;
    console.log(
      `${problems.length ? "FAIL" : "ok  "} ${manifest.name}@${manifest.version}: ${files.size} files, ${(bytes / 1024).toFixed(1)} KiB packed`,
    );
    for (const problem of problems) console.log(`     ${problem}`);
    failures += problems.length;
  }
  console.log(
    `${publishable.length} packages packed${keep ? ` into ${destination}` : ""}; private, not published: ${skipped.join(", ") || "none"}`,
  );
  if (!keep) rmSync(destination, { recursive: true, force: true });
  if (!publishable.some(({ manifest }) => manifest.name === "@tweedie/core")) {
    console.log("@tweedie/core is marked private, but every other package depends on it");
    failures++;
  }
  return failures > 0 ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main();
}
