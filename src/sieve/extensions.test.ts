// date/index (RFC 5260), environment (RFC 5183), spamtest/virustest (RFC 5235): the values the
// tests see and the errors the compiler gives. Pigeonhole agreement is test/e2e/sieve-differential.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compileScript } from "./compile.js";
import { datePart, parseDateTime } from "./dates.js";
import { runScript, type RunContext } from "./interpreter.js";
import { sieveMessage } from "./message.js";

const MESSAGE = sieveMessage(Buffer.from("Date: Thu, 31 Dec 2026 23:30:00 -0100\r\nFrom: a@example.net\r\nSubject: s\r\n\r\nbody\r\n"));

function folders(script: string, extra: Partial<RunContext> = {}): string[] {
  const result = runScript(compileScript(script), { message: MESSAGE, envelope: { from: "a@example.net", to: "b@example.org" }, mailboxExists: () => true, ...extra });
  return result.actions.map((a) => (a.type === "fileinto" ? a.mailbox : a.type));
}

test("date: zones move the day, the year and the weekday; a bad date is no date", () => {
  const r = 'require ["fileinto", "date", "variables"];';
  assert.deepEqual(folders(`${r} if date :matches "date" "iso8601" "*" { fileinto "\${1}"; }`), ["2027-01-01T00:30:00Z"]);
  assert.deepEqual(folders(`${r} if date :originalzone :matches "date" "std11" "*" { fileinto "\${1}"; }`), ["Thu, 31 Dec 2026 23:30:00 -0100"]);
  assert.deepEqual(folders(`${r} if date :zone "+0530" :matches "date" "weekday" "*" { fileinto "\${1}"; }`), ["5"]);
  assert.deepEqual(folders(`${r} if date :matches "date" "year" "*" { fileinto "\${1}"; }`, { localOffsetMinutes: -120 }), ["2026"], "the local zone is used without :zone");
  assert.equal(parseDateTime("31 Feb 2026 10:00 +0000"), null);
  assert.equal(parseDateTime("yesterday"), null);
  assert.equal(datePart(parseDateTime("1 Jan 70 00:00 GMT")!, "julian"), "40587");
  assert.deepEqual(folders(`${r} if currentdate :zone "+0000" :matches "date" "*" { fileinto "\${1}"; }`, { now: new Date("2030-05-06T07:08:09Z") }), ["2030-05-06"]);
});

test("date and index: compile errors name the problem", () => {
  assert.throws(() => compileScript('require "date"; if date "date" "fortnight" "1" { stop; }'), /unknown date-part "fortnight"/);
  assert.throws(() => compileScript('require "date"; if date :zone "CET" "date" "year" "1" { stop; }'), /:zone needs/);
  assert.throws(() => compileScript('require "index"; if header :last "x" "y" { stop; }'), /:last needs :index/);
  assert.throws(() => compileScript('if header :index 1 "x" "y" { stop; }'), /needs require "index"/);
  assert.throws(() => compileScript('require "spamtest"; if spamtest :percent "1" { stop; }'), /needs require "spamtestplus"/);
});

test("environment: the items given, unknown ones false; spamtest and virustest: 0 when not tested", () => {
  const env = { location: "MDA", phase: "during", name: "Mailroom", host: "mx.example.org", domain: "example.org", version: "0.1.0" };
  assert.deepEqual(folders('require ["fileinto", "environment", "variables"]; if environment :matches "LOCATION" "*" { fileinto "${1}"; } if environment :is "remote-ip" "" { fileinto "ip"; }', { environment: env }), ["MDA"], "remote-ip is not known at delivery: false");
  const spam = 'require ["fileinto", "spamtestplus", "virustest", "variables"]; if spamtest :matches "*" { fileinto "s${1}"; } if spamtest :percent :matches "*" { fileinto "p${1}"; } if virustest :matches "*" { fileinto "v${1}"; }';
  assert.deepEqual(folders(spam), ["s0", "p0", "v0"]);
  assert.deepEqual(folders(spam, { spam: { score: 7, percent: 66 }, virus: 1 }), ["s7", "p66", "v1"]);
});

