import { test } from "node:test";
import assert from "node:assert/strict";
import { compileScript } from "./compile.js";
import { formatField } from "./editheader.js";
import { SieveRuntimeError, SieveSyntaxError } from "./errors.js";
import { DEFAULT_INTERPRETER_LIMITS, runScript, type InterpreterLimits, type RunResult, type SieveAction } from "./interpreter.js";
import { headerValues, sieveMessage } from "./message.js";

const MESSAGE = Buffer.from(
  [
    "Received: from a by b; Mon, 7 Dec 2026 10:00:00 +0000",
    "From: Alice <alice@example.com>",
    "To: bob@example.org",
    "Subject: Meeting",
    "X-A: one",
    "X-A: two",
    "X-A: =?utf-8?q?dr=C3=A9i?=",
    "Auto-Submitted: no",
    "",
    "The body.",
    "",
  ].join("\r\n"),
);

function run(script: string, limits: Partial<InterpreterLimits> = {}, bytes: Buffer = MESSAGE, size?: number): RunResult {
  return runScript(compileScript(script), {
    message: sieveMessage(bytes, size ?? bytes.length),
    envelope: { from: "alice@example.com", to: "bob@example.org" },
    mailboxExists: () => true,
    limits: { ...DEFAULT_INTERPRETER_LIMITS, ...limits },
  });
}

/** The full bytes an action would deliver. */
function bytesOf(action: SieveAction, original: Buffer = MESSAGE): Buffer {
  const edited = "edited" in action ? action.edited : undefined;
  return edited ? Buffer.concat([edited.header, original.subarray(edited.resumeAt)]) : original;
}

const folders = (r: RunResult): string[] => r.actions.map((a) => (a.type === "fileinto" ? a.mailbox : a.type));

test("editheader syntax errors are found when the script is compiled", () => {
  const bad = [
    'addheader "X-A" "1";',
    'require "editheader"; addheader "X A" "1";',
    'require "editheader"; addheader "X:A" "1";',
    'require "editheader"; deleteheader "Bad Name";',
    'require "editheader"; addheader "X-A" "line\nbreak";',
    'require "editheader"; deleteheader :last "X-A";',
    'require "editheader"; deleteheader "X-A" "v" "w";',
    'require "editheader"; deleteheader ["X-A", "X-B"];',
    'require "editheader"; addheader "X-A";',
    'require "editheader"; addheader :index 1 "X-A" "1";',
    'require "editheader"; deleteheader :regex "X-A" "a";',
  ];
  for (const script of bad) assert.throws(() => compileScript(script), SieveSyntaxError, script);
  // Folding (a line break followed by whitespace) is allowed; a name from a variable is checked when it runs.
  compileScript('require "editheader"; addheader "X-A" "folded\n value"; addheader :last "X-B" "v";');
  compileScript('require ["editheader", "variables"]; set "n" "X-C"; addheader "${n}" "v"; deleteheader :index 2 :last :contains "${n}" ["a", "b"];');
});

test("addheader inserts at the top, :last at the bottom; later tests see the fields, the body is unchanged", () => {
  const r = run(`require ["editheader", "fileinto", "index", "variables", "copy"];
addheader "X-New" "top";
addheader :last "X-End" "bottom";
if exists ["x-new", "x-end"] { fileinto :copy "Both"; }
if header :index 1 :matches "x-a" "*" { fileinto :copy "first-\${1}"; }`);
  assert.deepEqual(folders(r), ["Both", "first-one", "keep"]);
  const keep = r.actions[2]!;
  const text = bytesOf(keep).toString("utf8");
  assert.ok(text.startsWith("X-New: top\r\nReceived: from a by b"), text);
  assert.ok(text.includes("Auto-Submitted: no\r\nX-End: bottom\r\n\r\nThe body.\r\n"), text);
  assert.equal(bytesOf(keep).length, MESSAGE.length + "X-New: top\r\n".length + "X-End: bottom\r\n".length);
});

