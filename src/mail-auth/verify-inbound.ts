// Inbound sender authentication: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and ARC
// (RFC 8617) for one received message, evaluated by mailauth and reported in our own types. The
// result carries a ready Authentication-Results header (RFC 8601) to prepend before delivery.
// Failures of our own (DNS trouble, a library exception) become temperror results: the caller gets
// a verdict, never an exception, and the SMTP session decides between 451 and accepting.
import type { Readable } from "node:stream";
import { loadMailauth } from "./load-mailauth.js";
import type { AuthenticateResult, DKIMResult } from "mailauth";
import type { Logger } from "../observability/log.js";
import { silentLogger } from "../observability/log.js";
import type { DnsRecordType, DnsResolver } from "./dns-resolver.js";
import { DNS_RECORD_TYPES, DnsError } from "./dns-resolver.js";
import type { MethodResult, ResultProperty } from "./authentication-results.js";
import { formatAuthenticationResults } from "./authentication-results.js";

/** RFC 7208 §2.6 results. */
export type SpfResult = "pass" | "fail" | "softfail" | "neutral" | "none" | "temperror" | "permerror";
/** RFC 8601 §2.7.1 DKIM results ("none" is reported as an empty signature list). */
export type DkimResult = "pass" | "fail" | "neutral" | "policy" | "temperror" | "permerror";
/** RFC 7489 §11.2 results. */
export type DmarcResult = "pass" | "fail" | "none" | "temperror" | "permerror";
/** RFC 7489 §6.3 p= / sp= values. */
export type DmarcPolicy = "none" | "quarantine" | "reject";
/** RFC 8617 §4.4 chain validation status, plus our temperror when it could not be evaluated. */
export type ArcResult = "pass" | "fail" | "none" | "temperror";

export interface DkimSignatureVerdict {
  result: DkimResult;
  /** The signing domain (d=). */
  domain: string;
  /** The selector (s=). */
  selector: string;
  /** Whether d= aligns (relaxed, RFC 7489 §3.1.1) with the RFC5322.From domain. */
  aligned: boolean;
}

export interface AuthVerdict {
  spf: {
    result: SpfResult;
    /** The domain whose policy was evaluated: the MAIL FROM domain, or the HELO name for <>. */
    domain: string;
    /** Which identity that was (RFC 7208 §2.3, §2.4). */
    identity: "mailfrom" | "helo";
  };
  /** One entry per DKIM-Signature field; empty when the message is unsigned. */
  dkim: DkimSignatureVerdict[];
  dmarc: {
    result: DmarcResult;
    /** The policy that applies to the From domain (sp= for a subdomain); null without a record. */
    policy: DmarcPolicy | null;
    /** The RFC5322.From domain; "" when the message has no usable From. */
    domain: string;
    /** RFC 7489 §6.6.4 pct=: the share of failing mail the policy applies to. */
    percent: number;
  };
  arc: { result: ArcResult };
  /** Complete `Authentication-Results: …` field, CRLF-terminated, ready to prepend. */
  authenticationResultsHeader: string;
}

export interface VerifyInboundRequest {
  /** The raw RFC 5322 message; a stream is read once, incrementally. */
  message: Readable | Buffer;
  clientIp: string;
  heloName: string;
  /** The reverse path without angle brackets; "" for the null path <>. */
  mailFrom: string;
  /** Our host name: the authserv-id of the Authentication-Results field (RFC 8601 §2.5). */
  receivingHost: string;
  resolver: DnsResolver;
  log?: Logger;
  /**
   * Overall time limit. When it passes, the verdict is temperror throughout and evaluation is left
   * to finish (and be ignored) in the background; per-lookup limits belong to the resolver.
   */
  deadlineMs?: number;
  /** Smallest acceptable RSA key (RFC 8301 §3.2 says 1024); smaller keys give dkim=policy. */
  minKeyBits?: number;
}

/** Adapts our typed resolver to the `(name, type)` function mailauth calls. */
function mailauthResolver(resolver: DnsResolver) {
  return (name: string, rrtype: string): Promise<string[][] | string[]> => {
    if (!DNS_RECORD_TYPES.includes(rrtype as DnsRecordType)) return Promise.reject(new DnsError("EBADNAME", name, rrtype));
    return resolver(name, rrtype as DnsRecordType) as Promise<string[][] | string[]>;
  };
}

