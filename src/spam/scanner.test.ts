// The spam verdict: tests add up to a score, the score picks the action, exempt clients are not
// scanned, operator weights replace built-in ones, and DNS trouble never decides anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import type { SpamSettings } from "../config/index.js";
import { createTableResolver, type DnsTable } from "../mail-auth/index.js";
import { MimeTreeBuilder } from "../mail/mime-tree.js";
import { createSpamScanner, iprevResultText, spamHeaderFields } from "./scanner.js";
import { heloHeuristics, messageHeuristics } from "./message-heuristics.js";

const SETTINGS: SpamSettings = {
  enabled: true,
  dnsbl: { "bl.test": 7, "wl.test": -3 },
  uribl: { "uri.test": 5 },
  dnsblCodes: {},
  iprev: true,
  dnsTimeout: 500,
  junkScore: 6,
  rejectScore: 15,
  addHeaders: true,
  exemptNetworks: ["127.0.0.0/8"],
  scores: {},
  bayes: false,
  bayesMinMessages: 20,
  greylistDomains: [],
  greylistDelay: 300_000,
  greylistRetryWindow: 86_400_000,
  greylistWhitelistPeriod: 86_400_000,
  greylistMinScore: 0,
  rspamdUrl: null,
  rspamdTimeout: 5000,
  rspamdFailure: "accept",
  rspamdWeight: 1,
  rspamdMaxSize: 20 * 1024 * 1024,
  greetPause: 0,
  ipMessagesPerHour: 0,
};

function parse(text: string) {
  const builder = new MimeTreeBuilder();
  builder.push(Buffer.from(text));
  return builder.finish();
}

const GOOD = "From: Alice <alice@sender.test>\r\nTo: bob@example.test\r\nSubject: Lunch tomorrow\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@sender.test>\r\n\r\nSee you at noon.\r\n";

const DNS: DnsTable = {
  "10.2.0.192.in-addr.arpa": { PTR: ["mx.sender.test"] },
  "mx.sender.test": { A: ["192.0.2.10"] },
  "66.2.0.192.bl.test": { A: ["127.0.0.2"] },
  "55.2.0.192.bl.test": { A: ["127.0.0.4", "127.0.0.10"] },
  "77.2.0.192.wl.test": { A: ["127.0.10.1"] },
  "spammy.test.uri.test": { A: ["127.0.1.2"] },
  "88.2.0.192.bl.test": { A: { fail: "ETIMEOUT" } },
};

function scan(text: string, clientIp: string, settings: Partial<SpamSettings> = {}, authentication: { spf: string; dkim: string[]; dmarc: string } | null = null) {
  const scanner = createSpamScanner({ settings: { ...SETTINGS, ...settings }, resolver: createTableResolver(DNS) });
  return scanner.scan({ parsed: parse(text), open: () => Readable.from([Buffer.from(text)]), clientIp, authentication, now: new Date("2026-12-01T12:00:00Z") });
}

test("a clean message from a confirmed host scores below zero with authentication passes, and is accepted", async () => {
  const verdict = await scan(GOOD, "192.0.2.10", {}, { spf: "pass", dkim: ["pass"], dmarc: "pass" });
  assert.equal(verdict.action, "accept");
  assert.deepEqual(verdict.iprev, { result: "pass", hostname: "mx.sender.test" });
  assert.deepEqual(verdict.tests.map((t) => t.name).sort(), ["DKIM_PASS", "DMARC_PASS", "SPF_PASS"]);
  assert.equal(verdict.score, -2);
  assert.equal(iprevResultText(verdict.iprev!, "192.0.2.10"), "iprev=pass policy.iprev=192.0.2.10 (mx.sender.test)");
});

test("a DNSBL listing and failed iprev file in Junk; with SPF and DMARC fails the message is refused", async () => {
  const junk = await scan(GOOD, "192.0.2.66");
  assert.deepEqual(junk.tests.map((t) => t.name).sort(), ["DNSBL_BL_TEST", "IPREV_FAIL"]);
  assert.equal(junk.score, 8.5);
  assert.equal(junk.action, "junk");
  const refused = await scan(GOOD, "192.0.2.66", {}, { spf: "fail", dkim: ["none"], dmarc: "fail" });
  assert.equal(refused.score, 15.5);
  assert.equal(refused.action, "reject");
  assert.equal((await scan(GOOD, "192.0.2.66", { rejectScore: 0 }, { spf: "fail", dkim: [], dmarc: "fail" })).action, "junk", "reject_score 0 never refuses");
});

test("an allow list subtracts; operator scores replace built-in weights and list weights", async () => {
  const allowed = await scan(GOOD, "192.0.2.77");
  assert.ok(allowed.tests.some((t) => t.name === "DNSWL_WL_TEST" && t.score === -3));
  const heavier = await scan("Subject: x\r\n\r\nbody\r\n", "192.0.2.10", { scores: { MISSING_DATE: 10, DNSBL_BL_TEST: 1 } });
  assert.equal(heavier.tests.find((t) => t.name === "MISSING_DATE")?.score, 10);
  assert.equal(heavier.action, "junk");
  const listedLight = await scan(GOOD, "192.0.2.66", { scores: { DNSBL_BL_TEST: 1 } });
  assert.equal(listedLight.tests.find((t) => t.name === "DNSBL_BL_TEST")?.score, 1);
});

