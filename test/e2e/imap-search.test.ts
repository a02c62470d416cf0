// IMAP SEARCH end to end: the real IMAP server (test/harness/imap-harness.ts) over loopback TCP
// with a real SQLite store, driven by two independent clients — imapflow (which ENABLEs IMAP4rev2,
// so it reads ESEARCH; and once with IMAP4rev2 disabled, reading `* SEARCH`) and python3 imaplib
// (IMAP4rev1: SEARCH with a UTF-8 literal, UID SEARCH, ESEARCH RETURN, SAVE then FETCH $).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ImapFlow } from "imapflow";
import type { Uid } from "../../src/store/index.js";
import { readMessageFixture } from "../harness/fixtures.js";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";

const run = promisify(execFile);

let harness: ImapHarness;
const uid: Record<"plain" | "utf8" | "mixed" | "custom", Uid> = {} as never;

before(async () => {
  harness = await startImapHarness();
  const { store } = harness.temp;
  const inbox = (await store.getMailbox(harness.accounts.alice.id, "INBOX"))!;
  const custom = Buffer.from(
    "From: Carol <carol@example.net>\r\nTo: alice@example.org\r\nSubject: =?ISO-8859-1?Q?Caf=E9?= menu\r\nX-Ticket: T-4711\r\nDate: 5 Mar 25 10:00 GMT\r\n\r\nSoup of the day.\r\n",
  );
  const messages = [
    ["plain", await readMessageFixture(import.meta.url, "plain.eml"), "2025-03-04T10:00:00Z", ["\\Seen"]],
    ["utf8", await readMessageFixture(import.meta.url, "utf8-headers.eml"), "2025-03-05T10:00:00Z", ["\\Flagged"]],
    ["mixed", await readMessageFixture(import.meta.url, "mixed-attachment.eml"), "2025-03-06T10:00:00Z", []],
    ["custom", custom, "2025-03-07T10:00:00Z", ["\\Flagged", "\\Seen"]],
  ] as const;
  for (const [name, source, date, flags] of messages) {
    const result = await store.deliver({ source, internalDate: new Date(date), targets: [{ mailboxId: inbox.id, flags: [...flags] }] });
    uid[name] = result.copies[0]!.uid;
  }
});

after(() => harness?.stop());

async function withImapflow<T>(body: (client: ImapFlow) => Promise<T>, options: { disableIMAP4rev2?: boolean } = {}): Promise<T> {
  const client = new ImapFlow({
    host: "127.0.0.1",
    port: harness.ports.imap,
    secure: false,
    doSTARTTLS: false,
    auth: { user: "alice@example.org", pass: "alice-pass" },
    logger: false,
    ...options,
  });
  await client.connect();
  try {
    await client.mailboxOpen("INBOX");
    return await body(client);
  } finally {
    await client.logout();
  }
}

const rev2 = (client: ImapFlow): boolean => [...client.enabled].some((e) => e.toUpperCase() === "IMAP4REV2");

describe("imapflow", () => {
  it("searches flags, addresses, UTF-8 subjects, headers, bodies, dates and OR/NOT under IMAP4rev2 (ESEARCH)", async () => {
    await withImapflow(async (client) => {
      assert.ok(rev2(client), "imapflow enabled IMAP4rev2, so answers are ESEARCH");
      const search = async (query: Parameters<ImapFlow["search"]>[0]): Promise<number[]> => {
        const found = await client.search(query, { uid: true });
        assert.ok(Array.isArray(found), JSON.stringify(query));
        return found;
      };
      assert.deepEqual(await search({ seen: false }), [uid.utf8, uid.mixed]);
      assert.deepEqual(await search({ flagged: true, seen: true }), [uid.custom]);
      assert.deepEqual(await search({ from: "josé" }), [uid.utf8]);
      assert.deepEqual(await search({ subject: "GRÜSSE" }), [uid.utf8]);
      assert.deepEqual(await search({ subject: "café" }), [uid.custom]);
      assert.deepEqual(await search({ header: { "x-ticket": "t-4711" } }), [uid.custom]);
      assert.deepEqual(await search({ body: "revenue" }), [uid.mixed]);
      assert.deepEqual(await search({ text: "lunch" }), [uid.plain]);
      assert.deepEqual(await search({ body: "lunch" }), [], "the subject is not the body");
      assert.deepEqual(await search({ since: new Date("2025-03-06T00:00:00Z") }), [uid.mixed, uid.custom]);
      assert.deepEqual(await search({ sentOn: new Date("2025-03-05T00:00:00Z") }), [uid.utf8, uid.custom]);
      assert.deepEqual(await search({ or: [{ from: "alice" }, { body: "soup" }] }), [uid.plain, uid.custom]);
      assert.deepEqual(await search({ not: { seen: true }, to: "zoe" }), [uid.utf8]);
      assert.deepEqual(await search({ uid: `${uid.utf8}:*`, seen: false }), [uid.utf8, uid.mixed]);
      assert.deepEqual(await client.search({ seen: false }), [2, 3], "sequence numbers without uid");
    });
  });

  it("reads ESEARCH RETURN results and a plain * SEARCH when IMAP4rev2 is off", async () => {
    await withImapflow(async (client) => {
      const result = (await client.search({ all: true }, { uid: true, returnOptions: ["MIN", "MAX", "COUNT", "ALL"] })) as unknown as Record<string, unknown>;
      assert.equal(result.min, uid.plain);
      assert.equal(result.max, uid.custom);
      assert.equal(result.count, 4);
    });
    await withImapflow(
      async (client) => {
        assert.ok(!rev2(client));
        assert.deepEqual(await client.search({ flagged: true }, { uid: true }), [uid.utf8, uid.custom]);
        assert.deepEqual(await client.search({ subject: "nothing like it" }), []);
      },
      { disableIMAP4rev2: true },
    );
  });
});

