// SpamTokenStore and GreylistStore over PostgreSQL (migration 4): the same tables and rules as
// store/sqlite/spam-tokens.ts and greylist.ts, in statements that stay correct when several nodes
// train or greylist at once (upserts; the greylist decision locks its triplet row).
import type { GreylistCheck, GreylistDecision } from "../greylist-store.js";
import { packSpamTokens, unpackSpamTokens, type SpamClass, type SpamTokenCounts } from "../spam-store.js";
import type { AccountId } from "../types.js";
import { one, rows, type Sql } from "./database.js";

export async function readTokens(db: Sql, accountId: AccountId, tokens: readonly number[]): Promise<SpamTokenCounts> {
  const totals = (await one<{ spam: string; ham: string }>(db, "SELECT spam, ham FROM spam_totals WHERE account_id = $1", [accountId])) ?? { spam: "0", ham: "0" };
  const found = new Map<number, { spam: number; ham: number }>();
  const unique = [...new Set(tokens)];
  if (unique.length > 0) {
    const list = await rows<{ token: string; spam: number; ham: number }>(db, "SELECT token, spam, ham FROM spam_tokens WHERE account_id = $1 AND token = ANY($2::bigint[])", [accountId, unique]);
    for (const row of list) found.set(Number(row.token), { spam: row.spam, ham: row.ham });
  }
  return { spamMessages: Number(totals.spam), hamMessages: Number(totals.ham), tokens: found };
}

async function count(db: Sql, accountId: AccountId, tokens: readonly number[], kind: SpamClass, delta: 1 | -1): Promise<void> {
  const column = kind === "spam" ? "spam" : "ham";
  await db.query(`INSERT INTO spam_totals (account_id, spam, ham) VALUES ($1, 0, 0) ON CONFLICT (account_id) DO NOTHING`, [accountId]);
  await db.query(`UPDATE spam_totals SET ${column} = greatest(0, ${column} + $2) WHERE account_id = $1`, [accountId, delta]);
  const unique = [...new Set(tokens)];
  if (unique.length === 0) return;
  if (delta === 1) {
    await db.query(
      `INSERT INTO spam_tokens (account_id, token, spam, ham) SELECT $1, t, $3, $4 FROM unnest($2::bigint[]) AS t
       ON CONFLICT (account_id, token) DO UPDATE SET ${column} = spam_tokens.${column} + 1`,
      [accountId, unique, kind === "spam" ? 1 : 0, kind === "ham" ? 1 : 0],
    );
  } else {
    await db.query(`UPDATE spam_tokens SET ${column} = greatest(0, ${column} - 1) WHERE account_id = $1 AND token = ANY($2::bigint[])`, [accountId, unique]);
    await db.query("DELETE FROM spam_tokens WHERE account_id = $1 AND spam = 0 AND ham = 0 AND token = ANY($2::bigint[])", [accountId, unique]);
  }
}

export async function trainMessage(db: Sql, accountId: AccountId, messageKey: string, tokens: readonly number[], kind: SpamClass, now: Date): Promise<boolean> {
  if (!(await one(db, "SELECT 1 FROM accounts WHERE id = $1", [accountId]))) return false;
  // The row lock makes two nodes training the same message take turns.
  const previous = await one<{ kind: SpamClass; tokens: Buffer }>(db, "SELECT kind, tokens FROM spam_trained WHERE account_id = $1 AND message_key = $2 FOR UPDATE", [accountId, messageKey]);
  if (previous?.kind === kind) return false;
  if (previous) await count(db, accountId, unpackSpamTokens(previous.tokens), previous.kind, -1);
  await count(db, accountId, tokens, kind, 1);
  await db.query(
    `INSERT INTO spam_trained (account_id, message_key, kind, tokens, trained_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (account_id, message_key) DO UPDATE SET kind = excluded.kind, tokens = excluded.tokens, trained_at = excluded.trained_at`,
    [accountId, messageKey, kind, packSpamTokens(tokens), now.getTime()],
  );
  return true;
}

export async function checkGreylist(db: Sql, check: GreylistCheck): Promise<GreylistDecision> {
  const now = check.now.getTime();
  const listed = await one<{ until: string }>(db, "SELECT until FROM greylist_whitelist WHERE sender = $1", [check.sender]);
  if (listed && Number(listed.until) > now) return { kind: "pass" };
  // Insert-if-missing first, then lock the row: two nodes seeing the triplet at once decide in turn.
  await db.query("INSERT INTO greylist_triplets (triplet, first_seen, passed, last_seen) VALUES ($1, $2, false, $2) ON CONFLICT (triplet) DO NOTHING", [check.triplet, now]);
  const row = (await one<{ first_seen: string; passed: boolean; last_seen: string }>(db, "SELECT first_seen, passed, last_seen FROM greylist_triplets WHERE triplet = $1 FOR UPDATE", [check.triplet]))!;
  const firstSeen = Number(row.first_seen);
  if (!row.passed && firstSeen === now && Number(row.last_seen) === now) return { kind: "new" };
  if (!row.passed && now - firstSeen > check.retryWindowSeconds * 1000) {
    await db.query("UPDATE greylist_triplets SET first_seen = $2, last_seen = $2 WHERE triplet = $1", [check.triplet, now]);
    return { kind: "new" };
  }
  const waited = now - firstSeen;
  if (!row.passed && waited < check.delaySeconds * 1000) {
    await db.query("UPDATE greylist_triplets SET last_seen = $2 WHERE triplet = $1", [check.triplet, now]);
    return { kind: "early", retryInSeconds: Math.ceil((check.delaySeconds * 1000 - waited) / 1000) };
  }
  await db.query("UPDATE greylist_triplets SET passed = true, last_seen = $2 WHERE triplet = $1", [check.triplet, now]);
  await db.query("INSERT INTO greylist_whitelist (sender, until) VALUES ($1, $2) ON CONFLICT (sender) DO UPDATE SET until = excluded.until", [check.sender, now + check.whitelistSeconds * 1000]);
  return { kind: "pass" };
}

export async function expireGreylist(db: Sql, now: Date, maxAgeSeconds: number): Promise<number> {
  const cutoff = now.getTime() - maxAgeSeconds * 1000;
  const triplets = await db.query("DELETE FROM greylist_triplets WHERE last_seen < $1", [cutoff]);
  const senders = await db.query("DELETE FROM greylist_whitelist WHERE until < $1", [now.getTime()]);
  return (triplets.rowCount ?? 0) + (senders.rowCount ?? 0);
}
