// Adapts spam/ (the scanner and the per-account classifier) to the SpamChecker port of the SMTP
// engine, which knows none of spam/'s types, and reports every verdict to the log (with its
// reasons) and the metrics.
import type { SpamSettings } from "../config/index.js";
import type { DnsResolver } from "../mail-auth/index.js";
import { foldCase } from "../mail/case-fold.js";
import type { Logger } from "../observability/log.js";
import type { SpamChecker, SpamCheckResult } from "../smtp/index.js";
import { bayesTest, createSpamScanner, iprevResultText, spamHeaderFields, spamProbability, tokenize, type SpamVerdict } from "../spam/index.js";
import type { AccountId, SpamTokenStore } from "../store/index.js";

export interface SpamCheckerOptions {
  settings: SpamSettings;
  resolver: DnsResolver;
  log: Logger;
  /** The classifier's statistics; absent: no BAYES_* tests. */
  tokens?: SpamTokenStore | null;
  /** Told of each verdict's action (metrics). */
  observe?: (action: "accept" | "junk" | "reject") => void;
}

export function createSpamChecker(options: SpamCheckerOptions): SpamChecker | null {
  const { settings } = options;
  if (!settings.enabled) return null;
  const scanner = createSpamScanner({ settings, resolver: options.resolver });
  const tokenStore = settings.bayes ? (options.tokens ?? null) : null;

  /** Each account's classifier adds its band to the shared score (none until it is trained enough). */
  const perAccount = async (verdict: SpamVerdict, searchText: string, accountIds: readonly number[]): Promise<SpamCheckResult["perAccount"]> => {
    if (tokenStore === null || accountIds.length === 0 || verdict.action === "reject") return undefined;
    const tokens = tokenize(foldCase(searchText));
    const out = new Map<number, { action: "accept" | "junk"; headerFields: readonly string[] }>();
    for (const accountId of accountIds) {
      const probability = spamProbability(await tokenStore.readSpamTokens(accountId as AccountId, tokens), tokens, settings.bayesMinMessages);
      const band = probability === null ? null : bayesTest(probability);
      if (band === null) continue;
      const tests = [...verdict.tests, { name: band, score: scanner.scoreOf(band), detail: probability!.toFixed(3) }];
      const score = Math.round(tests.reduce((sum, t) => sum + t.score, 0) * 100) / 100;
      // The message-wide verdict already refused nothing; a classifier alone files, never refuses.
      const action = scanner.actionFor(score) === "accept" ? "accept" : "junk";
      const own = { ...verdict, tests, score, action } as const;
      out.set(accountId, { action, headerFields: settings.addHeaders ? spamHeaderFields(own, settings.junkScore) : [] });
      options.log.info("spam.classified", { account: accountId, probability: Number(probability!.toFixed(4)), band, score, action });
    }
    return out;
  };

  return {
    async check(input) {
      const verdict = await scanner.scan({
        parsed: input.parsed,
        open: input.open,
        clientIp: input.clientIp,
        authentication: input.verification?.results ?? null,
      });
      if (verdict.skipped) return { action: "accept", score: 0, headerFields: [], authenticationResults: [] };
      options.log.info("spam.verdict", {
        transaction: input.transaction,
        client: input.clientIp,
        score: verdict.score,
        action: verdict.action,
        tests: verdict.tests.map((t) => `${t.name}=${t.score}${t.detail ? `(${t.detail})` : ""}`).join(" ") || "none",
        ...(verdict.iprev ? { iprev: verdict.iprev.result } : {}),
      });
      for (const reason of verdict.dnsErrors) options.log.warn("spam.dns_list_unavailable", { transaction: input.transaction, reason });
      options.observe?.(verdict.action);
      let accounts: SpamCheckResult["perAccount"];
      try {
        accounts = await perAccount(verdict, input.parsed.searchText, input.accountIds);
      } catch (error) {
        // The statistics could not be read: the message keeps the shared verdict.
        options.log.warn("spam.classifier_failed", { transaction: input.transaction, error });
      }
      return {
        action: verdict.action,
        score: verdict.score,
        headerFields: settings.addHeaders ? spamHeaderFields(verdict, settings.junkScore) : [],
        authenticationResults: verdict.iprev ? [iprevResultText(verdict.iprev, input.clientIp)] : [],
        ...(accounts ? { perAccount: accounts } : {}),
      };
    },
  };
}