test(":index counts the fields as edited, added ones included; size sees the new size", () => {
  const r = run(`require ["editheader", "fileinto", "index", "variables", "relational", "comparator-i;ascii-numeric", "copy"];
addheader "X-A" "zero";
if header :index 1 :is "x-a" "zero" { fileinto :copy "AddedIsFirst"; }
if header :index 1 :last :is "x-a" "dréi" { fileinto :copy "LastStill"; }
if header :count "eq" :comparator "i;ascii-numeric" "x-a" "4" { fileinto :copy "Four"; }
if size :over ${MESSAGE.length + 5} { fileinto :copy "Bigger"; }`);
  assert.deepEqual(folders(r), ["AddedIsFirst", "LastStill", "Four", "Bigger", "keep"]);
});

test("deleteheader: every occurrence, :index, :index :last, value patterns over decoded values", () => {
  const left = (script: string): string[] => {
    const r = run(`require ["editheader", "index", "relational"]; ${script}`);
    return headerValues(sieveMessage(bytesOf(r.actions.at(-1)!)), "x-a");
  };
  assert.deepEqual(left('deleteheader "x-a";'), []);
  assert.deepEqual(left('deleteheader :index 2 "X-A";'), ["one", "dréi"]);
  assert.deepEqual(left('deleteheader :index 1 :last "X-A";'), ["one", "two"]);
  assert.deepEqual(left('deleteheader :index 5 "X-A";'), ["one", "two", "dréi"]);
  assert.deepEqual(left('deleteheader :contains "X-A" ["w", "é"];'), ["one"]);
  assert.deepEqual(left('deleteheader :is "X-A" "DRÉI";'), ["one", "two", "dréi"], "ascii-casemap folds A-Z only");
  assert.deepEqual(left('deleteheader :comparator "i;octet" :matches "X-A" "*o";'), ["one", "dréi"]);
  // The :index occurrence is the only candidate: it must also match.
  assert.deepEqual(left('deleteheader :index 1 :is "X-A" "two";'), ["one", "two", "dréi"]);
  assert.deepEqual(left('deleteheader :index 2 :last :value "ge" "X-A" "t";'), ["one", "dréi"]);
  // A field added then deleted again: the message is the received one (no edited copy at all).
  const undone = run('require "editheader"; addheader "X-Tmp" "1"; deleteheader "x-tmp";');
  assert.equal("edited" in undone.actions[0]! && undone.actions[0]!.edited !== undefined, false);
});

test("Received, Auto-Submitted and the redirect mark are protected; Subject is not (RFC 5293 §6)", () => {
  const r = run(`require ["editheader", "fileinto", "copy"];
deleteheader "Received"; deleteheader "auto-submitted"; addheader "X-Mailroom-Sieve-Redirected" "x@example.org";
if allof (exists "received", exists "auto-submitted", not exists "x-mailroom-sieve-redirected") { fileinto :copy "Protected"; }
deleteheader "subject"; addheader "Received" "from sieve";
if not exists "subject" { fileinto :copy "NoSubject"; }`);
  assert.deepEqual(folders(r), ["Protected", "NoSubject", "keep"]);
  assert.equal(r.warnings.length, 3);
  const final = sieveMessage(bytesOf(r.actions.at(-1)!));
  assert.deepEqual(headerValues(final, "received"), ["from sieve", "from a by b; Mon, 7 Dec 2026 10:00:00 +0000"]);
  // Nothing but refused edits: no edited copy.
  const refused = run('require "editheader"; deleteheader "received";');
  assert.deepEqual(refused.actions, [{ type: "keep", flags: [] }]);
});

test("each action captures the header as edited when it ran; the implicit keep gets the final one", () => {
  const r = run(`require ["editheader", "fileinto", "copy"];
fileinto :copy "Before";
addheader "X-Step" "1";
redirect :copy "x@example.net";
fileinto :copy "Middle";
addheader "X-Step" "2";`);
  assert.deepEqual(folders(r), ["Before", "redirect", "Middle", "keep"]);
  const steps = r.actions.map((a) => headerValues(sieveMessage(bytesOf(a)), "x-step"));
  assert.deepEqual(steps, [[], ["1"], ["1"], ["2", "1"]]);
  // Same version, same captured object: delivery stages it once.
  const [, redirect, middle] = r.actions as (SieveAction & { edited?: unknown })[];
  assert.equal(redirect!.edited, middle!.edited);
});

