import assert from "node:assert/strict";
import { test } from "node:test";
import { compileScript } from "./compile.js";
import { SieveRuntimeError } from "./errors.js";
import { DEFAULT_INTERPRETER_LIMITS, runScript } from "./interpreter.js";
import { sieveMessage } from "./message.js";
import { compileRegex, RegexBudgetError, RegexSyntaxError, regexSearch } from "./regex.js";

const search = (pattern: string, value: string, caseless = false): string[] | null => regexSearch(compileRegex(pattern, caseless, 10_000), value, { steps: 10_000_000 });

test("POSIX extended syntax: groups, alternation, bounds, classes, anchors, leftmost-longest", () => {
  assert.deepEqual(search("(a|ab)(c|bcd)(d*)", "abcd"), ["abcd", "a", "bcd", ""]);
  assert.deepEqual(search("(Mee|Meeting)", "Meeting at 10"), ["Meeting", "Meeting"]);
  assert.deepEqual(search("^x{2,3}$", "xxx"), ["xxx"]);
  assert.equal(search("^x{2,3}$", "xxxx"), null);
  assert.deepEqual(search("[[:upper:]][^ ]*", "say Hello there"), ["Hello"]);
  assert.deepEqual(search("HELLO", "well hello", true), ["hello"]);
  assert.equal(search("HELLO", "well hello"), null);
  assert.deepEqual(search("a.c", "a\nc"), ["a\nc"]);
  assert.deepEqual(search("\\.com$", "x.com"), [".com"]);
  for (const bad of ["(", "a)", "[abc", "*a", "a{3,1}", "[[:nope:]]", "\\1", "a{5000}"]) assert.throws(() => compileRegex(bad, false, 10_000), RegexSyntaxError, bad);
  assert.throws(() => compileRegex("(a{1000}){1000}", false, 10_000), /more than 10000 states/);
});

test("regex bombs run in linear time", () => {
  const text = `${"a".repeat(20_000)}!`;
  for (const bomb of ["(a+)+$", "^(a|a)*$", "(a*)*b", "(a|aa)+c", "(.*a){12}x"]) {
    const started = performance.now();
    assert.equal(search(bomb, text), null);
    assert.ok(performance.now() - started < 2000, `${bomb} took ${Math.round(performance.now() - started)} ms`);
  }
});

test("the step budget of a run ends it as a limit (implicit keep by the caller); a bad pattern is a compile error", () => {
  const message = sieveMessage(Buffer.from(`Subject: ${"a".repeat(5000)}!\r\n\r\n`));
  const script = compileScript('require ["regex", "fileinto"]; if header :regex "subject" "(a+)+$" { fileinto "X"; }');
  const ctx = { message, envelope: { from: "", to: "a@example.org" }, mailboxExists: () => true };
  assert.deepEqual(runScript(script, ctx).actions, [{ type: "keep", flags: [] }]);
  assert.throws(
    () => runScript(script, { ...ctx, limits: { ...DEFAULT_INTERPRETER_LIMITS, maxRegexSteps: 10_000 } }),
    (e: unknown) => e instanceof SieveRuntimeError && e.kind === "limit" && /sieve.max_regex_steps/.test(e.message),
  );
  assert.throws(() => compileScript('require "regex"; if header :regex "subject" "(unclosed" { stop; }'), /line 1:\d+: invalid regular expression/);
  assert.throws(() => compileScript('if header :regex "subject" "x" { stop; }'), /needs require "regex"/);
  assert.ok(RegexBudgetError);
});
