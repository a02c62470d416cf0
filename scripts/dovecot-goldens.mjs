// Regenerates test/fixtures/bodystructure/dovecot/ from a real Dovecot (see
// test/harness/dovecot-goldens.ts): `node scripts/dovecot-goldens.mjs`. Needs dovecot-imapd.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { root } from "./ensure-built.mjs";

// The generator lives in test/, which ensureBuilt() does not watch: always run the (incremental) build.
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const built = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);
const { regenerateDovecotGoldens } = await import(pathToFileURL(join(root, "dist", "test", "harness", "dovecot-goldens.js")).href);
await regenerateDovecotGoldens();
