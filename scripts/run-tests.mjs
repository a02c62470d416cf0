// Runs the compiled tests with node:test. Node 20's `node --test` neither expands globs nor finds
// .ts files in a folder, so the file list is built here from dist/.
//   node scripts/run-tests.mjs            every test
//   node scripts/run-tests.mjs --unit     only the tests beside the sources (dist/src)
//   node scripts/run-tests.mjs store      only files whose path contains "store"
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { root } from "./ensure-built.mjs";

const args = process.argv.slice(2);
const unitOnly = args.includes("--unit");
const filters = args.filter((a) => !a.startsWith("--"));

function findTests(dir) {
  const found = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(path));
    else if (entry.name.endsWith(".test.js")) found.push(path);
  }
  return found;
}

const dist = join(root, "dist");
const roots = unitOnly ? [join(dist, "src")] : [join(dist, "src"), join(dist, "test")];
const files = roots
  .flatMap(findTests)
  .filter((f) => filters.length === 0 || filters.some((flt) => relative(dist, f).includes(flt)))
  .sort();
if (files.length === 0) {
  console.error("run-tests: no test files found under dist/ (did the build run?)");
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--test", "--test-concurrency=2", "--test-timeout=300000", ...files],
  { stdio: "inherit", cwd: root },
);
process.exit(result.status ?? 1);
