// kill -9 in the middle of concurrent deliveries, several rounds: after each, the reopened store
// must hold every acknowledged message, whole and exact, in both recipients' mailboxes; no row
// may point at a missing or torn blob; UIDs stay consistent; opening the store removes nothing,
// and one pass of the collector leaves no temp or orphan file; and the store keeps working.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { MailboxId } from "../types.js";
import { verifyCrashMessage } from "./crash-message.js";
import { openSqliteStore, type SqliteStore } from "./sqlite-store.js";

const ROUNDS = 5;
const ADDRESSES = ["alice@crash.test", "bob@crash.test"];

function childCommand(dataDir: string): string[] {
  const self = fileURLToPath(import.meta.url);
  const isTs = self.endsWith(".ts");
  const child = join(self, "..", isTs ? "crash-child.ts" : "crash-child.js");
  return [...(isTs ? ["--import", "tsx"] : []), child, dataDir, "4"];
}

/** Runs the child until it is killed at a random moment; returns the ids it acknowledged. */
async function runAndKill(dataDir: string, workMs: number): Promise<string[]> {
  const child = spawn(process.execPath, childCommand(dataDir), { stdio: ["ignore", "pipe", "pipe"] });
  const acked: string[] = [];
  let stderr = "";
  let buffered = "";
  let ready: () => void = () => {};
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    buffered += text;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "READY") ready();
      else if (line.startsWith("ACK ")) acked.push(line.slice(4));
    }
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await Promise.race([readyPromise, exited.then(() => assert.fail(`child exited early: ${stderr}`))]);
  await new Promise((resolve) => setTimeout(resolve, workMs));
  child.kill("SIGKILL");
  await exited;
  return acked;
}

async function blobFiles(blobRoot: string): Promise<string[]> {
  const files: string[] = [];
  for (const first of await readdir(blobRoot)) {
    if (first === "tmp") continue;
    files.push(...(await readdir(join(blobRoot, first))));
  }
  return files;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Checks one mailbox; returns the ids of the whole messages in it. */
async function checkMailbox(store: SqliteStore, mailboxId: MailboxId, address: string): Promise<Set<string>> {
  const summaries = await store.listMessages(mailboxId);
  const uids = summaries.map((m) => m.uid);
  assert.deepEqual(uids, [...new Set(uids)].sort((a, b) => a - b), "UIDs unique and ascending");
  const status = await store.mailboxStatus(mailboxId);
  assert.ok(uids.every((uid) => uid < status.uidNext), "uidNext above every UID");
  const ids = new Set<string>();
  for (const message of await store.getMessages(mailboxId, uids)) {
    const bytes = await readAll(store.openMessage(message));
    assert.equal(bytes.length, message.size, `size of UID ${message.uid}`);
    const prefix = `Delivered-To: ${address}\r\n`;
    assert.equal(bytes.subarray(0, message.prefixLength).toString(), prefix);
    const id = verifyCrashMessage(bytes.subarray(message.prefixLength));
    assert.ok(id, `UID ${message.uid} is whole and exact`);
    ids.add(id);
  }
  return ids;
}

test("acknowledged deliveries survive kill -9 whole, and the store keeps working", { timeout: 60_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-crash-"));
  try {
    let store = await openSqliteStore({ dataDir });
    await store.addDomain("crash.test");
    for (const address of ADDRESSES) await store.createAccount({ address, passwordHash: "x" });
    await store.close();
    const acknowledged: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      acknowledged.push(...(await runAndKill(dataDir, 100 + Math.floor(Math.random() * 300))));
      const leftBehind = await blobFiles(join(dataDir, "blobs"));
      store = await openSqliteStore({ dataDir, collector: { orphanMinAgeMs: 0 } });
      assert.deepEqual(await blobFiles(join(dataDir, "blobs")), leftBehind, "opening the store removes nothing");
      const referenced = new Set<string>();
      const perAccount: Set<string>[] = [];
      for (const address of ADDRESSES) {
        const account = (await store.findAccountByAddress(address))!;
        const inbox = (await store.getMailbox(account.id, "INBOX"))!;
        perAccount.push(await checkMailbox(store, inbox.id, address));
        const listed = await store.getMessages(inbox.id, (await store.listMessages(inbox.id)).map((m) => m.uid));
        for (const message of listed) referenced.add(message.blobId);
        assert.equal(account.usedBytes, listed.reduce((sum, m) => sum + m.size, 0), "usedBytes matches the rows");
      }
      for (const id of acknowledged) assert.ok(perAccount.every((ids) => ids.has(id)), `acknowledged ${id} present for every recipient`);
      assert.deepEqual(perAccount[0], perAccount[1], "a delivery is in both mailboxes or in neither");
      await store.collector.runUntilIdle();
      assert.deepEqual((await blobFiles(join(dataDir, "blobs"))).sort(), [...referenced].sort(), "no orphan or missing blob file");
      assert.deepEqual(await readdir(join(dataDir, "blobs", "tmp")), [], "no temp file left");
      const alice = (await store.findAccountByAddress(ADDRESSES[0]!))!;
      const inbox = (await store.getMailbox(alice.id, "INBOX"))!;
      const after = await store.append(inbox.id, Buffer.from(`Subject: after round ${round}\r\n\r\nstill working\r\n`));
      await store.removeMessages(inbox.id, [after.uid]);
      await store.close();
    }
    assert.ok(acknowledged.length > 0, "the child acknowledged deliveries before being killed");
    t.diagnostic(`${acknowledged.length} acknowledged deliveries over ${ROUNDS} kill -9 rounds`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
