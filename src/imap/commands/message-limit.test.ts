// RFC 9738 MESSAGELIMIT helpers (message-limit.ts) and the UIDAFTER / UIDBEFORE keys.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Uid } from "../../store/index.js";
import { ArgumentReader } from "../protocol/arguments.js";
import { mapSearchSets, parseSearchCriteria, type SearchKey } from "../protocol/search-key.js";
import { resolveRanges } from "../protocol/sequence-set.js";
import type { CommandContext } from "./command.js";
import { ImapError } from "./imap-error.js";
import { keepHighest, refuseOverLimit, searchUniverse } from "./message-limit.js";

function context(limit: number | null): { ctx: CommandContext; noted: number[] } {
  const noted: number[] = [];
  return { ctx: { messageLimit: limit, messageLimitReached: (uid: number) => noted.push(uid) } as unknown as CommandContext, noted };
}

const all = [1, 2, 3, 5, 8, 13, 21] as Uid[];
const criteria = (text: string) => parseSearchCriteria(new ArgumentReader({ lines: [Buffer.from(text)], literals: [] }, { utf8Names: false })).key;
/** Resolves sets against `all` as UIDs (sequence numbers as positions), as the session would. */
function resolved(text: string): SearchKey<ReadonlySet<Uid>> {
  return mapSearchSets(criteria(text), (set, kind) => {
    if (set.kind !== "ranges") return new Set<Uid>();
    const ranges = resolveRanges(set, kind === "uid" ? 21 : all.length);
    const inRanges = (n: number) => ranges.some((r) => n >= r.start && n <= r.end);
    return new Set(all.filter((uid, i) => inRanges(kind === "uid" ? uid : i + 1)));
  });
}

test("keepHighest keeps the last n and notes the lowest UID kept", () => {
  const limited = context(3);
  assert.deepEqual(keepHighest(limited.ctx, all, (u) => u), [8, 13, 21]);
  assert.deepEqual(limited.noted, [8]);
  const exact = context(7);
  assert.deepEqual(keepHighest(exact.ctx, all, (u) => u), all);
  assert.deepEqual(exact.noted, []);
  const none = context(null);
  assert.equal(keepHighest(none.ctx, all, (u) => u), all);
});

test("refuseOverLimit is NO [MESSAGELIMIT n] past the limit only", () => {
  refuseOverLimit(context(3).ctx, 3, "COPY");
  refuseOverLimit(context(null).ctx, 1e6, "COPY");
  assert.throws(
    () => refuseOverLimit(context(3).ctx, 4, "COPY"),
    (error: unknown) => error instanceof ImapError && error.status === "NO" && error.code === "MESSAGELIMIT 3",
  );
});

test("UIDAFTER and UIDBEFORE are UID ranges; the top-level sets narrow what is searched", () => {
  assert.deepEqual(searchUniverse(resolved("UIDAFTER 5"), all), [8, 13, 21]);
  assert.deepEqual(searchUniverse(resolved("UIDBEFORE 5"), all), [1, 2, 3]);
  assert.deepEqual(searchUniverse(resolved("UIDAFTER 2 UIDBEFORE 13 SEEN"), all), [3, 5, 8]);
  assert.deepEqual(searchUniverse(resolved("2:3 UID 3:21"), all), [3]);
  // Inside OR or NOT a set narrows nothing.
  assert.deepEqual(searchUniverse(resolved("OR UID 1 UID 21"), all), all);
  assert.deepEqual(searchUniverse(resolved("NOT UID 1"), all), all);
  assert.deepEqual(criteria("UIDBEFORE 1"), { kind: "not", key: { kind: "all" } });
  assert.deepEqual(criteria("UIDAFTER 4294967295"), { kind: "not", key: { kind: "all" } });
  assert.throws(() => criteria("UIDAFTER 0"));
  assert.throws(() => criteria("UIDBEFORE x"));
});
