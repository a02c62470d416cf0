// RFC 7377 MULTISEARCH (ESEARCH IN (...)) and RFC 6203 SEARCH=FUZZY end to end: the real IMAP
// server (test/harness/imap-harness.ts) over loopback TCP with a real SQLite store, driven by
// python3 imaplib sending the raw commands and reading the untagged ESEARCH responses.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { Mailbox, Uid } from "../../src/store/index.js";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";

const run = promisify(execFile);

let harness: ImapHarness;
const boxes: Record<string, Mailbox> = {};
const uids: Record<string, Uid> = {};

before(async () => {
  harness = await startImapHarness();
  const { store } = harness.temp;
  const id = harness.accounts.alice.id;
  boxes.inbox = (await store.getMailbox(id, "INBOX"))!;
  for (const name of ["Work", "Work/2025", "Work/2025/Q1", "Private"]) boxes[name] = await store.createMailbox(id, name);
  await store.setSubscribed(id, "Private", true);
  const put = async (key: string, box: Mailbox, text: string): Promise<void> => {
    uids[key] = (await store.append(box.id, Buffer.from(`Subject: ${key}\r\nFrom: a@example.net\r\n\r\n${text}\r\n`))).uid;
  };
  await put("inboxMeeting", boxes.inbox, "The quarterly meeting is on Monday");
  await put("inboxOther", boxes.inbox, "lunch plans");
  await put("workTypo", boxes.Work!, "see you at the meetign tomorrow");
  await put("workMeeting", boxes.Work!, "meeting notes attached");
  await put("work2025", boxes["Work/2025"]!, "budget meeting");
  await put("q1", boxes["Work/2025/Q1"]!, "meeting in Q1");
  await put("private", boxes.Private!, "a private meeting");
  // Bob's mailbox must never show up in Alice's search.
  const bobInbox = (await store.getMailbox(harness.accounts.bob.id, "INBOX"))!;
  await store.append(bobInbox.id, Buffer.from("Subject: bob\r\n\r\nmeeting of bob\r\n"));
});

after(() => harness?.stop());

const PYTHON = String.raw`
import imaplib, json, sys
imaplib.Commands["ESEARCH"] = ("AUTH", "SELECTED")  # RFC 7377: imaplib does not know the command
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.org", "alice-pass")
out = {}
typ, data = M.capability()
out["caps"] = data[0].decode()

def raw(*args):
    M.untagged_responses.pop("ESEARCH", None)
    try:
        typ, data = M._simple_command(*args)
    except imaplib.IMAP4.error as e:
        return ["ERR", str(e), []]
    got = M.untagged_responses.pop("ESEARCH", [])
    return [typ, data[0].decode() if data and data[0] else "", [d.decode() for d in got]]

# Authenticated state: no mailbox selected.
out["personal"] = raw("ESEARCH", "IN", "(personal)", "TEXT", "meeting")
out["subtree"] = raw("ESEARCH", "IN", "(subtree Work)", "RETURN", "(COUNT MIN)", "BODY", "meeting")
out["subtree_one"] = raw("ESEARCH", "IN", "(subtree-one \"Work\")", "TEXT", "meeting")
out["mailboxes"] = raw("ESEARCH", "IN", "(mailboxes (Private Missing) inboxes)", "TEXT", "meeting")
out["subscribed"] = raw("ESEARCH", "IN", "(subscribed)", "TEXT", "meeting")
out["no_selected"] = raw("ESEARCH", "TEXT", "meeting")
out["save_other"] = raw("ESEARCH", "IN", "(personal)", "RETURN", "(SAVE)", "TEXT", "meeting")
out["scope_option"] = raw("ESEARCH", "IN", "(personal (DEPTH 1))", "TEXT", "meeting")
out["seq_per_mailbox"] = raw("ESEARCH", "IN", "(subtree Work)", "1")
out["esearch_charset"] = raw("ESEARCH", "IN", "(personal)", "CHARSET", "KOI8-R", "TEXT", "x")
out["esearch_deep"] = raw("ESEARCH", "IN", "(personal)", *(["NOT"] * 200), "ALL")
out["after_errors"] = raw("ESEARCH", "IN", "(inboxes)", "RETURN", "(COUNT)", "ALL")
out["fuzzy_multi"] = raw("ESEARCH", "IN", "(personal)", "RETURN", "(ALL RELEVANCY)", "FUZZY", "BODY", "meeting")
M.select("Work")
out["selected_only"] = raw("ESEARCH", "IN", "(selected)", "RETURN", "(SAVE ALL)", "TEXT", "meeting")
out["fetch_saved"] = [d.decode() for d in M.uid("FETCH", "$", "(UID)")[1]]
out["default_selected"] = raw("ESEARCH", "TEXT", "meetign")
# RFC 6203 in the selected mailbox.
out["exact"] = raw("UID", "SEARCH", "RETURN", "(ALL RELEVANCY)", "TEXT", "meeting")
out["fuzzy"] = raw("UID", "SEARCH", "RETURN", "(ALL RELEVANCY)", "FUZZY", "TEXT", "meeting")
out["fuzzy_legacy"] = M.uid("SEARCH", "FUZZY", "(TEXT", "meetign)")[1][0].decode()
out["fuzzy_not"] = M.uid("SEARCH", "NOT", "FUZZY", "TEXT", "meeting")[1][0].decode()
out["relevancy_exact_only"] = raw("UID", "SEARCH", "RETURN", "(RELEVANCY)", "SUBJECT", "workTypo")
# RFC 6203 §4: SORT by RELEVANCY, most relevant first; REVERSE, ties in sequence order, ESORT.
out["sort_relevancy"] = M.uid("SORT", "(RELEVANCY)", "UTF-8", "FUZZY", "TEXT", "meeting")[1][0].decode()
out["sort_reverse_relevancy"] = M.uid("SORT", "(REVERSE RELEVANCY)", "UTF-8", "FUZZY", "TEXT", "meeting")[1][0].decode()
out["sort_relevancy_exact"] = M.uid("SORT", "(RELEVANCY)", "UTF-8", "ALL")[1][0].decode()
out["esort_relevancy"] = raw("UID", "SORT", "RETURN", "(ALL)", "(RELEVANCY ARRIVAL)", "UTF-8", "FUZZY", "BODY", "meeting")
M.logout()
print(json.dumps(out))
`;