test("added values are RFC 2047 encoded when not ASCII and folded when long; they read back unchanged", () => {
  const value = "Grüße aus Köln — ein ziemlich langer Betreff mit Umlauten, der über die Zeilenlänge hinausgeht";
  const r = run(`require ["editheader", "fileinto", "variables", "copy"];
addheader "X-Note" "${value}";
if header :is "x-note" "${value}" { fileinto :copy "Same"; }`);
  assert.deepEqual(folders(r), ["Same", "keep"]);
  const bytes = bytesOf(r.actions[1]!);
  const header = bytes.toString("latin1").split("\r\n\r\n")[0]!;
  assert.match(header, /^X-Note: =\?utf-8\?q\?Gr=C3=BC=C3=9Fe/);
  assert.ok(/^[\x00-\x7f]*$/.test(header), "the header is 7-bit");
  for (const line of header.split("\r\n")) assert.ok(line.length <= 78, `line of ${line.length}: ${line}`);
  assert.deepEqual(headerValues(sieveMessage(bytes), "x-note"), [value]);
  // Plain ASCII is folded at its own spaces (unfolding gives it back); a huge word is encoded to stay under 998.
  const ascii = Array.from({ length: 30 }, (_, i) => `word${i}`).join(" ");
  const folded = formatField("X-Long", ascii, "\r\n");
  assert.ok(folded.split("\r\n").length > 1 && folded.split("\r\n").every((l) => l.length <= 78));
  assert.equal(folded.replace(/\r\n(?=[ \t])/g, ""), `X-Long: ${ascii}`);
  const word = "x".repeat(1500);
  const huge = formatField("X-Huge", word, "\n");
  assert.ok(huge.split("\n").every((l) => l.length <= 998));
  assert.deepEqual(headerValues(sieveMessage(Buffer.from(`${huge}\n\n`)), "x-huge"), [word]);
});

test("run-time errors and limits: bad names from variables, long values, too many edits, a header not read whole", () => {
  const failure = (fn: () => unknown, kind: "limit" | "runtime"): void => {
    assert.throws(fn, (e: unknown) => e instanceof SieveRuntimeError && e.kind === kind);
  };
  failure(() => run('require ["editheader", "variables"]; set "n" "Bad Name"; addheader "${n}" "v";'), "runtime");
  failure(() => run('require ["editheader", "variables"]; set "n" "a:b"; deleteheader "${n}";'), "runtime");
  failure(() => run('require ["editheader", "variables"]; set "v" "a\nb"; addheader "X-V" "${v}";'), "runtime");
  failure(() => run(`require "editheader"; addheader "X-V" "${"v".repeat(1100)}";`, { maxAddedHeaderBytes: 1024 }), "limit");
  run(`require "editheader"; addheader "X-V" "${"v".repeat(1000)}";`, { maxAddedHeaderBytes: 1024 });
  failure(() => run('require "editheader"; addheader "X-1" "1"; addheader "X-2" "2"; deleteheader "X-1";', { maxHeaderEdits: 2 }), "limit");
  // Only the first 40 octets were read of a longer header: editing it is refused, testing it is not.
  const partial = MESSAGE.subarray(0, 40);
  failure(() => run('require "editheader"; addheader "X-V" "v";', {}, partial, MESSAGE.length), "limit");
  assert.deepEqual(run("keep;", {}, partial, MESSAGE.length).actions, [{ type: "keep", flags: [] }]);
});

test("LF-only messages get LF-only added fields; lines that are no field are kept", () => {
  const lf = Buffer.from("From: a@example.com\nnot a field line\nSubject: s\n\nbody\n");
  const r = run('require "editheader"; addheader :last "X-N" "v"; deleteheader "subject";', {}, lf);
  assert.equal(bytesOf(r.actions[0]!, lf).toString(), "From: a@example.com\nnot a field line\nX-N: v\n\nbody\n");
});
