// `mailroom sieve put|get|list|activate|check` as an admin runs them (the real command, in its own
// process under the owner lock): a script that does not compile is refused with its line:column
// and exit status 2; a good one is stored, listed, printed, activated and deactivated.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

test("mailroom sieve: check, put (refused with line:column, then stored), list, get, activate", async () => {
  const scratch = await makeScratch();
  try {
    const m = (args: string[], input?: string) => runMailroom(["-c", scratch.configFile, ...args], { env: scratch.env, ...(input ? { input } : {}) });
    const bad = join(scratch.dir, "bad.sieve");
    const good = join(scratch.dir, "good.sieve");
    await writeFile(bad, 'require "fileinto";\nif true {\n  fileinto "x"\n}\n');
    await writeFile(good, 'require ["fileinto"];\nif header :contains "subject" "[lists]" { fileinto "Lists"; }\n');
    const checked = await m(["sieve", "check", bad]);
    assert.equal(checked.code, 2);
    assert.match(checked.stderr, /line 4:1: expected ';' or '\{' after fileinto/);
    assert.equal((await m(["sieve", "check", good])).code, 0);
    assert.equal((await m(["--init", "domain", "add", "example.org"])).code, 0);
    assert.equal((await m(["user", "add", "a@example.org"], "long enough pw\n")).code, 0);
    const refused = await m(["sieve", "put", "a@example.org", "main", bad]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /line 4:1/);
    const put = await m(["sieve", "put", "a@example.org", "main", good, "--activate"]);
    assert.equal(put.code, 0, put.stderr);
    assert.match((await m(["sieve", "list", "a@example.org"])).stdout, /^\* main {2}\d+ bytes$/m);
    assert.match((await m(["sieve", "get", "a@example.org", "main"])).stdout, /fileinto "Lists"/);
    assert.equal((await m(["sieve", "activate", "a@example.org"])).code, 0);
    assert.match((await m(["sieve", "list", "a@example.org"])).stdout, /^ {2}main/m);
    assert.equal((await m(["sieve", "activate", "a@example.org", "nonesuch"])).code, 1);
    assert.equal((await m(["sieve", "list", "ghost@example.org"])).code, 1);
  } finally {
    await scratch.cleanup();
  }
});
