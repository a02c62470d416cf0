// Adapts mail-auth/ (SPF, DKIM, DMARC, ARC over the mailauth library) to the InboundVerifier port
// of the SMTP engine, which knows none of mail-auth's types.
import type { AccountStore } from "../store/index.js";
import { createCachingResolver, createSystemResolver, decideDmarcAction, verifyInbound, type DnsResolver } from "../mail-auth/index.js";
import type { InboundVerifier } from "../smtp/index.js";
import type { Logger } from "../observability/log.js";
import type { InboundSettings } from "../config/index.js";
import { createNetworkList } from "../net/index.js";

/** The verdict settings of [inbound] (the rest of the section is not the verifier's). */
type VerdictSettings = Pick<InboundSettings, "dmarcFailureMode" | "ownDomainUnauthenticated" | "trustedNetworks">;
const DEFAULT_POLICY: VerdictSettings = { dmarcFailureMode: "follow-policy", ownDomainUnauthenticated: "quarantine", trustedNetworks: ["127.0.0.0/8", "::1/128"] };

/**
 * The DNS resolver inbound checks share: the configured servers (outbound.dns_servers, the same
 * ones outbound delivery asks) or the system's when none are set, with a bounded cache in front.
 */
export function createInboundResolver(servers: readonly string[] = []): DnsResolver {
  const system = createSystemResolver({ timeoutMs: 5_000, ...(servers.length > 0 ? { servers: [...servers] } : {}) });
  return createCachingResolver(system, { maxEntries: 10_000, ttlMs: 5 * 60_000 });
}

export interface InboundVerifierOptions {
  accounts: Pick<AccountStore, "listDomains">;
  resolver: DnsResolver;
  log: Logger;
  /** config [inbound]: what DMARC failures and unauthenticated mail "from" our own domains get. */
  policy?: VerdictSettings;
}

export function createInboundVerifier(options: InboundVerifierOptions): InboundVerifier {
  const policy = options.policy ?? DEFAULT_POLICY;
  const trusted = createNetworkList(policy.trustedNetworks);
  return {
    async verify(input) {
      const verdict = await verifyInbound({
        message: input.open(),
        clientIp: input.clientIp,
        heloName: input.heloName ?? "",
        mailFrom: input.mailFrom,
        receivingHost: input.receivingHost,
        resolver: options.resolver,
        log: options.log,
      });
      // decideDmarcAction wants a synchronous test; the domain list is small and read per message.
      const local = new Set((await options.accounts.listDomains()).map((d) => d.name));
      const decision = decideDmarcAction(verdict, {
        mode: policy.dmarcFailureMode,
        unauthenticatedLocalSender: policy.ownDomainUnauthenticated,
        localDomains: (domain) => local.has(domain.toLowerCase()),
        trustedClient: trusted.contains(input.clientIp),
      });
      const value = verdict.authenticationResultsHeader.replace(/^Authentication-Results:\s*/i, "").replace(/\r\n$/, "");
      // The reason is the decision's own (a published policy, an override, or our own domain
      // unauthenticated), so the log says which one it was.
      const reason = decision.action === "quarantine" ? decision.reason : decision.action === "reject" ? decision.reply.text : null;
      const results = { spf: verdict.spf.result, dkim: verdict.dkim.map((signature) => signature.result), dmarc: verdict.dmarc.result };
      return { authenticationResults: value, action: decision.action, policyDomain: verdict.dmarc.domain, reason, results };
    },
  };
}
