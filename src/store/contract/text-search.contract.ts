// Conformance of MailStore.findTextMatches, the full-text index SEARCH TEXT/BODY stand on: RFC 9051
// §6.4.4 substring matching, case-insensitive on decoded text, BODY not seeing the top-level header,
// strings of any length (the trigram index from 3 characters, a paged scan below), copies sharing
// one entry, expunge removing it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { using, type OpenBackend } from "./fixture.js";

const MIXED = Buffer.from(
  [
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=",
    "From: Zoë Header <zoe@example.org>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="b"',
    "",
    "--b",
    "Content-Type: text/plain; charset=iso-8859-1",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Der K=E4se ist STRASSENfest.",
    "--b",
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from("<p>Hello <b>bold</b> world</p>").toString("base64"),
    "--b",
    'Content-Type: application/pdf; name="quarterly-figures.pdf"',
    'Content-Disposition: attachment; filename="quarterly-figures.pdf"',
    "Content-Transfer-Encoding: base64",
    "",
    "JVBERi0xLjQK",
    "--b--",
    "",
  ].join("\r\n"),
);

export function textSearchContract(open: OpenBackend): void {
  test("findTextMatches: decoded, case-insensitive substrings; BODY skips the top-level header", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const mixed = await fx.append(inbox.id, [], MIXED);
    const plain = await fx.append(inbox.id, [], Buffer.from("Subject: other\r\n\r\nnothing here but zoe\r\n"));
    const find = async (needle: string, part: "text" | "body"): Promise<number[]> => {
      const found = await fx.mail.findTextMatches(inbox.id, needle, part);
      assert.deepEqual(found.unverified, [], "a message stored now has its header/body split");
      return found.matches;
    };
    assert.deepEqual(await find("grüsse aus", "text"), [mixed.uid], "encoded-word subject, ß folded to ss");
    assert.deepEqual(await find("GRÜSSE", "body"), [], "the subject is not body text");
    assert.deepEqual(await find("käse", "body"), [mixed.uid], "quoted-printable ISO-8859-1");
    assert.deepEqual(await find("strassenfest", "text"), [mixed.uid]);
    assert.deepEqual(await find("hello", "body"), [mixed.uid], "base64 HTML reduced to text");
    assert.deepEqual(await find("bold", "body"), [mixed.uid]);
    assert.deepEqual(await find("<b>", "text"), [], "tags are not text");
    assert.deepEqual(await find("quarterly-figures.pdf", "text"), [mixed.uid], "attachment file name");
    assert.deepEqual(await find("zoe", "text"), [mixed.uid, plain.uid]);
    assert.deepEqual(await find("zoe", "body"), [plain.uid], "From: is header text");
    assert.deepEqual(await find("Zo", "text"), [mixed.uid, plain.uid], "two characters: the scan");
    assert.deepEqual(await find("ë", "body"), [], "one character: the scan, header excluded");
    assert.deepEqual(await find("", "body"), [mixed.uid, plain.uid], "the empty string is in every text");
    assert.deepEqual(await find('say "hi"', "text"), [], "quotes in the string are not query syntax");
  }));

  test("findTextMatches: pieces inside words, phrases across words and lines, query syntax, strings past the phrase cut", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const long = "an exceptionally long sentence, which keeps going well past fifty characters";
    const a = await fx.append(inbox.id, [], Buffer.from(`Subject: Scheduling\r\n\r\nThe budget report is due.\r\nsay "hi" AND NOT x*y (z) ^top NEAR(a b)\r\n${long}\r\n`));
    const b = await fx.append(inbox.id, [], Buffer.from("Subject: other\r\n\r\nbudget\r\nreport on separate lines; reschedule\r\n"));
    // Shares the long sentence's first 60 characters only: a candidate of the cut phrase, not a match.
    const c = await fx.append(inbox.id, [], Buffer.from(`Subject: twin\r\n\r\n${long.slice(0, 60)} and then stops\r\n`));
    const find = async (needle: string, part: "text" | "body"): Promise<number[]> => (await fx.mail.findTextMatches(inbox.id, needle, part)).matches;
    assert.deepEqual(await find("EDUL", "text"), [a.uid, b.uid], "inside Scheduling and reschedule");
    assert.deepEqual(await find("edul", "body"), [b.uid], "Scheduling is the subject");
    assert.deepEqual(await find("udget rep", "body"), [a.uid], "a phrase cut inside words; b has a line break between");
    assert.deepEqual(await find("budget report", "text"), [a.uid]);
    assert.deepEqual(await find("report budget", "text"), [], "both words, not in that order");
    assert.deepEqual(await find('say "hi" and not x*y (z) ^top near(a b)', "body"), [a.uid], "FTS5 query syntax is plain text");
    assert.deepEqual(await find("x*y", "text"), [a.uid]);
    assert.deepEqual(await find("(z)", "text"), [a.uid], "a string of punctuation and one letter");
    assert.deepEqual(await find(long.toUpperCase(), "body"), [a.uid], "longer than the phrase asked of an index");
    assert.deepEqual(await find(long.slice(0, 60), "text"), [a.uid, c.uid]);
    assert.deepEqual(await find(long.slice(10), "text"), [a.uid]);
    assert.deepEqual(await find("DG", "body"), [a.uid, b.uid], "two characters inside words (the scan)");
    assert.deepEqual(await find("*", "body"), [a.uid], "one character of syntax");
  }));

  test("findTextMatches: copies share the entry, expunge removes it, other mailboxes do not leak in", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const other = await fx.mail.createMailbox(id, "Kept copies");
    const first = await fx.append(inbox.id, [], Buffer.from("Subject: x\r\n\r\nunmistakable phrase\r\n"));
    const mapping = await fx.mail.copyMessages(inbox.id, [first.uid], other.id);
    assert.deepEqual((await fx.mail.findTextMatches(other.id, "unmistakable", "body")).matches, [mapping.pairs[0]![1]]);
    assert.deepEqual((await fx.mail.findTextMatches(inbox.id, "unmistakable", "body")).matches, [first.uid]);
    await fx.mail.removeMessages(inbox.id, [first.uid]);
    assert.deepEqual((await fx.mail.findTextMatches(inbox.id, "unmistakable", "body")).matches, []);
    assert.equal((await fx.mail.findTextMatches(other.id, "unmistakable", "text")).matches.length, 1, "the copy keeps the text");
    assert.deepEqual((await fx.mail.findTextMatches(inbox.id, "xx", "text")).matches, []);
    assert.deepEqual((await fx.mail.findTextMatches(inbox.id, "", "text")).matches, [], "an empty mailbox");
  }));

  test("findFuzzyTextMatches: typos match by trigram overlap, exact matches score 100, BODY skips the header (mail/fuzzy-match.ts)", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const other = await fx.mail.createMailbox(id, "Elsewhere");
    const meeting = await fx.append(inbox.id, [], Buffer.from("Subject: plans\r\n\r\nThe quarterly Meeting is on Monday\r\n"));
    const typo = await fx.append(inbox.id, [], Buffer.from("Subject: plans\r\n\r\nsee you at the meetign tomorrow\r\n"));
    const unrelated = await fx.append(inbox.id, [], Buffer.from("Subject: lunch\r\n\r\nsandwiches and soup\r\n"));
    const inHeader = await fx.append(inbox.id, [], Buffer.from("Subject: meeting notes\r\n\r\nnothing to add\r\n"));
    await fx.append(other.id, [], Buffer.from("Subject: x\r\n\r\nmeeting elsewhere\r\n"));
    const text = await fx.mail.findFuzzyTextMatches(inbox.id, "MEETING", "text");
    assert.deepEqual(text.map((m) => m.uid), [meeting.uid, typo.uid, inHeader.uid], "the typo matches, the unrelated message and the other mailbox do not");
    assert.equal(text.find((m) => m.uid === meeting.uid)!.score, 100, "an exact match scores 100");
    const typoScore = text.find((m) => m.uid === typo.uid)!.score;
    // "meeting": mee eet eti tin ing; "meetign" holds mee eet eti: round(99 * 3 / 5).
    assert.equal(typoScore, 59);
    assert.ok(!text.some((m) => m.uid === unrelated.uid));
    const body = await fx.mail.findFuzzyTextMatches(inbox.id, "meeting", "body");
    assert.deepEqual(body.map((m) => m.uid), [meeting.uid, typo.uid], "the subject is not body text");
    assert.deepEqual((await fx.mail.findFuzzyTextMatches(inbox.id, "qzxwvk", "text")).map((m) => m.uid), [], "nothing alike");
    assert.deepEqual(await fx.mail.findFuzzyTextMatches(inbox.id, "so", "body"), [{ uid: unrelated.uid, score: 100 }], "under 3 characters: the exact match");
    // "sandwihces": san and ndw dwi of its 8 trigrams are in "sandwiches and soup", half: a match.
    const sandwich = await fx.mail.findFuzzyTextMatches(inbox.id, "sandwihces", "text");
    assert.deepEqual(sandwich.map((m) => m.uid), [unrelated.uid], "a swapped pair of letters in a long word still matches");
  }));

  test("findTextMatches: the short-string scan crosses its page boundary", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const expected: number[] = [];
    for (let i = 0; i < 1203; i++) {
      const m = await fx.append(inbox.id, [], Buffer.from(`Subject: n${i}\r\n\r\n${i % 97 === 0 ? "q!" : "none"}\r\n`));
      if (i % 97 === 0) expected.push(m.uid);
    }
    assert.deepEqual((await fx.mail.findTextMatches(inbox.id, "Q!", "body")).matches, expected);
  }));
}
