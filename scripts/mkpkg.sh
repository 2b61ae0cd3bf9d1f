#!/usr/bin/env bash
# Usage: mkpkg.sh DIR NAME DESCRIPTION DEPS_JSON REFS(space separated dirs)
set -euo pipefail
dir=$1; name=$2; desc=$3; deps=$4; refs=$5
mkdir -p "$dir/src" "$dir/test"
refs_json=$(for r in $refs; do printf '{ "path": "%s" },' "$r"; done | sed 's/,$//')
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "$(realpath --relative-to="$dir" tsconfig.base.json)",
  "compilerOptions": {
    "rootDir": "src",
    "outDir": "dist",
    "tsBuildInfoFile": "dist/.tsbuildinfo"
  },
  "include": ["src"],
  "references": [$refs_json]
}
JSON
cat > "$dir/tsconfig.test.json" <<JSON
{
  "extends": "./tsconfig.json",
  "compilerOptions": { "rootDir": ".", "composite": false, "noEmit": true, "incremental": false },
  "include": ["src", "test"]
}
JSON
node -e '
const [dir,name,desc,deps]=process.argv.slice(1);
const pkg={
  name, version:"0.1.0", description:desc, license:"MIT", type:"module",
  main:"./dist/index.js", types:"./dist/index.d.ts",
  exports:{".":{types:"./dist/index.d.ts", import:"./dist/index.js"}, "./package.json":"./package.json"},
  files:["dist","README.md","LICENSE"],
  engines:{node:">=20.19"},
  scripts:{
    build:"node ../../scripts/check-layers.mjs && tsc -b",
    typecheck:"tsc -p tsconfig.test.json",
    test:"vitest run --testTimeout=120000 --reporter=default --reporter=json --outputFile.json=.vitest-report.json"
  },
  dependencies:JSON.parse(deps)
};
require("fs").writeFileSync(dir+"/package.json", JSON.stringify(pkg,null,2)+"\n");
' "$dir" "$name" "$desc" "$deps"
