import assert from "node:assert/strict";
import { test } from "node:test";
import { CommandReader, type ReadItem } from "./reader.js";

const LIMITS = { lineLength: 1024, maxQuotedBytes: 64, maxLiteralBytes: 100 };

function readAll(reader: CommandReader): ReadItem[] {
  const out: ReadItem[] = [];
  for (let item = reader.next(); item !== null; item = reader.next()) out.push(item);
  return out;
}

const show = (item: ReadItem): unknown =>
  item.kind === "error"
    ? { error: item.message, code: item.code }
    : item.tokens.map((t) => (t.kind === "string" ? `${t.literal ? "L" : "Q"}:${t.bytes.toString("utf8")}` : t.kind === "number" ? t.value : `A:${t.text}`));

test("atoms, numbers, quoted strings with escapes and both literal forms", () => {
  const r = new CommandReader(LIMITS);
  r.push(Buffer.from('PUTSCRIPT "my \\"s\\\\" {5+}\r\nkeep;\r\nHAVESPACE "x" 300\r\nCHECKSCRIPT {4}\r\nstop\r\n'));
  assert.deepEqual(readAll(r).map(show), [["A:PUTSCRIPT", 'Q:my "s\\', "L:keep;"], ["A:HAVESPACE", "Q:x", 300], ["A:CHECKSCRIPT", "L:stop"]]);
  assert.equal(r.partial, false);
});

test("a command split at every byte arrives whole", () => {
  const r = new CommandReader(LIMITS);
  const text = 'PUTSCRIPT "a" {10+}\r\n0123456789\r\n';
  const items: ReadItem[] = [];
  for (const byte of Buffer.from(text)) {
    r.push(Buffer.from([byte]));
    items.push(...readAll(r));
  }
  assert.deepEqual(items.map(show), [["A:PUTSCRIPT", "Q:a", "L:0123456789"]]);
});

test("an oversized literal is read past without being kept and refused with QUOTA/MAXSIZE", () => {
  const r = new CommandReader(LIMITS);
  r.push(Buffer.from('PUTSCRIPT "a" {500+}\r\n'));
  assert.deepEqual(readAll(r), []);
  assert.equal(r.partial, true);
  r.push(Buffer.alloc(499, 0x61));
  assert.deepEqual(readAll(r), []);
  r.push(Buffer.from("a\r\nNOOP\r\n"));
  const items = readAll(r).map(show);
  assert.deepEqual(items[0], { error: "literal of 500 octets is larger than the limit of 100", code: "QUOTA/MAXSIZE" });
  assert.deepEqual(items[1], ["A:NOOP"]);
  // A literal size beyond any integer does not break the reader either.
  r.push(Buffer.from("PUTSCRIPT {99999999999999999999+}\r\n"));
  assert.deepEqual(readAll(r), []);
});

test("bad syntax: the line is refused and the next one read", () => {
  const cases: [string, RegExp][] = [
    ['NOOP "unterminated\r\n', /line break/],
    ['NOOP "bad \\x escape"\r\n', /escaped/],
    ["NOOP {abc}\r\n", /malformed literal/],
    ['NOOP "a""b"\r\n', /space/],
    ["NOOP 99999999999\r\n", /number/],
    ["NOOP (x)\r\n", /unexpected/],
    [`NOOP "${"x".repeat(65)}"\r\n`, /quoted string longer than 64/],
  ];
  for (const [line, message] of cases) {
    const r = new CommandReader(LIMITS);
    r.push(Buffer.from(`${line}LOGOUT\r\n`));
    const items = readAll(r);
    assert.equal(items.length, 2, line);
    assert.equal(items[0]!.kind, "error", line);
    assert.match((items[0] as { message: string }).message, message, line);
    assert.deepEqual(show(items[1]!), ["A:LOGOUT"]);
  }
});

test("a line over managesieve.line_length is read past as it comes (not buffered) and refused at its end", () => {
  const r = new CommandReader(LIMITS);
  r.push(Buffer.from(`NOOP ${"a".repeat(2000)}`));
  const items = readAll(r);
  assert.equal(items.length, 0, "the error comes once the line is over");
  r.push(Buffer.from("\r\nLOGOUT\r\n"));
  const more = readAll(r).map(show);
  assert.deepEqual(more, [{ error: "line longer than 1024 octets", code: null }, ["A:LOGOUT"]]);
});
