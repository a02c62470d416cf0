import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parsePop3Command } from "./command.js";

const parse = (line: string | Buffer) => parsePop3Command(typeof line === "string" ? Buffer.from(line, "utf8") : line, { maxLineOctets: 253 });

test("keywords are case-insensitive and arguments are typed", () => {
  const cases: [string, unknown][] = [
    ["STAT", { kind: "STAT" }],
    ["stat", { kind: "STAT" }],
    ["List", { kind: "LIST", message: null }],
    ["LIST 3", { kind: "LIST", message: 3 }],
    ["retr 007", { kind: "RETR", message: 7 }],
    ["DELE 1", { kind: "DELE", message: 1 }],
    ["TOP 2 0", { kind: "TOP", message: 2, lines: 0 }],
    ["top 2  10", { kind: "TOP", message: 2, lines: 10 }],
    ["UIDL", { kind: "UIDL", message: null }],
    ["UIDL 12", { kind: "UIDL", message: 12 }],
    ["USER alice@example.org", { kind: "USER", name: "alice@example.org" }],
    ["PASS secret with spaces ", { kind: "PASS", password: "secret with spaces " }],
    ["AUTH", { kind: "AUTH", mechanism: null, initialResponse: null }],
    ["AUTH PLAIN", { kind: "AUTH", mechanism: "PLAIN", initialResponse: null }],
    ["AUTH PLAIN AGFsaWNlAHB3", { kind: "AUTH", mechanism: "PLAIN", initialResponse: "AGFsaWNlAHB3" }],
    ["APOP mrose c4c9334bac560ecc979e58001b3e22fb", { kind: "APOP" }],
    ["CAPA", { kind: "CAPA" }],
    ["stls", { kind: "STLS" }],
    ["NOOP  ", { kind: "NOOP" }],
    ["RSET", { kind: "RSET" }],
    ["QUIT", { kind: "QUIT" }],
  ];
  for (const [line, expected] of cases) assert.deepEqual(parse(line), expected, line);
});

test("hostile and malformed lines are syntax errors with a reason", () => {
  const cases: [string | Buffer, string][] = [
    ["", "empty"],
    ["   ", "empty"],
    ["XYZZY", "unknown-command"],
    ["UTF8", "unknown-command"],
    ["RETR", "bad-arguments"],
    ["RETR x", "bad-arguments"],
    ["RETR -1", "bad-arguments"],
    ["RETR 1.5", "bad-arguments"],
    ["RETR 1 2", "bad-arguments"],
    ["RETR 99999999999999999999", "number-out-of-range"],
    ["RETR 2147483648", "number-out-of-range"],
    ["TOP 1", "bad-arguments"],
    ["TOP 1 99999999999", "number-out-of-range"],
    ["LIST 1 2", "bad-arguments"],
    ["STAT now", "bad-arguments"],
    ["USER", "bad-arguments"],
    ["USER a b", "bad-arguments"],
    ["PASS", "bad-arguments"],
    ["PASS ", "bad-arguments"],
    ["AUTH PLAIN a b", "bad-arguments"],
    [Buffer.from([0x55, 0x53, 0x45, 0x52, 0x20, 0xff]), "invalid-utf8"],
    ["NOOP " + "x".repeat(300), "too-long"],
  ];
  for (const [line, reason] of cases) {
    const parsed = parse(line);
    assert.equal(parsed.kind, "syntax-error", String(line));
    assert.equal((parsed as { reason: string }).reason, reason, String(line));
  }
  assert.deepEqual(parse("RETR 0002147483647"), { kind: "RETR", message: 2147483647 });
});

test("property: any line parses to a command or a syntax error, never throws, numbers stay in range", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
        fc
          .tuple(fc.constantFrom("RETR", "top", "LIST", "uidl", "DELE", "USER", "PASS", "AUTH"), fc.array(fc.oneof(fc.nat().map(String), fc.string({ maxLength: 30 })), { maxLength: 3 }))
          .map(([k, a]) => Buffer.from([k, ...a].join(" "), "utf8")),
      ),
      (line) => {
        const parsed = parse(line);
        for (const value of Object.values(parsed)) {
          if (typeof value === "number") assert.ok(Number.isSafeInteger(value) && value >= 0 && value <= 2 ** 31 - 1);
        }
      },
    ),
  );
});
