// SORT keys (RFC 5256 §3, RFC 5957 §3): sent dates, address and display keys, the order with
// REVERSE and the sequence-number tie-break, and the SORT argument grammar.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Envelope } from "../../mail/envelope.js";
import type { SortFacts, Uid } from "../../store/index.js";
import { orderedSet, parseSortArgs } from "../commands/sort.js";
import { ArgumentReader } from "../protocol/arguments.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { parseDateHeader, sentTime, sortRows, sortValue, type SortRow } from "./sort-keys.js";

const envelope = (fields: Partial<Envelope>): Envelope => ({ date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null, ...fields });
const facts = (fields: Partial<Envelope>, internal = "2025-01-01T00:00:00Z"): SortFacts => ({ uid: 1 as Uid, internalDate: new Date(internal), size: 10, envelope: envelope(fields), references: null });

test("Date: headers parse to UTC instants; unreadable ones fall back to INTERNALDATE", () => {
  assert.equal(parseDateHeader("Mon, 3 Mar 2025 10:00:00 +0000"), Date.UTC(2025, 2, 3, 10));
  assert.equal(parseDateHeader("4 Mar 2025 08:00 -0500"), Date.UTC(2025, 2, 4, 13));
  assert.equal(parseDateHeader("4 Mar 25 08:00:30 EST (comment)"), Date.UTC(2025, 2, 4, 13, 0, 30));
  assert.equal(parseDateHeader("1 Jan 1999 00:00:00 +0130"), Date.UTC(1998, 11, 31, 22, 30));
  assert.equal(parseDateHeader("yesterday"), null);
  assert.equal(parseDateHeader("31 Foo 2025 10:00"), null);
  assert.equal(sentTime(facts({ date: "garbage" }, "2025-05-05T00:00:00Z")), Date.UTC(2025, 4, 5));
  assert.equal(sentTime(facts({})), Date.UTC(2025, 0, 1));
});

test("address keys: the first address's local part; display keys: the decoded name, else the addr-spec", () => {
  const from = [{ name: "=?UTF-8?Q?Andr=C3=A9?=", adl: null, mailbox: "carl", host: "example.org" }];
  assert.equal(sortValue("FROM", facts({ from })), "CARL");
  assert.equal(sortValue("DISPLAYFROM", facts({ from })), "ANDRé");
  assert.equal(sortValue("DISPLAYTO", facts({ to: [{ name: null, adl: null, mailbox: "b", host: "c.d" }] })), "B@C.D");
  assert.equal(sortValue("DISPLAYTO", facts({ to: [{ name: null, adl: null, mailbox: "team", host: null }, { name: null, adl: null, mailbox: "x", host: "y" }, { name: null, adl: null, mailbox: null, host: null }] })), "TEAM");
  assert.equal(sortValue("CC", facts({})), "");
  assert.equal(sortValue("SUBJECT", facts({ subject: "Re: [list] Fwd: Hello (fwd)" })), "HELLO");
});

test("rows order by each criterion in turn, REVERSE flips one, ties by sequence number", () => {
  const rows: SortRow[] = [
    { uid: 1, seq: 1, values: ["B", 3] },
    { uid: 2, seq: 2, values: ["A", 3] },
    { uid: 3, seq: 3, values: ["B", 5] },
    { uid: 4, seq: 4, values: ["A", 3] },
  ];
  const order = (criteria: Parameters<typeof sortRows>[1]): number[] => sortRows([...rows], criteria).map((r) => r.seq);
  assert.deepEqual(order([{ key: "SUBJECT", reverse: false }, { key: "SIZE", reverse: false }]), [2, 4, 1, 3]);
  assert.deepEqual(order([{ key: "SUBJECT", reverse: false }, { key: "SIZE", reverse: true }]), [2, 4, 3, 1]);
  assert.deepEqual(order([{ key: "SUBJECT", reverse: true }, { key: "SIZE", reverse: false }]), [1, 3, 2, 4]);
});

test("SORT arguments: RETURN, criteria with REVERSE, the charset, then SEARCH keys", () => {
  const parse = (text: string) => parseSortArgs(new ArgumentReader({ lines: [Buffer.from(text)], literals: [] }, { utf8Names: true }));
  const args = parse("RETURN (MIN COUNT) (REVERSE date Subject) utf-8 UNSEEN FROM x");
  assert.deepEqual(args.returnOptions, ["MIN", "COUNT"]);
  assert.deepEqual(args.criteria, [{ key: "DATE", reverse: true }, { key: "SUBJECT", reverse: false }]);
  assert.equal(args.key.kind, "and");
  for (const bad of ["(BOGUS) UTF-8 ALL", "() UTF-8 ALL", "(REVERSE) UTF-8 ALL", "(DATE) UTF-8", "(DATE)", `(${"DATE ".repeat(40).trim()}) UTF-8 ALL`]) {
    assert.throws(() => parse(bad), (e: unknown) => e instanceof ImapParseError && e.status !== "NO", bad);
  }
  assert.throws(() => parse("(DATE) KOI8-R ALL"), (e: unknown) => e instanceof ImapParseError && e.status === "NO");
});

test("ALL of ESORT keeps the sort order, ranges only for ascending runs", () => {
  assert.equal(orderedSet([2, 3, 1, 5, 4]), "2:3,1,5,4");
  assert.equal(orderedSet([1, 2, 3, 9, 8, 7]), "1:3,9,8,7");
  assert.equal(orderedSet([]), "");
});

test("RELEVANCY (RFC 6203 §4): the most relevant first, REVERSE the least, ties by sequence", () => {
  const rows = [
    { uid: 1, seq: 1, values: [sortValue("RELEVANCY", facts({}), 40)] },
    { uid: 2, seq: 2, values: [sortValue("RELEVANCY", facts({}), 100)] },
    { uid: 3, seq: 3, values: [sortValue("RELEVANCY", facts({}), 40)] },
    { uid: 4, seq: 4, values: [sortValue("RELEVANCY", facts({}))] },
  ];
  assert.deepEqual(sortRows([...rows], [{ key: "RELEVANCY", reverse: false }]).map((r) => r.uid), [2, 4, 1, 3]);
  assert.deepEqual(sortRows([...rows], [{ key: "RELEVANCY", reverse: true }]).map((r) => r.uid), [1, 3, 2, 4]);
});