describe("MULTISEARCH (RFC 7377) and SEARCH=FUZZY (RFC 6203) over imaplib", () => {
  it("searches several mailboxes by source, answers per mailbox with UIDVALIDITY, scores fuzzy matches", async () => {
    const { stdout } = await run("python3", ["-c", PYTHON, String(harness.ports.imap)]);
    const out = JSON.parse(stdout) as Record<string, [string, string, string[]] | string | string[]>;
    const caps = String(out.caps);
    assert.match(caps, /\bMULTISEARCH\b/);
    assert.match(caps, /\bSEARCH=FUZZY\b/);
    const v = (box: string): number => boxes[box]!.uidValidity;
    const lines = (key: string): string[] => (out[key] as [string, string, string[]])[2];
    const status = (key: string): string => (out[key] as [string, string, string[]])[0];

    // Every mailbox of the account holding the word, each its own response, none of Bob's.
    assert.deepEqual(lines("personal"), [
      `(TAG "${tagOf(lines("personal")[0]!)}" MAILBOX "INBOX" UIDVALIDITY ${v("inbox")}) UID ALL ${uids.inboxMeeting}`,
      `(TAG "${tagOf(lines("personal")[0]!)}" MAILBOX "Private" UIDVALIDITY ${v("Private")}) UID ALL ${uids.private}`,
      `(TAG "${tagOf(lines("personal")[0]!)}" MAILBOX "Work" UIDVALIDITY ${v("Work")}) UID ALL ${uids.workMeeting}`,
      `(TAG "${tagOf(lines("personal")[0]!)}" MAILBOX "Work/2025" UIDVALIDITY ${v("Work/2025")}) UID ALL ${uids.work2025}`,
      `(TAG "${tagOf(lines("personal")[0]!)}" MAILBOX "Work/2025/Q1" UIDVALIDITY ${v("Work/2025/Q1")}) UID ALL ${uids.q1}`,
    ]);
    assert.deepEqual(lines("subtree").map(stripTag), [
      `MAILBOX "Work" UIDVALIDITY ${v("Work")}) UID MIN ${uids.workMeeting} COUNT 1`,
      `MAILBOX "Work/2025" UIDVALIDITY ${v("Work/2025")}) UID MIN ${uids.work2025} COUNT 1`,
      `MAILBOX "Work/2025/Q1" UIDVALIDITY ${v("Work/2025/Q1")}) UID MIN ${uids.q1} COUNT 1`,
    ]);
    assert.deepEqual(lines("subtree_one").map(mailboxOf), ["Work", "Work/2025"], "subtree-one: the mailbox and its children only");
    assert.deepEqual(lines("mailboxes").map(mailboxOf), ["INBOX", "Private"], "a missing name is skipped; inboxes is INBOX");
    assert.deepEqual(lines("subscribed").map(mailboxOf), ["INBOX", "Private"], "INBOX is subscribed from the start");
    assert.match(String((out.no_selected as string[])[1]), /BAD/, "without IN, a mailbox must be selected");
    assert.match(String((out.save_other as string[])[1]), /BAD.*SAVE/);
    assert.match(String((out.scope_option as string[])[1]), /BAD/);
    // Bad input through ESEARCH meets the SEARCH limits: NO [BADCHARSET], BAD past the nesting limit.
    assert.equal(status("esearch_charset"), "NO");
    assert.match(String((out.esearch_charset as string[])[1]), /^\[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    assert.match(String((out.esearch_deep as string[])[1]), /BAD.*nested too deeply/);
    assert.deepEqual(lines("after_errors").map(stripTag), [`MAILBOX "INBOX" UIDVALIDITY ${v("inbox")}) UID COUNT 2`], "the session goes on");
    assert.deepEqual(lines("seq_per_mailbox").map(stripTag), [
      `MAILBOX "Work" UIDVALIDITY ${v("Work")}) UID ALL ${uids.workTypo}`,
      `MAILBOX "Work/2025" UIDVALIDITY ${v("Work/2025")}) UID ALL ${uids.work2025}`,
      `MAILBOX "Work/2025/Q1" UIDVALIDITY ${v("Work/2025/Q1")}) UID ALL ${uids.q1}`,
    ], "sequence number 1 of each mailbox");
    const fuzzyMulti = lines("fuzzy_multi").map(stripTag);
    assert.ok(fuzzyMulti.includes(`MAILBOX "Work" UIDVALIDITY ${v("Work")}) UID ALL ${uids.workTypo}:${uids.workMeeting} RELEVANCY (59 100)`), fuzzyMulti.join("\n"));

    // Selected: SAVE allowed with the selected mailbox alone; ESEARCH without IN is the selected one.
    assert.equal(status("selected_only"), "OK");
    assert.deepEqual(lines("selected_only").map(stripTag), [`MAILBOX "Work" UIDVALIDITY ${v("Work")}) UID ALL ${uids.workMeeting}`]);
    assert.deepEqual(out.fetch_saved, [`2 (UID ${uids.workMeeting})`]);
    assert.deepEqual(lines("default_selected").map(stripTag), [`MAILBOX "Work" UIDVALIDITY ${v("Work")}) UID ALL ${uids.workTypo}`]);

    // FUZZY: the typo matches with a lower score; the exact key alone finds only the exact one.
    assert.match(lines("exact")[0]!, new RegExp(`UID ALL ${uids.workMeeting} RELEVANCY \\(100\\)$`));
    assert.match(lines("fuzzy")[0]!, new RegExp(`UID ALL ${uids.workTypo}:${uids.workMeeting} RELEVANCY \\(59 100\\)$`));
    assert.equal(out.fuzzy_legacy, `${uids.workTypo} ${uids.workMeeting}`, "FUZZY (TEXT x) in a plain SEARCH");
    assert.equal(out.fuzzy_not, "", "NOT FUZZY excludes the fuzzy matches too");
    assert.match(lines("relevancy_exact_only")[0]!, new RegExp(`UID RELEVANCY \\(100\\)$`), "no FUZZY key: every match scores 100");
    assert.equal(out.sort_relevancy, `${uids.workMeeting} ${uids.workTypo}`, "SORT RELEVANCY: the exact match (100) before the typo (59)");
    assert.equal(out.sort_reverse_relevancy, `${uids.workTypo} ${uids.workMeeting}`);
    assert.equal(out.sort_relevancy_exact, `${uids.workTypo} ${uids.workMeeting}`, "no FUZZY key: all score 100, sequence order");
    assert.match(lines("esort_relevancy")[0]!, new RegExp(`UID ALL ${uids.workMeeting},${uids.workTypo}$`));
  });
});

const tagOf = (line: string): string => /^\(TAG "([^"]+)"/.exec(line)?.[1] ?? "";
const stripTag = (line: string): string => line.replace(/^\(TAG "[^"]+" /, "");
const mailboxOf = (line: string): string => /MAILBOX "([^"]+)"/.exec(line)?.[1] ?? "";
