// What to do with a message after authentication: the DMARC policy decision (RFC 7489 §6.6.4,
// §6.7), made from an AuthVerdict and the server's configuration, with no I/O of its own. The
// SMTP session turns "reject" into its reply and "quarantine" into delivery to Junk.
import type { AuthVerdict } from "./verify-inbound.js";

/**
 * Configuration for DMARC failures: "follow-policy" applies the From domain's published p=/sp=;
 * "reject", "quarantine" and "none" apply that action to every DMARC failure whatever the domain
 * published (p=none included: a site may choose to be stricter than the sender asks).
 */
export type DmarcFailureMode = "follow-policy" | "reject" | "quarantine" | "none";

export interface DmarcActionOptions {
  mode?: DmarcFailureMode;
  /** True for domains this server hosts. */
  localDomains?: (domain: string) => boolean;
  /**
   * What to do with mail whose From: is one of our domains when that domain publishes no DMARC
   * record and neither SPF nor DKIM authenticates it. Default "quarantine"; see decideDmarcAction.
   */
  unauthenticatedLocalSender?: "quarantine" | "reject" | "accept";
  /**
   * The client is in inbound.trusted_networks (the machine itself by default): its mail is our
   * own, so a From: in our domain without SPF or DKIM is not a spoof. A published DMARC policy
   * still applies, as it does for anyone.
   */
  trustedClient?: boolean;
  /** Uniform in [0, 1), used only for pct= below 100 (RFC 7489 §6.6.4); Math.random by default. */
  random?: () => number;
}

export interface SmtpRejection {
  code: 550;
  enhancedCode: string;
  text: string;
}

export type DmarcAction = { action: "accept" } | { action: "reject"; reply: SmtpRejection } | { action: "quarantine"; reason: string };

/** Domains in replies and reasons are reduced to hostname characters; they come from the message. */
function safeDomain(domain: string): string {
  return domain.replace(/[^0-9A-Za-z.-]/g, "").slice(0, 255) || "(unknown)";
}

/** Relaxed alignment without the public suffix list: equal, or one a subdomain of the other. */
function relaxedAligned(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || x.endsWith(`.${y}`) || y.endsWith(`.${x}`);
}

function authenticatedFor(verdict: AuthVerdict, domain: string): boolean {
  if (verdict.spf.result === "pass" && relaxedAligned(verdict.spf.domain, domain)) return true;
  return verdict.dkim.some((signature) => signature.result === "pass" && (signature.aligned || relaxedAligned(signature.domain, domain)));
}

function reject(domain: string, why: string): DmarcAction {
  // RFC 7372 §3.4 registers X.7.26 for "multiple authentication checks failed", which a DMARC
  // failure is (neither SPF nor DKIM produced an aligned pass).
  return { action: "reject", reply: { code: 550, enhancedCode: "5.7.26", text: `Message from ${safeDomain(domain)} rejected: ${why}` } };
}

/**
 * Decides accept / reject / quarantine. Only a DMARC "fail" leads to an action; temperror and
 * permerror are accepted here (the session may still answer 451 for temperror if it chooses).
 *
 * Our own domains: a From: of a domain we host is the classic spoof of the user's own address
 * (mail "from yourself" asking you to pay). If that domain publishes DMARC, its policy decides as for
 * anyone. If it publishes nothing, DMARC has nothing to say, yet we know no outside host speaks
 * for our domains; mail arriving here is by definition not submitted through us, so without an
 * SPF or DKIM pass for the domain it is quarantined by default. Quarantine rather than reject,
 * because forwarders and mailing lists can legitimately return a user's own mail unauthenticated.
 */
export function decideDmarcAction(verdict: AuthVerdict, options: DmarcActionOptions = {}): DmarcAction {
  const mode = options.mode ?? "follow-policy";
  const { dmarc } = verdict;

  if (dmarc.result === "fail") {
    if (mode === "none") return { action: "accept" };
    if (mode === "reject") return reject(dmarc.domain, "DMARC check failed");
    if (mode === "quarantine") return { action: "quarantine", reason: `DMARC check failed for ${safeDomain(dmarc.domain)}` };

    let policy = dmarc.policy ?? "none";
    // RFC 7489 §6.6.4: outside the pct= sample, the next less severe policy applies.
    if (dmarc.percent < 100 && policy !== "none") {
      const sampled = (options.random ?? Math.random)() * 100 < dmarc.percent;
      if (!sampled) policy = policy === "reject" ? "quarantine" : "none";
    }
    if (policy === "reject") return reject(dmarc.domain, "DMARC policy of the sender domain says reject");
    if (policy === "quarantine") return { action: "quarantine", reason: `DMARC policy quarantine for ${safeDomain(dmarc.domain)}` };
    return { action: "accept" };
  }

  if (dmarc.result === "none" && dmarc.domain && options.localDomains?.(dmarc.domain) && !options.trustedClient && !authenticatedFor(verdict, dmarc.domain)) {
    const treatment = options.unauthenticatedLocalSender ?? "quarantine";
    if (treatment === "reject") return reject(dmarc.domain, "our own domain in From: but the message is not authenticated");
    if (treatment === "quarantine") {
      return { action: "quarantine", reason: `From: claims local domain ${safeDomain(dmarc.domain)} without SPF or DKIM authentication` };
    }
  }
  return { action: "accept" };
}
