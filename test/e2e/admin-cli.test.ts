// `mailroom admin` as an operator uses it (real process, real store): the first admin, its token
// printed once, the listings, refusals with exit codes, and the password stored as argon2id.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";

const CHEAP = `[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n`;

test("admin add, list, token add/list/del, passwd and del through the CLI, with exit codes", async () => {
  const s = await makeScratch(CHEAP);
  try {
    const run = (args: string[], input?: string) => runMailroom(args, { env: s.env, input });
    const added = await run(["--init", "admin", "add", "Root"], "root password 1\n");
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added admin root/);
    assert.equal((await run(["admin", "add", "root"], "another password\n")).code, 1, "a second root is refused");
    assert.equal((await run(["admin", "add", "bad name!"], "some password 1\n")).code, 2, "a bad name is a usage error");
    assert.equal((await run(["admin", "add", "weak"], "short\n")).code, 2, "a short password is refused");
    const token = await run(["admin", "token", "add", "root", "backup-script", "--days", "30"]);
    assert.equal(token.code, 0, token.stderr);
    assert.match(token.stdout.trim(), /^mrt_[A-Za-z0-9_-]{43}$/);
    const tokens = await run(["admin", "token", "list"]);
    assert.match(tokens.stdout, /^1 {2}root {2}backup-script {2}expires \d{4}-.* {2}last used never$/m);
    assert.doesNotMatch(tokens.stdout, /mrt_/, "the secret is never listed");
    assert.equal((await run(["admin", "passwd", "root"], "root password 2\n")).code, 0);
    assert.match((await run(["admin", "list"])).stdout, /^root {2}since /m);
    assert.equal((await run(["admin", "token", "del", "1"])).code, 0);
    assert.equal((await run(["admin", "token", "del", "1"])).code, 1, "already gone");
    const store = await openSqliteStore({ dataDir: s.dataDir });
    try {
      assert.match((await store.findAdminUser("root"))!.passwordHash, /^\$argon2id\$/);
    } finally {
      await store.close();
    }
    assert.equal((await run(["admin", "del", "root"])).code, 0);
    assert.equal((await run(["admin", "list"])).stdout, "");
  } finally {
    await s.cleanup();
  }
});
