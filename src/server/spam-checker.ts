// Adapts spam/ (the scanner) to the SpamChecker port of the SMTP engine, which knows none of
// spam/'s types, and reports every verdict to the log (with its reasons) and the metrics.
import type { SpamSettings } from "../config/index.js";
import type { DnsResolver } from "../mail-auth/index.js";
import type { Logger } from "../observability/log.js";
import type { SpamChecker } from "../smtp/index.js";
import { createSpamScanner, iprevResultText, spamHeaderFields } from "../spam/index.js";

export interface SpamCheckerOptions {
  settings: SpamSettings;
  resolver: DnsResolver;
  log: Logger;
  /** Told of each verdict's action (metrics). */
  observe?: (action: "accept" | "junk" | "reject") => void;
}

export function createSpamChecker(options: SpamCheckerOptions): SpamChecker | null {
  if (!options.settings.enabled) return null;
  const scanner = createSpamScanner({ settings: options.settings, resolver: options.resolver });
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
      return {
        action: verdict.action,
        score: verdict.score,
        headerFields: options.settings.addHeaders ? spamHeaderFields(verdict, options.settings.junkScore) : [],
        authenticationResults: verdict.iprev ? [iprevResultText(verdict.iprev, input.clientIp)] : [],
      };
    },
  };
}
