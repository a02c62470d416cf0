// The `mailroom` command as an operator uses it: real process, real store on disk, exit codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

const CHEAP = `[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n`;

test("domains, users and aliases round-trip through the CLI, with exit codes", async () => {
  const s = await makeScratch(CHEAP);
  try {
    const run = (args: string[], input?: string) => runMailroom(args, { env: s.env, input });
    assert.equal((await run(["--init", "domain", "add", "example.org"])).code, 0);
    const add = await run(["user", "add", "alice@example.org", "--quota", "2G"], "a good password\n");
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /added user alice@example\.org/);
    assert.ok(!add.stdout.includes("a good password") && !add.stderr.includes("a good password"), "the password is never echoed");

    const list = await run(["user", "list"]);
    assert.match(list.stdout, /alice@example\.org\s+used 0 B of 2\.0 GiB, 0 messages of unlimited \(default\)\s+pop3 keep/);

    const dup = await run(["user", "add", "alice@example.org"], "a good password\n");
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);

    const noDomain = await run(["user", "add", "bob@elsewhere.example"], "a good password\n");
    assert.equal(noDomain.code, 1);
    assert.match(noDomain.stderr, /no such domain: elsewhere\.example/);

    const badQuota = await run(["user", "quota", "alice@example.org", "lots"]);
    assert.equal(badQuota.code, 2);

    assert.equal((await run(["alias", "add", "@example.org", "alice@example.org"])).code, 0);
    assert.match((await run(["alias", "list"])).stdout, /@example\.org -> alice@example\.org/);
    assert.equal((await run(["user", "pop3", "alice@example.org", "--mode", "delete-after-retrieve"])).code, 0);
    assert.match((await run(["user", "list", "example.org"])).stdout, /pop3 delete-after-retrieve/);
    assert.equal((await run(["user", "pop3", "alice@example.org", "--login-delay", "300", "--expire", "7"])).code, 0);
    assert.match((await run(["user", "list"])).stdout, /pop3 delete-after-retrieve login-delay 300s expire 7d/);
    assert.equal((await run(["user", "pop3", "alice@example.org", "--login-delay", "none", "--expire", "never"])).code, 0);
    assert.doesNotMatch((await run(["user", "list"])).stdout, /login-delay|expire/);
    assert.equal((await run(["user", "pop3", "alice@example.org", "--expire", "soon"])).code, 2);

    const busy = await run(["domain", "del", "example.org"]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /still has users or aliases/);

    assert.equal((await run(["nonsense"])).code, 2);
    const help = await run(["user", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /passwd/);
  } finally {
    await s.cleanup();
  }
});

test("a bad config file stops with one line naming the key", async () => {
  const s = await makeScratch(`[limits]\nmax_message_size = "lots"\n`);
  try {
    const check = await runMailroom(["config", "check"], { env: s.env });
    assert.equal(check.code, 78);
    const lines = check.stderr.trim().split("\n");
    assert.equal(lines.length, 1, check.stderr);
    assert.match(lines[0]!, /limits\.max_message_size/);

    await writeFile(s.configFile, `[limits]\nmax_mesage_size = "5M"\n`);
    const typo = await runMailroom(["config", "check"], { env: s.env });
    assert.equal(typo.code, 78);
    assert.match(typo.stderr, /max_mesage_size/);

    const serve = await runMailroom(["serve"], { env: s.env });
    assert.equal(serve.code, 78, "serve refuses to start on a bad config");

    await writeFile(s.configFile, CHEAP);
    const ok = await runMailroom(["config", "check"], { env: s.env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /config ok/);
  } finally {
    await s.cleanup();
  }
});

test("config default prints a file that config check accepts", async () => {
  const s = await makeScratch();
  try {
    const rendered = await runMailroom(["config", "default"], { env: s.env });
    assert.equal(rendered.code, 0);
    assert.match(rendered.stdout, /\[limits\]/);
    await writeFile(s.configFile, rendered.stdout);
    const check = await runMailroom(["config", "check"], { env: s.env });
    assert.equal(check.code, 0, check.stderr);
  } finally {
    await s.cleanup();
  }
});