test("Spamhaus-style return codes: a code with its own weight replaces the zone's, the highest of several wins", async () => {
  const pbl = await scan(GOOD, "192.0.2.66", { dnsblCodes: { "bl.test/127.0.0.2": 1.5 } });
  assert.equal(pbl.tests.find((t) => t.name === "DNSBL_BL_TEST")?.score, 1.5);
  const several = await scan(GOOD, "192.0.2.55", { dnsblCodes: { "bl.test/127.0.0.4": 6, "bl.test/127.0.0.10": 1 } });
  assert.equal(several.tests.find((t) => t.name === "DNSBL_BL_TEST")?.score, 6);
  assert.equal(several.tests.find((t) => t.name === "DNSBL_BL_TEST")?.detail, "127.0.0.4,127.0.0.10");
});

test("a listed link domain adds the URIBL score once per zone", async () => {
  const text = GOOD.replace("See you at noon.", "Buy at http://www.spammy.test/a and https://spammy.test/b and http://fine.test/");
  const verdict = await scan(text, "192.0.2.10");
  const hits = verdict.tests.filter((t) => t.name === "URIBL_URI_TEST");
  assert.equal(hits.length, 1);
  assert.equal(hits[0]!.detail, "spammy.test");
});

test("DNS trouble is reported, not scored; exempt networks and enabled=false skip scanning", async () => {
  const verdict = await scan(GOOD, "192.0.2.88");
  assert.ok(!verdict.tests.some((t) => t.name.startsWith("DNSBL")));
  assert.equal(verdict.dnsErrors.length, 1);
  assert.equal((await scan(GOOD, "127.0.0.1")).skipped, true);
  assert.equal((await scan(GOOD, "192.0.2.66", { enabled: false })).skipped, true);
});

test("X-Spam-Status lists the tests with their scores in SpamAssassin's layout", async () => {
  const verdict = await scan(GOOD, "192.0.2.66");
  const [status, score] = spamHeaderFields(verdict, 6);
  assert.equal(status, "X-Spam-Status: Yes, score=8.5 required=6.0 tests=DNSBL_BL_TEST=7.0, IPREV_FAIL=1.5");
  assert.equal(score, "X-Spam-Score: 8.5");
});

test("HELO: bare IPs, bare words and our own name score; names and address literals do not", () => {
  const names = (helo: string | null) => heloHeuristics(helo, "mx.example.test").map((h) => h.name);
  assert.deepEqual(names("mail.sender.test"), []);
  assert.deepEqual(names("[192.0.2.1]"), []);
  assert.deepEqual(names(null), []);
  assert.deepEqual(names("192.0.2.1"), ["HELO_BARE_IP"]);
  assert.deepEqual(names("MX.Example.TEST."), ["HELO_FORGED_OURS"]);
  assert.deepEqual(names("localhost"), ["HELO_NOT_FQDN"]);
});

test("heuristics: missing fields, shouting subjects, a display name naming another domain, HTML only, future dates", () => {
  const now = new Date("2026-12-01T12:00:00Z");
  const names = (text: string) => messageHeuristics(parse(text), now).map((h) => h.name).sort();
  assert.deepEqual(names(GOOD), []);
  assert.deepEqual(names("To: x@y.test\r\n\r\nhi\r\n"), ["MISSING_DATE", "MISSING_FROM", "MISSING_MESSAGE_ID", "MISSING_SUBJECT"]);
  assert.deepEqual(names(GOOD.replace("Lunch tomorrow", "WIN A FREE CRUISE NOW")), ["SUBJECT_ALL_CAPS"]);
  assert.deepEqual(names(GOOD.replace("Alice <alice@sender.test>", '"service@paypal.test" <x@evil.test>')), ["FROM_NAME_OTHER_ADDRESS"]);
  assert.deepEqual(names(GOOD.replace("Alice <alice@sender.test>", '"alice@sender.test" <alice@mail.sender.test>')), []);
  assert.deepEqual(names(GOOD.replace("Tue, 1 Dec 2026", "Tue, 8 Dec 2026")), ["DATE_IN_FUTURE"]);
  assert.deepEqual(names(GOOD.replace("\r\n\r\n", "\r\nContent-Type: text/html\r\n\r\n")), ["HTML_ONLY"]);
  assert.deepEqual(names(GOOD.replace("See you at noon.\r\n", "")), ["EMPTY_BODY"]);
  assert.deepEqual(names(GOOD.replace("See you at noon.", "Click http://a.test/x now http://b.test/y")), ["BODY_MOSTLY_LINKS"]);
  assert.deepEqual(names(GOOD.replace("See you at noon.", "The agenda for tomorrow is at http://wiki.test/agenda, please read it before we meet at noon.")), []);
  assert.deepEqual(names(GOOD.replace("Subject: Lunch tomorrow", "Subject: =?utf-8?q?=C3=84RGER_MIT_DER_BANK?=")), ["SUBJECT_ALL_CAPS"]);
});
