// The paged paths of issue 13 over real IMAP sockets, with the page sizes set small so page
// boundaries fall where the test wants them (1, 2, count-1, count, count+1 messages per page):
//  - SEARCH SUBJECT/FROM/HEADER answered from the header index (store/sqlite/header-search.ts,
//    one page of UIDs per read): every match found exactly once, whatever the page size;
//  - FETCH of ENVELOPE/BODYSTRUCTURE and of FLAGS with keywords (pages rendered as bytes,
//    commands/fetch.ts): each message once, in order, with its own data;
//  - both while another connection expunges: no EXPUNGE during the command (RFC 9051 §7.4.1), the
//    session's numbers kept, vanished messages left out, the EXPUNGEs coming at the next NOOP.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fetchPageSizes } from "../../src/imap/commands/fetch.js";
import { headerScanPage } from "../../src/store/sqlite/header-search.js";
import type { Mailbox, StagedMessage, Uid } from "../../src/store/index.js";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

const COUNT = 7;
const fetchDefaults = { ...fetchPageSizes };
const headerDefaults = { ...headerScanPage };
let harness: ImapHarness;
let inbox: Mailbox;
let uids: Uid[] = [];

async function fill(count: number, subject: (i: number) => string): Promise<Uid[]> {
  const { store } = harness.temp;
  const staged: StagedMessage[] = [];
  for (let i = 0; i < count; i++) {
    staged.push(await store.stageMessage(Buffer.from(`Subject: ${subject(i)}\r\nFrom: Sender ${i} <s${i}@example.net>\r\nX-Tag: t${i % 3}\r\n\r\nbody ${i}\r\n`)));
  }
  return (await store.appendStaged(inbox.id, staged.map((source) => ({ source })))).map((copy) => copy.uid);
}

async function login(): Promise<RawImapClient> {
  const client = await RawImapClient.open(harness.ports.imap);
  assert.match(await client.command("l", "LOGIN alice@example.org alice-pass"), /l OK/);
  return client;
}

const fetchLines = (text: string): { seq: number; rest: string }[] => [...text.matchAll(/^\* (\d+) FETCH \((.*)\)\r?$/gm)].map((m) => ({ seq: Number(m[1]), rest: m[2]! }));
const searchUids = (text: string): number[] => {
  const line = /^\* SEARCH([\d ]*)\r?$/m.exec(text);
  assert.ok(line, `a SEARCH response in ${text}`);
  return line[1]!.trim() === "" ? [] : line[1]!.trim().split(" ").map(Number);
};

before(async () => {
  harness = await startImapHarness();
  inbox = (await harness.temp.store.getMailbox(harness.accounts.alice.id, "INBOX"))!;
  uids = await fill(COUNT, (i) => `page test ${i + 1}`);
});

after(async () => {
  Object.assign(fetchPageSizes, fetchDefaults);
  Object.assign(headerScanPage, headerDefaults);
  await harness.stop();
});