function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return (at >= 0 ? address.slice(at + 1) : address).trim().toLowerCase();
}

function mapSpf(result: string | undefined): SpfResult {
  switch (result) {
    case "pass":
    case "fail":
    case "softfail":
    case "neutral":
    case "none":
    case "permerror":
      return result;
    default:
      return "temperror";
  }
}

function mapDkim(entry: DKIMResult): DkimResult {
  const { result, comment } = entry.status;
  switch (result) {
    case "pass":
    case "fail":
    case "policy":
    case "permerror":
      return result;
    case "neutral":
      // RFC 6376 §6.1.3: a body hash mismatch is PERMFAIL, which RFC 8601 §2.7.1 reports as fail.
      // mailauth says neutral; the signature verified nothing, so we say fail.
      return comment === "body hash did not verify" ? "fail" : "neutral";
    case "temperror":
    case "temperr":
      return "temperror";
    default:
      return "permerror";
  }
}

function mapDmarcPolicy(value: string | undefined): DmarcPolicy {
  const policy = (value ?? "").trim().toLowerCase();
  // RFC 7489 §6.6.3 step 6: an unknown p= is treated as p=none when the record is otherwise valid.
  return policy === "reject" || policy === "quarantine" ? policy : "none";
}

function temperrorVerdict(request: VerifyInboundRequest): Omit<AuthVerdict, "authenticationResultsHeader"> {
  return {
    spf: { result: "temperror", domain: spfIdentity(request).domain, identity: spfIdentity(request).identity },
    dkim: [],
    dmarc: { result: "temperror", policy: null, domain: "", percent: 100 },
    arc: { result: "temperror" },
  };
}

/** Peer-supplied names lose control characters before they reach our types (and logs, replies). */
function withoutControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, "");
}

function spfIdentity(request: VerifyInboundRequest): { domain: string; identity: "mailfrom" | "helo" } {
  // RFC 7208 §2.4: with a null reverse path the HELO identity stands in for MAIL FROM.
  return request.mailFrom === ""
    ? { domain: withoutControls(request.heloName.toLowerCase()), identity: "helo" }
    : { domain: withoutControls(domainOf(request.mailFrom)), identity: "mailfrom" };
}

function toVerdict(request: VerifyInboundRequest, outcome: AuthenticateResult): Omit<AuthVerdict, "authenticationResultsHeader"> {
  const identity = spfIdentity(request);
  const spf = { result: mapSpf(outcome.spf ? outcome.spf.status.result : undefined), ...identity };

  const dkim: DkimSignatureVerdict[] = (outcome.dkim.results ?? [])
    .filter((entry) => entry.signingDomain)
    .map((entry) => ({
      result: mapDkim(entry),
      domain: withoutControls(entry.signingDomain.toLowerCase()),
      selector: withoutControls(entry.selector ?? ""),
      aligned: Boolean(entry.status.aligned),
    }));

  const fromDomains = [...new Set((outcome.dkim.headerFrom ?? []).map((address) => withoutControls(domainOf(address))))];
  let dmarc: AuthVerdict["dmarc"];
  if (fromDomains.length > 1) {
    // RFC 7489 §6.6.1: several From domains cannot be evaluated as one; mailauth skips them.
    dmarc = { result: "permerror", policy: null, domain: fromDomains[0] ?? "", percent: 100 };
  } else if (!outcome.dmarc) {
    dmarc = { result: "none", policy: null, domain: fromDomains[0] ?? "", percent: 100 };
  } else {
    const status = outcome.dmarc.status.result;
    const result: DmarcResult =
      status === "pass" || status === "fail" || status === "temperror" || status === "permerror" ? status : status === "temperr" ? "temperror" : "none";
    const hasRecord = result === "pass" || result === "fail";
    const pct = typeof outcome.dmarc.pct === "number" && outcome.dmarc.pct >= 0 && outcome.dmarc.pct <= 100 ? outcome.dmarc.pct : 100;
    dmarc = { result, policy: hasRecord ? mapDmarcPolicy(outcome.dmarc.policy) : null, domain: fromDomains[0] ?? "", percent: pct };
  }

  const arcStatus = outcome.arc ? outcome.arc.status.result : "none";
  const arc = { result: arcStatus === "pass" || arcStatus === "fail" || arcStatus === "none" ? arcStatus : "temperror" } as const;
  return { spf, dkim, dmarc, arc };
}

