import assert from "node:assert/strict";
import { test } from "node:test";
import type { Uid } from "../../store/index.js";
import { ArgumentReader } from "../protocol/arguments.js";
import { parseSearchProgram } from "../protocol/search-key.js";
import { SearchUpdates, sortedDiff, unsortedDiff, type ContextPair } from "./update-contexts.js";

const u = (xs: number[]): Uid[] => xs as Uid[];

/** What a client does with the pairs (RFC 5267 §4.3.3/§4.3.4): each pair in turn. */
function apply(list: number[], removed: readonly ContextPair[], added: readonly ContextPair[]): number[] {
  const out = [...list];
  for (const pair of removed) {
    for (const uid of pair.uids) {
      assert.equal(out[pair.position - 1], uid, `REMOVEFROM (${pair.position} ${uid}) names what is there`);
      out.splice(pair.position - 1, 1);
    }
  }
  for (const pair of added) out.splice(pair.position - 1, 0, ...pair.uids);
  return out;
}

test("sortedDiff: runs share a position, the client ends with the new order", () => {
  const { removed, added } = sortedDiff(u([8, 7, 2, 1]), u([8, 7, 4, 3, 2, 1]));
  assert.deepEqual(removed, []);
  assert.deepEqual(added, [{ position: 3, uids: [4, 3] }]);
  const second = sortedDiff(u([9, 8, 7, 6, 5]), u([9, 5]));
  assert.deepEqual(second.removed, [{ position: 2, uids: [8, 7, 6] }]);
});

test("sortedDiff: any change of membership or order is reproduced by applying the pairs", () => {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 300; round++) {
    const universe = Array.from({ length: 12 }, (_, i) => i + 1);
    const before = universe.filter(() => rand(2) === 0).sort(() => rand(3) - 1);
    const after = universe.filter(() => rand(2) === 0).sort(() => rand(3) - 1);
    const { removed, added } = sortedDiff(u(before), u(after));
    assert.deepEqual(apply(before, removed, added), after, `${before} -> ${after}`);
  }
});

test("unsortedDiff: removals and additions in mailbox order", () => {
  assert.deepEqual(unsortedDiff(u([1, 3, 5]), u([1, 4, 5, 9])), { removed: [3], added: [4, 9] });
  assert.deepEqual(unsortedDiff(u([1]), u([1])), { removed: [], added: [] });
});

test("SearchUpdates: the limit, CANCELUPDATE all-or-nothing", () => {
  const updates = new SearchUpdates(2);
  const context = (tag: string) => ({ tag, byUid: true, key: { kind: "all" } as never, sort: null, result: [] });
  assert.equal(updates.add(context("a")), true);
  assert.equal(updates.add(context("b")), true);
  assert.equal(updates.add(context("c")), false, "the third is refused");
  assert.deepEqual(updates.cancel(["a", "zz"]), ["zz"]);
  assert.equal(updates.size, 2, "nothing cancelled when a tag is unknown");
  assert.deepEqual(updates.cancel(["a"]), []);
  assert.equal(updates.has("a"), false);
  assert.equal(updates.needsSnapshot(), false);
});

test("RETURN (UPDATE) and (CONTEXT) alone answer ALL; with other options, those", () => {
  const opts = (text: string) => parseSearchProgram(ArgumentReader.ofLine(text)).returnOptions;
  assert.deepEqual([...opts("RETURN (UPDATE) ALL")!], ["UPDATE", "ALL"]);
  assert.deepEqual([...opts("RETURN (CONTEXT) ALL")!], ["CONTEXT", "ALL"]);
  assert.deepEqual([...opts("RETURN (UPDATE COUNT) ALL")!], ["UPDATE", "COUNT"]);
  assert.throws(() => opts("RETURN (UPDATES) ALL"), /unknown RETURN option/);
});
