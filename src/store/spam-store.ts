// Per-account token statistics of the statistical spam classifier (spam/bayes.ts): how many
// trained spam and ham messages contained each token, the account's totals, and which messages
// were trained as what, so that moving a message out of Junk again undoes its spam training
// before training it as ham (and a second move into Junk trains nothing twice).
import type { AccountId } from "./types.js";

export type SpamClass = "spam" | "ham";

export interface SpamTokenCounts {
  readonly spamMessages: number;
  readonly hamMessages: number;
  /** Only the asked tokens the account has seen; a missing token has never been trained. */
  readonly tokens: ReadonlyMap<number, { readonly spam: number; readonly ham: number }>;
}

export interface SpamTokenStore {
  readSpamTokens(accountId: AccountId, tokens: readonly number[]): Promise<SpamTokenCounts>;
  /**
   * Trains one message (identified by `messageKey`, a digest of its text) as `kind`, atomically:
   * if it was trained as the other class its counts are first taken back. False (and nothing
   * written) when it is already trained as `kind`.
   */
  trainSpamMessage(accountId: AccountId, messageKey: string, tokens: readonly number[], kind: SpamClass): Promise<boolean>;
}

/**
 * How a trained message's token list is kept (spam_trained.tokens) by every backend: 8-byte
 * little-endian doubles, exact for the 48-bit tokens and the same bytes on every machine.
 */
export function packSpamTokens(tokens: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(tokens.length * 8);
  tokens.forEach((token, i) => out.writeDoubleLE(token, i * 8));
  return out;
}

export function unpackSpamTokens(blob: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 8 <= blob.length; i += 8) out.push(blob.readDoubleLE(i));
  return out;
}
