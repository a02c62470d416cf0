import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ImapParseError } from "./parse-error.js";
import { encodeNumbers, encodeOrderedNumbers, iterateRanges, largestExplicit, parseSequenceSet, rangesContain, resolveRanges, type SequenceSet } from "./sequence-set.js";

const ranges = (set: SequenceSet) => {
  assert.equal(set.kind, "ranges");
  return set.kind === "ranges" ? set.ranges : [];
};

describe("parseSequenceSet", () => {
  const valid: [string, unknown][] = [
    ["1", [{ start: 1, end: 1 }]],
    ["4:2", [{ start: 2, end: 4 }]],
    ["1:3,2:5,7,8", [{ start: 1, end: 5 }, { start: 7, end: 8 }]],
    ["9,1", [{ start: 1, end: 1 }, { start: 9, end: 9 }]],
    ["1:4294967295", [{ start: 1, end: 4294967295 }]],
    ["5:*", [{ start: 5, end: "*" }]],
  ];
  for (const [text, expected] of valid) {
    it(`reads ${text}`, () => assert.deepEqual(ranges(parseSequenceSet(text)), expected));
  }
  it("reads $ as the saved result", () => assert.deepEqual(parseSequenceSet("$"), { kind: "saved" }));

  for (const hostile of ["", "0", "1:0", "4294967296", "99999999999999999999", "1,,5", "1:2a", ",1", "1,", "1::2", "-1", "1:*:3", "$,1", "01"]) {
    it(`refuses ${JSON.stringify(hostile)} with BAD`, () => {
      assert.throws(() => parseSequenceSet(hostile), (e: unknown) => e instanceof ImapParseError && e.status === "BAD");
    });
  }
});

describe("resolving and iterating", () => {
  it("resolves * to the largest number, ordering the ends (RFC 9051 §6.4.8)", () => {
    const set = parseSequenceSet("559:*");
    assert.deepEqual(resolveRanges(set as Extract<SequenceSet, { kind: "ranges" }>, 10), [{ start: 10, end: 559 }]);
  });
  it("* names nothing in an empty mailbox", () => {
    assert.deepEqual(resolveRanges(parseSequenceSet("1:*,*") as Extract<SequenceSet, { kind: "ranges" }>, 0), []);
  });
  it("never expands a huge range to test membership", () => {
    const r = ranges(parseSequenceSet("1:4294967295,7")) as { start: number; end: number }[];
    assert.equal(rangesContain(r, 4294967295), true);
    assert.equal(rangesContain(r, 4294967296), false);
    const first = iterateRanges(r).next();
    assert.equal(first.value, 1);
  });
  it("knows the largest explicit number", () => {
    assert.equal(largestExplicit(parseSequenceSet("3,9:*,4") as Extract<SequenceSet, { kind: "ranges" }>), 9);
  });
  it("encodes compactly, sorted or in given order", () => {
    assert.equal(encodeNumbers([5, 1, 2, 3, 9, 8]), "1:3,5,8:9");
    assert.equal(encodeOrderedNumbers([3, 4, 1, 2, 7]), "3:4,1:2,7");
  });
  it("property: parse(encode(xs)) names exactly xs", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 60 }), (xs) => {
        const r = ranges(parseSequenceSet(encodeNumbers(xs))) as { start: number; end: number }[];
        assert.deepEqual([...iterateRanges(r)], [...xs].sort((a, b) => a - b));
      }),
    );
  });
  it("property: arbitrary text either parses or throws ImapParseError", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9:,*$a]{0,20}$/), (text) => {
        try {
          parseSequenceSet(text);
        } catch (error) {
          assert.ok(error instanceof ImapParseError);
        }
      }),
    );
  });
});
