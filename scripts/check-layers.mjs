#!/usr/bin/env node
// Fails when a package imports against the layering: runner -> (solvers, operators,
// eval) -> core, and core imports no project package. Solvers never import each other.
// Checks both package.json dependencies and every import specifier under src/.
// With no argument it checks the package in the current directory; with --all, every one.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const allowed = {
  "@tweedie/core": [],
  "@tweedie/operators": ["@tweedie/core"],
  "@tweedie/solver-dps": ["@tweedie/core"],
  "@tweedie/solver-flowdps": ["@tweedie/core"],
  "@tweedie/solver-dreamsampler": ["@tweedie/core"],
  "@tweedie/solver-flowalign": ["@tweedie/core"],
  "@tweedie/eval": ["@tweedie/core"],
  "@tweedie/runner": [
    "@tweedie/core",
    "@tweedie/operators",
    "@tweedie/eval",
    "@tweedie/solver-dps",
    "@tweedie/solver-flowdps",
    "@tweedie/solver-dreamsampler",
    "@tweedie/solver-flowalign",
  ],
};

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

const importPattern = /(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g;

function checkPackage(pkgDir) {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const permitted = allowed[pkg.name];
  if (!permitted) return [`${pkg.name}: not in the layering table of scripts/check-layers.mjs`];
  const errors = [];
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) {
    if (dep.startsWith("@tweedie/") && !permitted.includes(dep)) {
      errors.push(
        `${pkg.name}/package.json: dependency ${dep} breaks the layering (allowed: ${permitted.join(", ") || "none"})`,
      );
    }
  }
  const srcDir = join(pkgDir, "src");
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(importPattern)) {
      const spec = match[1];
      const where = relative(root, file);
      if (spec.startsWith("@tweedie/")) {
        const target = spec.split("/").slice(0, 2).join("/");
        if (target !== pkg.name && !permitted.includes(target)) {
          errors.push(
            `${where}: imports ${spec}, which breaks the layering (${pkg.name} may import ${permitted.join(", ") || "no project package"})`,
          );
        }
      } else if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (relative(pkgDir, target).startsWith("..")) {
          errors.push(
            `${where}: relative import ${spec} leaves the package; import through the package's public entry instead`,
          );
        }
      }
    }
  }
  return errors;
}

const dirs = process.argv.includes("--all")
  ? ["packages", "apps"].flatMap((group) =>
      readdirSync(join(root, group)).map((name) => join(root, group, name)),
    )
  : [process.cwd()];
const errors = dirs.flatMap(checkPackage);
if (errors.length > 0) {
  for (const error of errors) console.error(`layering: ${error}`);
  process.exit(1);
}
