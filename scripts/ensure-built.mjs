// Compiles the TypeScript sources when dist/ is missing or older than any source file,
// so that `npm start` and `bin/mailroom.js` work straight after `npm install`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, existsSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function mtimeOrZero(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

export function ensureBuilt() {
  const entry = join(root, "dist", "src", "main.js");
  // tsc's incremental build rewrites only what changed, so main.js can be older than a source that
  // was rebuilt; the build info file (tsc) and our stamp (written below) mark the last build.
  const stamp = join(root, "dist", ".ensure-built");
  const lastBuild = Math.max(mtimeOrZero(join(root, "dist", ".tsbuildinfo")), mtimeOrZero(stamp));
  if (existsSync(entry) && lastBuild >= newestMtime(join(root, "src"))) return entry;
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  if (result.status !== 0) {
    console.error("mailroom: the TypeScript build failed (see above)");
    process.exit(result.status ?? 1);
  }
  writeFileSync(stamp, "");
  return entry;
}

export async function runMain(argv) {
  const entry = ensureBuilt();
  const main = await import(pathToFileURL(entry).href);
  await main.main(argv);
}
