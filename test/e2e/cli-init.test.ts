// Admin commands never create a store unless asked (--init), and say where they looked (issue 12):
// a command run in the wrong directory must not quietly start a second, empty store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

const CHEAP = `[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n`;

test("admin commands never create a store unless asked with --init, and say where they looked", async () => {
  const s = await makeScratch(CHEAP);
  try {
    for (const args of [["user", "list"], ["domain", "add", "example.org"], ["queue", "list"]]) {
      const refused = await runMailroom(args, { env: s.env });
      assert.equal(refused.code, 1, `${args.join(" ")}: ${refused.stderr}`);
      assert.match(refused.stderr, new RegExp(`no Mailroom store in ${s.dataDir.replace(/[/.]/g, "\\$&")} \\(the data dir from \\$MAILROOM_DATA_DIR\\)`));
      assert.match(refused.stderr, /--init/);
    }
    assert.deepEqual(await readdir(s.dir), ["mailroom.toml"], "nothing was created");

    const elsewhere = join(s.dir, "elsewhere");
    const flag = await runMailroom(["--data-dir", elsewhere, "user", "list"], { env: { ...s.env, MAILROOM_DATA_DIR: "" } });
    assert.equal(flag.code, 1);
    assert.match(flag.stderr, /the data dir from --data-dir/);

    const init = await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env });
    assert.equal(init.code, 0, init.stderr);
    const list = await runMailroom(["domain", "list"], { env: s.env });
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, "example.org\n");
  } finally {
    await s.cleanup();
  }
});
