import { test } from "node:test";
import assert from "node:assert/strict";
import { compileScript } from "./compile.js";
import { SieveSyntaxError } from "./errors.js";
import { runScript, type SieveAction } from "./interpreter.js";
import { wildcardMatch } from "./match.js";
import { parseAddressList, sieveMessage } from "./message.js";

const MESSAGE = Buffer.from(
  [
    "From: Boss <boss@example.com>",
    "To: me+lists@example.org, other@example.net",
    "Subject: =?utf-8?q?Hello_w=C3=B6rld?= [urgent]",
    "X-Priority: 2",
    "List-Id: <dev.lists.example.com>",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "The body says invoice 42.",
    "",
  ].join("\r\n"),
);

function run(script: string, envelope = { from: "boss@example.com", to: "me+lists@example.org" }, exists: string[] = ["INBOX", "Work"]): SieveAction[] {
  const compiled = compileScript(script);
  return runScript(compiled, { message: sieveMessage(MESSAGE), envelope, mailboxExists: (n) => exists.includes(n) }).actions;
}

test("no script actions: implicit keep", () => {
  assert.deepEqual(run("# nothing\n"), [{ type: "keep", flags: [] }]);
});

test("fileinto with header :contains, flags from imap4flags, and stop", () => {
  const actions = run(`require ["fileinto", "imap4flags"];
if header :contains "subject" "wörld" { addflag "\\\\Flagged"; fileinto "Work"; stop; }
fileinto "Never";`);
  assert.deepEqual(actions, [{ type: "fileinto", mailbox: "Work", flags: ["\\Flagged"], create: false, copy: false }]);
});

test("elsif/else chains take one branch", () => {
  const script = `require "fileinto";
if header :is "x-priority" "1" { fileinto "A"; } elsif header :is "x-priority" "2" { fileinto "B"; } else { fileinto "C"; }`;
  assert.equal((run(script)[0] as { mailbox: string }).mailbox, "B");
});

test("address parts, subaddress, envelope", () => {
  const script = `require ["fileinto", "subaddress", "envelope"];
if allof (address :domain "from" "example.com", envelope :detail "to" "lists", address :user "to" "me") { fileinto "Lists"; }`;
  assert.equal((run(script)[0] as { mailbox: string }).mailbox, "Lists");
  assert.equal(run(script, { from: "", to: "me@example.org" })[0]!.type, "keep");
});

test("variables with :matches captures and set modifiers", () => {
  const script = `require ["fileinto", "variables"];
if header :matches "list-id" "<*.lists.*>" { set :upper "l" "\${1}"; fileinto "L/\${l}/\${2}"; }`;
  assert.equal((run(script)[0] as { mailbox: string }).mailbox, "L/DEV/example.com");
});

test("relational :count and :value with i;ascii-numeric", () => {
  const script = `require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if allof (address :count "ge" :comparator "i;ascii-numeric" "to" "2", header :value "lt" :comparator "i;ascii-numeric" "x-priority" "3") { fileinto "Rel"; }`;
  assert.equal((run(script)[0] as { mailbox: string }).mailbox, "Rel");
});

test("body :text :contains, copy keeps the implicit keep, redirect, reject", () => {
  const actions = run(`require ["body", "copy", "fileinto"];
if body :text :contains "invoice" { fileinto :copy "Invoices"; redirect :copy "archive@example.net"; }`);
  assert.deepEqual(
    actions.map((a) => a.type),
    ["fileinto", "redirect", "keep"],
  );
  assert.deepEqual(run(`require "reject"; reject "no";`), [{ type: "reject", reason: "no", extended: false }]);
});

test("encoded-character decodes only when required", () => {
  const actions = run(`require ["fileinto", "encoded-character"]; fileinto "\${hex:41 42}\${unicode:263a}";`);
  assert.equal((actions[0] as { mailbox: string }).mailbox, "AB☺");
});

test("syntax errors name line and column", () => {
  assert.throws(() => compileScript('require "fileinto";\nif true {\n  fileinto "x"\n}'), (e: unknown) => e instanceof SieveSyntaxError && /^line 4:1: expected ';'/.test(e.message));
  assert.throws(() => compileScript('fileinto "x";'), /line 1:1: 'fileinto' needs require "fileinto"/);
  assert.throws(() => compileScript('require "nonesuch";'), /unsupported extension/);
  assert.throws(() => compileScript("else { keep; }"), /must follow/);
  assert.throws(() => compileScript("if true { keep; }\nrequire \"fileinto\";"), /line 2:1: require must come before/);
  assert.throws(() => compileScript('if header :is :contains "a" "b" { keep; }'), /conflicts/);
});

test("hostile scripts: deep nesting and long lists are refused quickly", () => {
  const deep = "if true { ".repeat(200) + "keep;" + " }".repeat(200);
  assert.throws(() => compileScript(deep), /nesting deeper than 32/);
  const nots = "if " + "not ".repeat(5000) + "true { keep; }";
  assert.throws(() => compileScript(nots), /nesting deeper/);
});

test("wildcards: shortest captures, escapes, no exponential blow-up", () => {
  assert.deepEqual(wildcardMatch("*@*.com", "a@b.c.com", "i;ascii-casemap"), ["a@b.c.com", "a", "b.c"]);
  assert.equal(wildcardMatch("a\\*b", "a*b", "i;octet")?.length, 1);
  assert.equal(wildcardMatch("a\\*b", "axb", "i;octet"), null);
  const started = Date.now();
  assert.equal(wildcardMatch("*a*a*a*a*a*a*a*b", "a".repeat(5000), "i;octet"), null);
  assert.ok(Date.now() - started < 2000);
});

test("address lists: display names, groups, comments", () => {
  assert.deepEqual(parseAddressList('"Doe, J" <j@d.com>, x@y.z (comment), grp: a@b.c, c@d.e;'), ["j@d.com", "x@y.z", "a@b.c", "c@d.e"]);
});