/** Most signatures we list in the header; a message can carry any number of DKIM-Signature fields. */
const MAX_REPORTED_SIGNATURES = 10;

function headerResults(request: VerifyInboundRequest, verdict: Omit<AuthVerdict, "authenticationResultsHeader">): MethodResult[] {
  const results: MethodResult[] = [];
  if (verdict.dkim.length === 0) results.push({ method: "dkim", result: "none", properties: [] });
  for (const signature of verdict.dkim.slice(0, MAX_REPORTED_SIGNATURES)) {
    const properties: ResultProperty[] = [{ ptype: "header", property: "d", value: signature.domain }];
    if (signature.selector) properties.push({ ptype: "header", property: "s", value: signature.selector });
    results.push({ method: "dkim", result: signature.result, properties });
  }

  // RFC 8601 §2.7.2: smtp.mailfrom for the MAIL FROM identity, smtp.helo for the HELO identity.
  const spfProperties: ResultProperty[] =
    verdict.spf.identity === "mailfrom"
      ? [{ ptype: "smtp", property: "mailfrom", value: request.mailFrom }]
      : [{ ptype: "smtp", property: "helo", value: request.heloName }];
  results.push({ method: "spf", result: verdict.spf.result, properties: spfProperties });

  const dmarcProperties: ResultProperty[] = verdict.dmarc.domain ? [{ ptype: "header", property: "from", value: verdict.dmarc.domain }] : [];
  results.push({
    method: "dmarc",
    result: verdict.dmarc.result,
    ...(verdict.dmarc.policy ? { comment: `p=${verdict.dmarc.policy}` } : {}),
    properties: dmarcProperties,
  });
  results.push({ method: "arc", result: verdict.arc.result, properties: [] });
  return results;
}

/** Evaluates SPF, DKIM, DMARC and ARC for one inbound message. Never rejects. */
export async function verifyInbound(request: VerifyInboundRequest): Promise<AuthVerdict> {
  const log = request.log ?? silentLogger;
  let verdict: Omit<AuthVerdict, "authenticationResultsHeader">;
  let timer: NodeJS.Timeout | undefined;
  try {
    const { authenticate } = await loadMailauth();
    const evaluation = authenticate(request.message, {
      ip: request.clientIp,
      // mailauth substitutes the client IP for an empty HELO, as RFC 7208 §2.3 permits.
      ...(request.heloName ? { helo: request.heloName } : {}),
      // Without a sender mailauth checks postmaster@<helo> (RFC 7208 §2.4), which is what <> means.
      ...(request.mailFrom ? { sender: request.mailFrom } : {}),
      mta: request.receivingHost,
      resolver: mailauthResolver(request.resolver),
      minBitLength: request.minKeyBits ?? 1024,
      // BIMI fetches logos over HTTPS; it is no part of accepting mail.
      disableBimi: true,
    });
    const deadline =
      request.deadlineMs === undefined
        ? null
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`sender authentication exceeded ${request.deadlineMs} ms`)), request.deadlineMs);
          });
    if (deadline) evaluation.catch(() => {}); // a late failure after the deadline is of no interest
    const outcome = await (deadline ? Promise.race([evaluation, deadline]) : evaluation);
    verdict = toVerdict(request, outcome);
  } catch (error) {
    log.warn("mail_auth_failed", { error: error instanceof Error ? error : String(error) });
    verdict = temperrorVerdict(request);
  } finally {
    clearTimeout(timer);
  }
  const authenticationResultsHeader = formatAuthenticationResults(request.receivingHost, headerResults(request, verdict));
  log.debug("mail_auth_verdict", {
    spf: verdict.spf.result,
    dkim: verdict.dkim.map((s) => `${s.result}:${s.domain}`).join(","),
    dmarc: verdict.dmarc.result,
    dmarcPolicy: verdict.dmarc.policy,
    arc: verdict.arc.result,
  });
  return { ...verdict, authenticationResultsHeader };
}
