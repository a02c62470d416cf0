// Adapts spam/ (the scanner and the per-account classifier) to the SpamChecker port of the SMTP
// engine, which knows none of spam/'s types, and reports every verdict to the log (with its
// reasons) and the metrics.
import type { SpamSettings } from "../config/index.js";
import type { DnsResolver } from "../mail-auth/index.js";
import { foldCase } from "../mail/case-fold.js";
import type { Logger } from "../observability/log.js";
import type { SpamChecker, SpamCheckResult } from "../smtp/index.js";
import { bayesTest, createSpamScanner, iprevResultText, spamHeaderFields, spamProbability, tokenize, type SpamVerdict } from "../spam/index.js";
import type { AccountId, GreylistStore, SpamTokenStore } from "../store/index.js";
import { greylistedDomain, greylistSender, greylistTriplet } from "../spam/greylist.js";

export interface SpamCheckerOptions {
  settings: SpamSettings;
  resolver: DnsResolver;
  log: Logger;
  /** The classifier's statistics; absent: no BAYES_* tests. */
  tokens?: SpamTokenStore | null;
  /** Told of each verdict's action (metrics). */
  observe?: (action: "accept" | "junk" | "reject" | "greylist" | "tempfail") => void;
  /** Greylisting state; absent: no greylisting whatever the settings say. */
  greylist?: GreylistStore | null;
  clock?: () => Date;
}

/** Old greylisting rows are swept at most this often, from the checks themselves. */
const GREYLIST_SWEEP_MS = 3600_000;

/**
 * A score as RFC 5235 values: spamtest 1 ("certainly not spam") to 10 ("certainly spam") and
 * spamtestplus :percent 0-100, linear from a score of 0 to twice junk_score (the point the
 * message is filed as junk is the middle of the scale, 5 or 6 and 50 %).
 */
export function spamTestValue(score: number, junkScore: number): { score: number; percent: number } {
  const span = Math.max(junkScore, 0.1) * 2;
  const fraction = Math.min(1, Math.max(0, score / span));
  return { score: Math.min(10, Math.max(1, 1 + Math.round(fraction * 9))), percent: Math.round(fraction * 100) };
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
    const out = new Map<number, { action: "accept" | "junk"; headerFields: readonly string[]; spamTest: { score: number; percent: number } }>();
    for (const accountId of accountIds) {
      // The totals first: an account that has not trained enough gives no verdict, so its tokens
      // are not looked up at all (most accounts, most of the time).
      const totals = await tokenStore.readSpamTokens(accountId as AccountId, []);
      if (totals.spamMessages < settings.bayesMinMessages || totals.hamMessages < settings.bayesMinMessages) continue;
      const probability = spamProbability(await tokenStore.readSpamTokens(accountId as AccountId, tokens), tokens, settings.bayesMinMessages);
      const band = probability === null ? null : bayesTest(probability);
      if (band === null) continue;
      const tests = [...verdict.tests, { name: band, score: scanner.scoreOf(band), detail: probability!.toFixed(3) }];
      const score = Math.round(tests.reduce((sum, t) => sum + t.score, 0) * 100) / 100;
      // The message-wide verdict already refused nothing; a classifier alone files, never refuses.
      const action = scanner.actionFor(score) === "accept" ? "accept" : "junk";
      const own = { ...verdict, tests, score, action } as const;
      out.set(accountId, { action, headerFields: settings.addHeaders ? spamHeaderFields(own, settings.junkScore) : [], spamTest: spamTestValue(score, settings.junkScore) });
      options.log.info("spam.classified", { account: accountId, probability: Number(probability!.toFixed(4)), band, score, action });
    }
    return out;
  };

  const clock = options.clock ?? (() => new Date());
  let lastSweep = 0;
  /**
   * RFC 6647 §4: every local recipient in a greylisted domain is a triplet; the message passes
   * only when all of them do, and the longest wait is what the client is told.
   */
  const greylist = async (verdict: SpamVerdict, input: Parameters<SpamChecker["check"]>[0]): Promise<number | null> => {
    const store = options.greylist;
    if (!store || settings.greylistDomains.length === 0 || verdict.action === "reject") return null;
    const results = input.verification?.results;
    if (results && (results.dkim.includes("pass") || results.dmarc === "pass")) return null;
    if (verdict.score < settings.greylistMinScore) return null;
    const now = clock();
    if (now.getTime() - lastSweep > GREYLIST_SWEEP_MS) {
      lastSweep = now.getTime();
      const maxAge = Math.max(settings.greylistRetryWindow, settings.greylistWhitelistPeriod) / 1000;
      void store.expireGreylist(now, maxAge).catch((error: unknown) => options.log.warn("spam.greylist_expire_failed", { error }));
    }
    let wait: number | null = null;
    for (const recipient of input.recipients) {
      if (!greylistedDomain(settings.greylistDomains, recipient)) continue;
      const decision = await store.checkGreylist({
        triplet: greylistTriplet(input.clientIp, input.mailFrom, recipient),
        sender: greylistSender(input.clientIp, input.mailFrom),
        now,
        delaySeconds: settings.greylistDelay / 1000,
        retryWindowSeconds: settings.greylistRetryWindow / 1000,
        whitelistSeconds: settings.greylistWhitelistPeriod / 1000,
      });
      if (decision.kind === "new") wait = Math.max(wait ?? 0, settings.greylistDelay / 1000);
      else if (decision.kind === "early") wait = Math.max(wait ?? 0, decision.retryInSeconds);
    }
    return wait;
  };

  return {
    async check(input) {
      const verdict = await scanner.scan({
        parsed: input.parsed,
        open: input.open,
        size: input.size,
        clientIp: input.clientIp,
        heloName: input.heloName,
        mailFrom: input.mailFrom,
        recipients: input.recipients,
        queueId: input.transaction,
        ourHostname: input.hostname,
        authentication: input.verification?.results ?? null,
      });
      if (verdict.scannerUnavailable !== undefined) {
        options.log.warn("spam.scanner_unavailable", { transaction: input.transaction, reason: verdict.scannerUnavailable });
        options.observe?.("tempfail");
        return { action: "tempfail", score: verdict.score, headerFields: [], authenticationResults: [] };
      }
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
      const wait = await greylist(verdict, input);
      if (wait !== null) {
        options.log.info("spam.greylisted", { transaction: input.transaction, client: input.clientIp, from: input.mailFrom, retryInSeconds: Math.ceil(wait) });
        options.observe?.("greylist");
        return { action: "greylist", score: verdict.score, retryInSeconds: Math.ceil(wait), headerFields: [], authenticationResults: [] };
      }
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
        spamTest: spamTestValue(verdict.score, settings.junkScore),
        ...(accounts ? { perAccount: accounts } : {}),
      };
    },
  };
}
