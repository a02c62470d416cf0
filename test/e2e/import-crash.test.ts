// `mailroom import` of an mbox killed with SIGKILL in the middle (issue 21): the import appends
// batches (one commit and one round of fsyncs each), so what the kill leaves is the first
// messages of the file, whole batches of them, and nothing else; running the same command again
// adds exactly the rest, once each, with their flags and dates; `mailroom store check` and
// `mailroom index check` then find the files, usage counters and search index consistent.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { MailboxId } from "../../src/store/index.js";
import { makeScratch, mailroomBin, runMailroom } from "../harness/mailroom-process.js";

/** Messages in the mbox: enough (~60 MB) that the import is still running when it is killed. */
const MESSAGES = 3000;

/** Message i: a unique Message-ID and body word, every third one read (Status: RO), one in ten with a 60 KB attachment. */
async function writeMbox(path: string): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < MESSAGES; i++) {
    const date = new Date(Date.UTC(2019, 0, 1) + i * 3_600_000);
    const asctime = date.toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/, (_, d: string, day: string, mon: string, year: string, time: string) => `${d} ${mon} ${day.padStart(2, " ")} ${time} ${year}`);
    const lines = [`From sender@example.net ${asctime}`, `Message-ID: <m${i}@crash.test>`, `Subject: message ${i}`, "From: sender@example.net", `Status: ${i % 3 === 0 ? "RO" : "O"}`];
    const body = Array.from({ length: 150 }, (_, n) => `line ${n} of message ${i}: word${i}x the quick brown fox jumps over the lazy dog`);
    if (i % 10 === 0) {
      lines.push("MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"', "", "--b", "Content-Type: text/plain", "", ...body, "--b", "Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64", "");
      for (let n = 0; n < 800; n++) lines.push(Buffer.alloc(57, (i + n) % 251).toString("base64"));
      lines.push("--b--");
    } else lines.push("", ...body);
    lines.push("", "");
    if (!out.write(lines.join("\n"))) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}

/** The numbers of the messages the INBOX holds, from their Message-IDs, in UID order (read-only, beside the running import). */
function storedNumbers(dataDir: string): number[] {
  const db = new Database(join(dataDir, "mailroom.sqlite"), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT b.envelope FROM messages m JOIN blobs b ON b.id = m.blob_id ORDER BY m.mailbox_id, m.uid").all() as { envelope: string }[];
    return rows.map((row) => Number(/<m(\d+)@crash\.test>/.exec((JSON.parse(row.envelope) as { messageId: string }).messageId)![1]));
  } finally {
    db.close();
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test("an mbox import killed with SIGKILL mid-run keeps whole batches; the same command again completes it with no duplicate", { timeout: 600_000 }, async () => {
  const s = await makeScratch();
  try {
    const store = await openSqliteStore({ dataDir: s.dataDir });
    await store.addDomain("example.org");
    await store.close();
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: "a long password\n" })).code, 0);
    const mbox = join(s.dir, "big.mbox");
    await writeMbox(mbox);

    // The import runs in its own process (no server: under the owner lock); it is killed as soon
    // as some batches are committed and before the last.
    const child = spawn(process.execPath, [mailroomBin(), "import", "--account", "alice@example.org", mbox], { env: { ...process.env, ...s.env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const exited = once(child, "exit");
    let atKill: number[] = [];
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (child.exitCode !== null) assert.fail(`the import ended before it could be killed:\n${output}`);
      let stored: number[] = [];
      try {
        stored = storedNumbers(s.dataDir);
      } catch {
        continue; // not created yet, or busy
      }
      if (stored.length > 0) {
        child.kill("SIGKILL");
        atKill = stored;
        break;
      }
    }
    await exited;
    assert.equal(child.signalCode, "SIGKILL");
    const afterKill = storedNumbers(s.dataDir);
    assert.ok(afterKill.length >= atKill.length, "nothing committed is lost");
    assert.ok(afterKill.length < MESSAGES, `killed before the end (${afterKill.length} of ${MESSAGES} stored)`);
    // Batches are appended in file order, all or nothing: the first k messages, each once.
    assert.deepEqual(afterKill, range(afterKill.length), "what survives the kill is the first messages of the file, in order, once each");

    const again = await runMailroom(["import", "--account", "alice@example.org", mbox], { env: s.env, timeoutMs: 500_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`^INBOX: ${MESSAGES - afterKill.length} imported, ${afterKill.length} already there, 0 skipped$`, "m"));
    assert.deepEqual(storedNumbers(s.dataDir), range(MESSAGES), "every message exactly once, in file order");

    const third = await runMailroom(["import", "--account", "alice@example.org", mbox], { env: s.env, timeoutMs: 500_000 });
    assert.match(third.stdout, new RegExp(`^INBOX: 0 imported, ${MESSAGES} already there, 0 skipped$`, "m"));

    const reopened = await openSqliteStore({ dataDir: s.dataDir });
    try {
      const account = (await reopened.findAccountByAddress("alice@example.org"))!;
      const inbox = (await reopened.getMailbox(account.id, "INBOX"))!;
      const uids = (await reopened.listMessages(inbox.id as MailboxId)).map((m) => m.uid);
      const sample = await reopened.getMessages(inbox.id as MailboxId, [uids[0]!, uids[1]!, uids[afterKill.length]!, uids[MESSAGES - 1]!]);
      const numbers = [0, 1, afterKill.length, MESSAGES - 1];
      sample.forEach((message, i) => {
        const n = numbers[i]!;
        assert.equal(message.flags.includes("\\Seen"), n % 3 === 0, `flags of message ${n}`);
        assert.deepEqual(message.internalDate, new Date(Date.UTC(2019, 0, 1) + n * 3_600_000), `INTERNALDATE of message ${n}`);
      });
      assert.equal((await reopened.getAccount(account.id))!.usedMessages, MESSAGES, "the message counter counts each message once");
    } finally {
      await reopened.close();
    }
    const storeCheck = await runMailroom(["store", "check"], { env: s.env, timeoutMs: 300_000 });
    assert.equal(storeCheck.code, 0, `${storeCheck.stdout}\n${storeCheck.stderr}`);
    const indexCheck = await runMailroom(["index", "check"], { env: s.env, timeoutMs: 300_000 });
    assert.equal(indexCheck.code, 0, `${indexCheck.stdout}\n${indexCheck.stderr}`);
  } finally {
    await rm(s.dir, { recursive: true, force: true });
  }
});
