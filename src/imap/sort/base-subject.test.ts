// RFC 5256 §2.1 base subject extraction: the RFC's steps on known subjects, properties on
// generated ones, and hostile subjects that must cost linear time.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { asciiCasemap, baseSubject } from "./base-subject.js";

test("known subjects reduce to their base subject", () => {
  const cases: [string | null, string, boolean][] = [
    [null, "", false],
    ["", "", false],
    ["Hello", "HELLO", false],
    ["Re: Hello", "HELLO", true],
    ["RE:   Hello  ", "HELLO", true],
    ["Re: re: Fwd: FW: hello", "HELLO", true],
    ["Re[2]: hello", "HELLO", true],
    ["Re [2]: hello", "HELLO", true],
    ["[list] Re: hello", "HELLO", true],
    ["[list] [other] Re: [x] Fw: hello", "HELLO", true],
    ["[list] hello", "HELLO", false],
    ["[only-a-blob]", "[ONLY-A-BLOB]", false],
    ["hello (fwd)", "HELLO", true],
    ["hello (FWD) (fwd)  ", "HELLO", true],
    ["[Fwd: Re: hello]", "HELLO", true],
    ["[fwd: [fwd: hello (fwd)]]", "HELLO", true],
    ["Re: [Fwd: hello]", "HELLO", true],
    ["hello\r\n\tworld", "HELLO WORLD", false],
    ["a  \t b", "A B", false],
    ["=?UTF-8?Q?Re=3A_Gr=C3=BC=C3=9Fe?=", "GRüßE", true],
    ["=?ISO-8859-1?Q?R=E9union?=", "RéUNION", false],
    ["Rex: not a reply", "REX: NOT A REPLY", false],
    ["Re hello", "RE HELLO", false],
    ["Re:", "", true],
    ["[ä] hello", "[ä] HELLO", false],
  ];
  for (const [raw, key, marked] of cases) {
    const got = baseSubject(raw);
    assert.equal(got.key, key, `${String(raw)}`);
    assert.equal(got.isReplyOrForward, marked, `${String(raw)} reply/forward`);
  }
});

test("extraction is idempotent and never leaves leading or trailing spaces", () => {
  const piece = fc.constantFrom("Re:", "re", "Fw:", "FWD:", "fwd", "[", "]", "[x]", "[fwd:", "(fwd)", " ", "\t", "\r\n ", ":", "a", "Z", "é", "=?utf-8?q?re=3A?=", "[Fwd: ", "Re[3]:");
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 20 }), (pieces) => {
      const { key } = baseSubject(pieces.join(""));
      assert.equal(key, key.trim());
      assert.ok(!/\s\s/.test(key));
      assert.equal(baseSubject(key).key, key);
    }),
    { numRuns: 3000 },
  );
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 60 }), (text) => typeof baseSubject(text).key === "string"), { numRuns: 2000 });
});

test("a reply prefix on any subject gives that subject's base", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), fc.constantFrom("Re: ", "RE: ", "Fwd: ", "[list] Re: ", "Fw[2]: "), (subject, prefix) => {
      assert.equal(baseSubject(prefix + subject).key, baseSubject(subject).key);
    }),
    { numRuns: 2000 },
  );
});

test("hostile subjects take linear work", () => {
  // Each would be quadratic (or worse) with a slice per removed prefix or a backtracking pattern;
  // the budget is generous (the machine is shared): it only catches the blow-up.
  const hostile = ["Re: ".repeat(60_000) + "x", "[a]".repeat(60_000), "[a]".repeat(60_000) + "x", "[fwd: ".repeat(30_000) + "x" + "]".repeat(30_000), "x" + " (fwd)".repeat(40_000), "[".repeat(100_000), "re".repeat(100_000)];
  for (const subject of hostile) {
    const started = process.hrtime.bigint();
    baseSubject(subject);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 5000, `${subject.slice(0, 12)}… took ${ms} ms`);
  }
  assert.equal(baseSubject("Re: ".repeat(60_000) + "x").key, "X");
  assert.equal(baseSubject("[a]".repeat(3) + "x").key, "X");
});

test("i;ascii-casemap upper-cases ASCII letters only", () => {
  assert.equal(asciiCasemap("abc ÄÖü xyz"), "ABC ÄÖü XYZ");
});