test("include: resolved before the run; loops, missing scripts and depth are refused; variables stay local unless global", async () => {
  const { resolveIncludes } = await import("./include.js");
  const library: Record<string, string> = {
    a: 'require "include"; include "b";',
    b: 'require "include"; include "a";',
    deep0: 'require "include"; include "deep1";',
    deep1: 'require "include"; include "deep2";',
    deep2: 'require "include"; include "deep3";',
    deep3: "keep;",
    vars: 'require ["include", "variables"]; global "shared"; set "shared" "from lib"; set "local" "from lib";',
  };
  const load = async (location: string, name: string) => (location === "personal" && library[name] ? compileScript(library[name]!) : null);
  await assert.rejects(resolveIncludes(compileScript('require "include"; include "a";'), load, 10), /circular include of "a"/);
  await assert.rejects(resolveIncludes(compileScript('require "include"; if false { include "missing"; }'), load, 10), /"missing" does not exist/);
  await assert.rejects(resolveIncludes(compileScript('require "include"; include "deep0";'), load, 3), /nested deeper than 3/);
  assert.equal((await resolveIncludes(compileScript('require "include"; include "deep0";'), load, 4)).size, 4);
  await assert.rejects(resolveIncludes(compileScript('require "include"; include "self";'), async () => compileScript('require "include"; include "self";'), 10, "personal:self"), /circular/);
  const main = compileScript('require ["include", "variables", "fileinto"]; global "shared"; set "local" "main"; include "vars"; fileinto "${shared}/${local}";');
  const includes = await resolveIncludes(main, load, 10);
  const result = runScript(main, { message: MESSAGE, envelope: { from: "", to: "b@example.org" }, mailboxExists: () => true, includes });
  assert.deepEqual(result.actions.map((a) => (a.type === "fileinto" ? a.mailbox : a.type)), ["from lib/main"]);
  assert.throws(() => compileScript('require "include"; global "x";'), /'global' needs require "variables"/);
  assert.throws(() => compileScript('require ["include", "variables"]; include "${x}";'), /invalid script name/);
});

test("duplicate: an unknown ID asks the caller; one answer per ID for the whole run; no Message-ID is never a duplicate", async () => {
  const { DuplicateLookupNeeded } = await import("./errors.js");
  const script = compileScript('require ["duplicate", "fileinto"]; if duplicate :seconds 999999999 { fileinto "A"; } if duplicate :last { fileinto "B"; }');
  const message = sieveMessage(Buffer.from("Message-ID: <m@x>\r\nSubject: s\r\n\r\n"));
  const ctx = { message, envelope: { from: "", to: "b@example.org" }, mailboxExists: () => true };
  assert.throws(() => runScript(script, { ...ctx, duplicates: new Map() }), (e: unknown) => e instanceof DuplicateLookupNeeded && e.key === "\u0000<m@x>");
  const seen = runScript(script, { ...ctx, duplicates: new Map([["\u0000<m@x>", true]]) });
  assert.deepEqual(seen.actions.map((a) => (a.type === "fileinto" ? a.mailbox : a.type)), ["A", "B"]);
  // :seconds is clamped to the site maximum; :last is carried to the store.
  assert.deepEqual(seen.duplicates, [{ key: "\u0000<m@x>", seconds: 7 * 86_400, last: false }, { key: "\u0000<m@x>", seconds: 12 * 3600, last: true }]);
  const noId = runScript(script, { ...ctx, message: sieveMessage(Buffer.from("Subject: s\r\n\r\n")), duplicates: new Map() });
  assert.deepEqual(noId.duplicates, []);
  assert.deepEqual(noId.actions.map((a) => a.type), ["keep"]);
});
