import { test } from "node:test";
import assert from "node:assert/strict";
import { checkSieveScript } from "./sieve.js";
import { AdminError } from "./validation.js";
import { checkedFilters, filtersScript, NO_FILTERS, parseFiltersScript } from "./account-filters.js";

test("forwarding and out-of-office become one Sieve script that compiles and reads back the same", () => {
  const filters = checkedFilters({ forwardTo: "Bob@Example.NET", keepCopy: true, vacation: { enabled: true, subject: 'Away "now"', body: "Back on Monday.\nC:\\ not a path", days: 3 } });
  const script = filtersScript(filters);
  checkSieveScript(script, 65536, 15);
  assert.match(script, /^require \["vacation", "copy"\];\r?$/m);
  assert.match(script, /^vacation :days 3 :subject "Away \\"now\\"" "Back on Monday\.\nC:\\\\ not a path";\r?$/m);
  assert.match(script, /^redirect :copy "bob@example\.net";\r?$/m);
  assert.deepEqual(parseFiltersScript(script), filters);
  const forwardOnly = filtersScript(checkedFilters({ forwardTo: "bob@example.net", keepCopy: false }));
  checkSieveScript(forwardOnly, 65536, 15);
  assert.match(forwardOnly, /^redirect "bob@example\.net";\r?$/m);
  assert.doesNotMatch(forwardOnly, /require/);
  const off = filtersScript(NO_FILTERS);
  checkSieveScript(off, 65536, 15);
  assert.doesNotMatch(off, /^(require|vacation|redirect)/m, "nothing set: a script of comments only");
  assert.deepEqual(parseFiltersScript(off), NO_FILTERS);
  assert.equal(parseFiltersScript('require "fileinto";\r\nfileinto "x";'), null, "a script written elsewhere is not ours");
});

test("bad settings are refused with the reason", () => {
  const refused = (input: unknown, text: RegExp) => assert.throws(() => checkedFilters(input), (e: unknown) => e instanceof AdminError && e.kind === "invalid-argument" && text.test(e.message));
  refused({ forwardTo: "not an address" }, /address/);
  refused({ vacation: { enabled: true, body: "" } }, /needs a text/);
  refused({ vacation: { enabled: true, body: "x", days: 0 } }, /days/);
  refused({ vacation: { enabled: true, body: "x".repeat(4001) } }, /at most 4000/);
  refused({ vacation: { enabled: true, body: "bell\x07" } }, /control/);
  refused([], /object/);
  refused({ keepCopy: "yes" }, /keepCopy/);
});
