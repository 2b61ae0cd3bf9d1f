#!/usr/bin/env node
import { commands } from "./cli/commands.js";
import { main } from "./cli/main.js";

const code = await main(process.argv.slice(2), commands, {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
