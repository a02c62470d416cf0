// GreylistStore over SQLite (migration 17): greylist_triplets (first seen, passed) and
// greylist_whitelist (sender keys that retried correctly, until when they skip greylisting).
import type { GreylistCheck, GreylistDecision } from "../greylist-store.js";
import type { StoreContext } from "./store-context.js";

export function checkGreylist(ctx: StoreContext, check: GreylistCheck): GreylistDecision {
  const now = check.now.getTime();
  const listed = ctx.sql.get<{ until: number }>("SELECT until FROM greylist_whitelist WHERE sender = ?", check.sender);
  if (listed && listed.until > now) return { kind: "pass" };
  const row = ctx.sql.get<{ first_seen: number; passed: number }>("SELECT first_seen, passed FROM greylist_triplets WHERE triplet = ?", check.triplet);
  const expired = row !== undefined && row.passed === 0 && now - row.first_seen > check.retryWindowSeconds * 1000;
  if (row === undefined || expired) {
    ctx.sql.run("INSERT INTO greylist_triplets (triplet, first_seen, passed, last_seen) VALUES (?, ?, 0, ?) ON CONFLICT(triplet) DO UPDATE SET first_seen = excluded.first_seen, passed = 0, last_seen = excluded.last_seen", check.triplet, now, now);
    return { kind: "new" };
  }
  const waited = now - row.first_seen;
  if (row.passed === 0 && waited < check.delaySeconds * 1000) {
    ctx.sql.run("UPDATE greylist_triplets SET last_seen = ? WHERE triplet = ?", now, check.triplet);
    return { kind: "early", retryInSeconds: Math.ceil((check.delaySeconds * 1000 - waited) / 1000) };
  }
  ctx.sql.run("UPDATE greylist_triplets SET passed = 1, last_seen = ? WHERE triplet = ?", now, check.triplet);
  ctx.sql.run(
    "INSERT INTO greylist_whitelist (sender, until) VALUES (?, ?) ON CONFLICT(sender) DO UPDATE SET until = excluded.until",
    check.sender,
    now + check.whitelistSeconds * 1000,
  );
  return { kind: "pass" };
}

export function expireGreylist(ctx: StoreContext, now: Date, maxAgeSeconds: number): number {
  const cutoff = now.getTime() - maxAgeSeconds * 1000;
  const triplets = ctx.sql.run("DELETE FROM greylist_triplets WHERE last_seen < ?", cutoff).changes;
  const senders = ctx.sql.run("DELETE FROM greylist_whitelist WHERE until < ?", now.getTime()).changes;
  return triplets + senders;
}