describe("header SEARCH and FETCH of index items in pages, at page boundaries", () => {
  for (const size of [1, 2, COUNT - 1, COUNT, COUNT + 1]) {
    it(`answers each of ${COUNT} messages once with ${size} per page`, async () => {
      Object.assign(headerScanPage, { size });
      Object.assign(fetchPageSizes, { stored: size, summary: size });
      const client = await login();
      try {
        await client.command("s", "SELECT INBOX");
        assert.deepEqual(searchUids(await client.command("a", 'UID SEARCH SUBJECT "page test"')), uids, "every message, once, ascending");
        assert.deepEqual(searchUids(await client.command("b", `UID SEARCH SUBJECT "page test ${COUNT}"`)), [uids[COUNT - 1]], "the last one, on the last page");
        assert.deepEqual(searchUids(await client.command("c", 'UID SEARCH SUBJECT "page test 1"')), [uids[0]], "the first one only");
        assert.deepEqual(searchUids(await client.command("d", "UID SEARCH HEADER X-Tag t1")), uids.filter((_, i) => i % 3 === 1));
        assert.deepEqual(searchUids(await client.command("e", 'SEARCH FROM "sender 3"')), [4]);
        const both = fetchLines(await client.command("f", "FETCH 1:* (UID ENVELOPE BODYSTRUCTURE)"));
        assert.deepEqual(both.map((l) => l.seq), uids.map((_, i) => i + 1));
        both.forEach((line, i) => {
          assert.match(line.rest, new RegExp(`^UID ${uids[i]} ENVELOPE \\(NIL "page test ${i + 1}" \\(\\("Sender ${i}" NIL "s${i}" "example.net"\\)\\)`));
          assert.match(line.rest, /BODYSTRUCTURE \("TEXT" "PLAIN" /);
        });
        // Keywords: FETCH FLAGS answered from the session's flag lists after STORE, and from the
        // store in a new session, the same either way.
        await client.command("t", `STORE 2:${COUNT} +FLAGS ($Pg${size})`);
        const flags = fetchLines(await client.command("g", "FETCH 1:* (UID FLAGS)"));
        assert.deepEqual(flags.map((l) => l.seq), uids.map((_, i) => i + 1));
        flags.forEach((line, i) => assert.equal(line.rest.includes(`$Pg${size}`), i > 0, line.rest));
        const other = await login();
        try {
          await other.command("s", "EXAMINE INBOX");
          const seen = fetchLines(await other.command("g", "FETCH 1:* (UID FLAGS)"));
          // \Recent belongs to the first session (RFC 3501 §2.3.2); the rest is the same.
          const withoutRecent = (rest: string) => rest.replace(/ ?\\Recent/, "").replace("( ", "(");
          assert.deepEqual(seen.map((l) => withoutRecent(l.rest)), flags.map((l) => withoutRecent(l.rest)));
        } finally {
          other.close();
        }
        await client.command("u", `STORE 1:* -FLAGS ($Pg${size})`);
      } finally {
        client.close();
      }
    });
  }
});

describe("header SEARCH and FETCH of index items while another connection expunges", () => {
  it("SEARCH: no EXPUNGE in its answer, no expunged message matched twice or numbered anew", async () => {
    Object.assign(headerScanPage, { size: 1 });
    const extra = await fill(200, (i) => `race search ${i}`);
    const reader = await login();
    const expunger = await login();
    try {
      await reader.command("s", "SELECT INBOX");
      await expunger.command("s", "SELECT INBOX");
      const doomed = extra.slice(50, 150);
      // The search walks 1 message per page; the expunge runs while it does.
      reader.send('a SEARCH SUBJECT "race search"\r\n');
      await expunger.command("d", `UID STORE ${doomed[0]}:${doomed[doomed.length - 1]} +FLAGS.SILENT (\\Deleted)`);
      assert.match(await expunger.command("x", "EXPUNGE"), /x OK/);
      const text = await reader.until((t) => /\r\na (OK|NO|BAD)[^\r\n]*\r\n$/.test(t), 30_000);
      reader.take();
      assert.match(text, /\r\na OK/);
      assert.doesNotMatch(text, /EXPUNGE\r\n/, "RFC 9051 §7.4.1: no EXPUNGE while SEARCH is answered");
      const seqs = searchUids(text);
      const base = uids.length;
      assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), "each once, ascending");
      // Sequence numbers as the session knew them before the expunge: the kept ones all there.
      for (let i = 0; i < extra.length; i++) if (!doomed.includes(extra[i]!)) assert.ok(seqs.includes(base + i + 1), `message ${base + i + 1} kept and matched`);
      for (const seq of seqs) assert.ok(seq > base && seq <= base + extra.length, `${seq} is one of the race messages`);
      const noop = await reader.command("n", "NOOP");
      assert.equal((noop.match(/^\* \d+ EXPUNGE\r$/gm) ?? []).length, doomed.length);
      const after = searchUids(await reader.command("b", 'UID SEARCH SUBJECT "race search"'));
      assert.deepEqual(after, extra.filter((uid) => !doomed.includes(uid)));
      await reader.command("z", `UID STORE ${extra[0]}:* +FLAGS.SILENT (\\Deleted)`);
      await reader.command("y", "EXPUNGE");
    } finally {
      reader.close();
      expunger.close();
      Object.assign(headerScanPage, headerDefaults);
    }
  });

  it("FETCH (ENVELOPE) and FETCH (FLAGS) with keywords: the session's numbers, vanished ones left out with EXPUNGEISSUED", async () => {
    Object.assign(fetchPageSizes, { stored: 1, summary: 1 });
    const extra = await fill(300, (i) => `race fetch ${i}`);
    const all = [...uids, ...extra];
    const reader = await login();
    const expunger = await login();
    try {
      assert.match(await reader.command("s", "SELECT INBOX"), new RegExp(`\\* ${all.length} EXISTS`));
      await reader.command("k", "STORE 1:* +FLAGS.SILENT ($Race)");
      await expunger.command("s", "SELECT INBOX");
      for (const [round, items] of [["1", "UID ENVELOPE"], ["2", "UID FLAGS"]] as const) {
        const doomed = extra.slice(round === "1" ? 100 : 20, round === "1" ? 200 : 60);
        reader.send(`f${round} FETCH 1:* (${items})\r\n`);
        await reader.until((text) => text.includes("* 1 FETCH"), 10_000);
        await expunger.command("d", `UID STORE ${doomed[0]}:${doomed[doomed.length - 1]} +FLAGS.SILENT (\\Deleted)`);
        assert.match(await expunger.command("x", "EXPUNGE"), /x OK/);
        const text = await reader.until((t) => new RegExp(`\\r\\nf${round} (OK|NO|BAD)[^\\r\\n]*\\r\\n$`).test(t), 30_000);
        reader.take();
        assert.doesNotMatch(text, /EXPUNGE\r\n|VANISHED/, "RFC 9051 §7.4.1: no EXPUNGE while FETCH is answered");
        const lines = fetchLines(text);
        const seqs = lines.map((l) => l.seq);
        assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), "each message once, ascending");
        const current = round === "1" ? all : all.filter((uid) => !extra.slice(100, 200).includes(uid));
        for (const line of lines) assert.equal(Number(/UID (\d+)/.exec(line.rest)![1]), current[line.seq - 1], `sequence ${line.seq} keeps its UID`);
        const answered = new Set(lines.map((l) => Number(/UID (\d+)/.exec(l.rest)![1])));
        for (const uid of current) if (!doomed.includes(uid)) assert.ok(answered.has(uid), `UID ${uid} still exists and is answered`);
        if (round === "2") for (const line of lines) assert.match(line.rest, /\$Race/);
        if (answered.size < current.length) assert.match(/\r\nf\d (OK[^\r\n]*)\r\n$/.exec(text)![1]!, /^OK \[EXPUNGEISSUED\]/);
        const noop = await reader.command("n", "NOOP");
        assert.equal((noop.match(/^\* \d+ EXPUNGE\r$/gm) ?? []).length, doomed.length);
      }
    } finally {
      reader.close();
      expunger.close();
      Object.assign(fetchPageSizes, fetchDefaults);
    }
  });
});
