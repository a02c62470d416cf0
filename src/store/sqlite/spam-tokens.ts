// SpamTokenStore over SQLite (migration 16): spam_tokens (one row per account and token, WITHOUT
// ROWID so a lookup is one B-tree descent), spam_totals (trained messages per class), and
// spam_trained (the class and the token list each trained message was counted with, so it can be
// taken back exactly even if the tokenizer changes later).
import { packSpamTokens, unpackSpamTokens, type SpamClass, type SpamTokenCounts } from "../spam-store.js";
import type { AccountId } from "../types.js";
import type { StoreContext } from "./store-context.js";

export function readTokens(ctx: StoreContext, accountId: AccountId, tokens: readonly number[]): SpamTokenCounts {
  const totals = ctx.sql.get<{ spam: number; ham: number }>("SELECT spam, ham FROM spam_totals WHERE account_id = ?", accountId) ?? { spam: 0, ham: 0 };
  const found = new Map<number, { spam: number; ham: number }>();
  if (tokens.length === 0) return { spamMessages: totals.spam, hamMessages: totals.ham, tokens: found };
  // One statement whatever the list's length: the list travels as one JSON parameter, under
  // SQLite's limit on bound parameters.
  const rows = ctx.sql.all<{ token: number; spam: number; ham: number }>(
    "SELECT token, spam, ham FROM spam_tokens WHERE account_id = ? AND token IN (SELECT value FROM json_each(?))",
    accountId,
    JSON.stringify([...new Set(tokens)]),
  );
  for (const row of rows) found.set(row.token, { spam: row.spam, ham: row.ham });
  return { spamMessages: totals.spam, hamMessages: totals.ham, tokens: found };
}

function count(ctx: StoreContext, accountId: AccountId, tokens: readonly number[], kind: SpamClass, delta: 1 | -1): void {
  const column = kind === "spam" ? "spam" : "ham";
  ctx.sql.run(`INSERT INTO spam_totals (account_id, spam, ham) VALUES (?, 0, 0) ON CONFLICT(account_id) DO NOTHING`, accountId);
  ctx.sql.run(`UPDATE spam_totals SET ${column} = max(0, ${column} + ?) WHERE account_id = ?`, delta, accountId);
  for (const token of new Set(tokens)) {
    if (delta === 1) {
      ctx.sql.run(`INSERT INTO spam_tokens (account_id, token, spam, ham) VALUES (?, ?, ?, ?) ON CONFLICT(account_id, token) DO UPDATE SET ${column} = ${column} + 1`, accountId, token, kind === "spam" ? 1 : 0, kind === "ham" ? 1 : 0);
    } else {
      ctx.sql.run(`UPDATE spam_tokens SET ${column} = max(0, ${column} - 1) WHERE account_id = ? AND token = ?`, accountId, token);
    }
  }
  // Tokens no trained message holds any more are dead weight.
  if (delta === -1) ctx.sql.run("DELETE FROM spam_tokens WHERE account_id = ? AND spam = 0 AND ham = 0", accountId);
}

export function trainMessage(ctx: StoreContext, accountId: AccountId, messageKey: string, tokens: readonly number[], kind: SpamClass): boolean {
  if (!ctx.sql.get("SELECT 1 FROM accounts WHERE id = ?", accountId)) return false;
  const previous = ctx.sql.get<{ kind: SpamClass; tokens: Buffer }>("SELECT kind, tokens FROM spam_trained WHERE account_id = ? AND message_key = ?", accountId, messageKey);
  if (previous?.kind === kind) return false;
  if (previous) count(ctx, accountId, unpackSpamTokens(previous.tokens), previous.kind, -1);
  count(ctx, accountId, tokens, kind, 1);
  ctx.sql.run(
    "INSERT INTO spam_trained (account_id, message_key, kind, tokens, trained_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(account_id, message_key) DO UPDATE SET kind = excluded.kind, tokens = excluded.tokens, trained_at = excluded.trained_at",
    accountId,
    messageKey,
    kind,
    packSpamTokens(tokens),
    ctx.clock().getTime(),
  );
  return true;
}
