// FETCH and STORE read the store in pages (docs/architecture.md, "A FETCH of a big mailbox"): over
// real IMAP sockets, with the page sizes set small so the boundaries fall where the test wants
// (1, 2, count-1, count, count+1 messages per page), every message is answered exactly once, in
// order, with its own UID and data; and a FETCH 1:* streaming page by page while another
// connection expunges answers per RFC 9051 §7.4.1 (no EXPUNGE during the FETCH, sequence numbers
// as the session knows them, expunged messages left out with OK [EXPUNGEISSUED]), the EXPUNGEs
// coming at the next NOOP.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fetchPageSizes } from "../../src/imap/commands/fetch.js";
import type { Mailbox, StagedMessage, Uid } from "../../src/store/index.js";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

const COUNT = 7;
const defaults = { ...fetchPageSizes };
let harness: ImapHarness;
let inbox: Mailbox;
let uids: Uid[] = [];

async function fill(count: number, subject: (i: number) => string): Promise<Uid[]> {
  const { store } = harness.temp;
  const staged: StagedMessage[] = [];
  for (let i = 0; i < count; i++) staged.push(await store.stageMessage(Buffer.from(`Subject: ${subject(i)}\r\nFrom: a@example.net\r\n\r\nbody ${i}\r\n`)));
  return (await store.appendStaged(inbox.id, staged.map((source) => ({ source })))).map((copy) => copy.uid);
}

async function login(): Promise<RawImapClient> {
  const client = await RawImapClient.open(harness.ports.imap);
  assert.match(await client.command("l", "LOGIN alice@example.org alice-pass"), /l OK/);
  return client;
}

/** The `* n FETCH (...)` lines of a response: sequence number and the rest. */
function fetchLines(text: string): { seq: number; rest: string }[] {
  return [...text.matchAll(/^\* (\d+) FETCH \((.*)\)\r?$/gm)].map((m) => ({ seq: Number(m[1]), rest: m[2]! }));
}

before(async () => {
  harness = await startImapHarness();
  inbox = (await harness.temp.store.getMailbox(harness.accounts.alice.id, "INBOX"))!;
  uids = await fill(COUNT, (i) => `page test ${i + 1}`);
});

after(async () => {
  Object.assign(fetchPageSizes, defaults);
  await harness.stop();
});

describe("FETCH and STORE in pages, at page boundaries", () => {
  for (const size of [1, 2, COUNT - 1, COUNT, COUNT + 1]) {
    it(`answers each of ${COUNT} messages once, in order, with ${size} per page`, async () => {
      Object.assign(fetchPageSizes, { stored: size, summary: size });
      const client = await login();
      try {
        await client.command("s", "SELECT INBOX");
        const flags = fetchLines(await client.command("f", "FETCH 1:* (UID FLAGS)"));
        assert.deepEqual(flags.map((l) => l.seq), uids.map((_, i) => i + 1));
        flags.forEach((line, i) => assert.match(line.rest, new RegExp(`^UID ${uids[i]} FLAGS \\(`)));
        const envelopes = fetchLines(await client.command("e", "FETCH 1:* (UID ENVELOPE)"));
        assert.deepEqual(envelopes.map((l) => l.seq), uids.map((_, i) => i + 1));
        envelopes.forEach((line, i) => assert.match(line.rest, new RegExp(`UID ${uids[i]} ENVELOPE \\(NIL "page test ${i + 1}"`)));
        const subjects = await client.command("h", `UID FETCH ${uids[1]}:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])`);
        assert.deepEqual([...subjects.matchAll(/Subject: page test (\d+)/g)].map((m) => Number(m[1])), uids.slice(1).map((_, i) => i + 2));
        // STORE over every page: each message reported once with the new flag, and kept.
        const stored = fetchLines(await client.command("t", `STORE 1:* +FLAGS (\\Flagged $Page${size})`));
        assert.deepEqual(stored.map((l) => l.seq), uids.map((_, i) => i + 1));
        for (const line of stored) assert.match(line.rest, new RegExp(`FLAGS \\([^)]*\\\\Flagged[^)]*\\$Page${size}`));
        const again = fetchLines(await client.command("g", "FETCH 1:* (FLAGS)"));
        assert.equal(again.filter((l) => l.rest.includes(`$Page${size}`)).length, COUNT);
        // A STORE that changes nothing still reports every message's flags (read in pages).
        assert.equal(fetchLines(await client.command("n", "STORE 1:* +FLAGS (\\Flagged)")).length, COUNT);
        await client.command("c", `STORE 1:* -FLAGS (\\Flagged $Page${size})`);
      } finally {
        client.close();
      }
    });
  }
});

describe("FETCH 1:* streaming while another connection expunges", () => {
  it("sends no EXPUNGE during the FETCH, keeps the session's numbers, leaves out what vanished", async () => {
    Object.assign(fetchPageSizes, { stored: 1, summary: 1 });
    const extra = await fill(300, (i) => `race ${i}`);
    const all = [...uids, ...extra];
    const reader = await login();
    const expunger = await login();
    try {
      assert.match(await reader.command("s", "SELECT INBOX"), new RegExp(`\\* ${all.length} EXISTS`));
      await expunger.command("s", "SELECT INBOX");
      const doomed = extra.slice(100);
      reader.send("f FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n");
      // Expunge once the first page is out, while the rest is still streaming.
      await reader.until((text) => text.includes("* 1 FETCH"), 10_000);
      await expunger.command("d", `UID STORE ${doomed[0]}:${doomed[doomed.length - 1]} +FLAGS.SILENT (\\Deleted)`);
      assert.match(await expunger.command("x", "EXPUNGE"), /x OK/);
      const text = await reader.until((t) => /\r\nf (OK|NO|BAD)[^\r\n]*\r\n$/.test(t), 30_000);
      reader.take();
      assert.doesNotMatch(text, /EXPUNGE\r\n|VANISHED/, "RFC 9051 §7.4.1: no EXPUNGE while FETCH is answered");
      const lines = fetchLines(text.replace(/\{\d+\}\r\n[^]*?\r\n\r\n\)/g, ")"));
      const seqs = lines.map((l) => l.seq);
      assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), "each message once, ascending");
      for (const line of lines) {
        const uid = Number(/UID (\d+)/.exec(line.rest)![1]);
        assert.equal(uid, all[line.seq - 1], `sequence ${line.seq} keeps its UID during the FETCH`);
      }
      const answered = new Set(lines.map((l) => Number(/UID (\d+)/.exec(l.rest)![1])));
      for (const uid of all) if (!doomed.includes(uid)) assert.ok(answered.has(uid), `UID ${uid} still exists and is answered`);
      const tagged = /\r\nf (OK[^\r\n]*)\r\n$/.exec(text)![1]!;
      if (answered.size < all.length) assert.match(tagged, /^OK \[EXPUNGEISSUED\]/);
      // The expunges are announced at the next command that allows them, highest first.
      const noop = await reader.command("n", "NOOP");
      assert.equal((noop.match(/^\* \d+ EXPUNGE\r$/gm) ?? []).length, doomed.length);
      assert.match(await reader.command("c", "FETCH 1:* (UID)"), new RegExp(`\\* ${all.length - doomed.length} FETCH \\(UID ${extra[99]}\\)`));
    } finally {
      reader.close();
      expunger.close();
      Object.assign(fetchPageSizes, defaults);
    }
  });
});
