// Adapts mail-auth/ (SPF, DKIM, DMARC, ARC over the mailauth library) to the InboundVerifier port
// of the SMTP engine, which knows none of mail-auth's types.
import type { AccountStore } from "../store/index.js";
import { createCachingResolver, createSystemResolver, decideDmarcAction, verifyInbound, type DnsResolver } from "../mail-auth/index.js";
import type { InboundVerifier } from "../smtp/index.js";
import type { Logger } from "../observability/log.js";
import type { InboundSettings } from "../config/index.js";

const DEFAULT_POLICY: InboundSettings = { dmarcFailureMode: "follow-policy", ownDomainUnauthenticated: "quarantine" };

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
  policy?: InboundSettings;
}

export function createInboundVerifier(options: InboundVerifierOptions): InboundVerifier {
  const policy = options.policy ?? DEFAULT_POLICY;
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
      });
      const value = verdict.authenticationResultsHeader.replace(/^Authentication-Results:\s*/i, "").replace(/\r\n$/, "");
      return { authenticationResults: value, action: decision.action, policyDomain: verdict.dmarc.domain };
    },
  };
}