describe("EXPUNGE during SEARCH (RFC 9051 §7.4.1)", () => {
  it("a non-UID SEARCH holds back EXPUNGE of a message removed meanwhile; the next NOOP sends it", async () => {
    const { store } = harness.temp;
    const inbox = (await store.getMailbox(harness.accounts.bob.id, "INBOX"))!;
    const bobUids: Uid[] = [];
    for (const n of [1, 2, 3]) bobUids.push((await store.append(inbox.id, Buffer.from(`Subject: bob ${n}\r\n\r\nbody\r\n`))).uid);
    const client = new ImapFlow({ host: "127.0.0.1", port: harness.ports.imap, secure: false, doSTARTTLS: false, auth: { user: "bob@example.org", pass: "bob-pass" }, logger: false });
    await client.connect();
    try {
      await client.mailboxOpen("INBOX");
      const expunged: number[] = [];
      client.on("expunge", (event: { seq?: number }) => expunged.push(event.seq ?? -1));
      await store.removeMessages(inbox.id, [bobUids[1]!]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(await client.search({ all: true }), [1, 3], "the removed message keeps its number 2 and matches nothing");
      assert.deepEqual(expunged, [], "no EXPUNGE while answering SEARCH");
      await client.noop();
      assert.deepEqual(expunged, [2]);
      assert.deepEqual(await client.search({ all: true }), [1, 2]);
    } finally {
      await client.logout();
    }
  });
});

const PYTHON = String.raw`
import imaplib, json, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.org", "alice-pass")
M.select("INBOX")
out = {}
out["unseen"] = M.search(None, "UNSEEN")[1][0].decode()
out["uid_flagged"] = M.uid("SEARCH", "FLAGGED")[1][0].decode()
M.literal = "grüße".encode("utf-8")
out["utf8_literal"] = M.search("UTF-8", "SUBJECT")[1][0].decode()
out["or_not"] = M.search(None, "OR", "NOT", "SEEN", "HEADER", "X-Ticket", '"4711"')[1][0].decode()
out["dates"] = M.search(None, "SINCE", "6-Mar-2025", "BEFORE", "7-Mar-2025")[1][0].decode()
typ, data = M.search("KOI8-R", "ALL")
out["badcharset"] = [typ, data[0].decode()]
typ, data = M._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "UNSEEN")
out["esearch"] = M._untagged_response(typ, data, "ESEARCH")[1][0].decode()
typ, data = M._simple_command("UID", "SEARCH", "RETURN", "(SAVE)", "FLAGGED")
out["save"] = [typ, M.untagged_responses.pop("ESEARCH", None)]
typ, data = M.fetch("$", "(UID)")
out["fetch_saved"] = [d.decode() for d in data]
out["search_saved"] = M.search(None, "$", "SEEN")[1][0].decode()
try:
    M.search(None, "NOT", "NOT", "NOT")
    out["bad"] = "OK"
except imaplib.IMAP4.error as e:
    out["bad"] = str(e)
M.logout()
print(json.dumps(out))
`;

describe("python3 imaplib (IMAP4rev1)", () => {
  it("SEARCH, UID SEARCH, a UTF-8 literal, BADCHARSET, ESEARCH RETURN, SAVE and $", async () => {
    const { stdout } = await run("python3", ["-c", PYTHON, String(harness.ports.imap)]);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(out.unseen, "2 3");
    assert.equal(out.uid_flagged, `${uid.utf8} ${uid.custom}`);
    assert.equal(out.utf8_literal, "2");
    assert.equal(out.or_not, "2 3 4");
    assert.equal(out.dates, "3");
    assert.deepEqual(out.badcharset, ["NO", "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset KOI8-R"]);
    assert.match(String(out.esearch), /^\(TAG "[^"]+"\) MIN 2 MAX 3 COUNT 2 ALL 2:3$/);
    assert.deepEqual(out.save, ["OK", null], "RETURN (SAVE) alone sends no ESEARCH");
    assert.deepEqual(out.fetch_saved, [`2 (UID ${uid.utf8})`, `4 (UID ${uid.custom})`]);
    assert.equal(out.search_saved, "4");
    assert.match(String(out.bad), /SEARCH command error: BAD/);
  });
});
