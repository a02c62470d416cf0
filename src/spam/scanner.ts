// The inbound spam verdict: one score per message from named tests, the way SpamAssassin and
// rspamd work, so an operator can read in the X-Spam-Status header and the log exactly why.
//   - connection: DNSBL/DNSWL listings of the client address (RFC 5782), iprev (RFC 8601 §3)
//   - authentication: SPF, DKIM and DMARC results already computed by mail-auth/
//   - content: header heuristics (message-heuristics.ts), link domains on URIBL-style lists
// The score picks the action: below junk_score the message is delivered as is, from junk_score it
// is filed in Junk with $Junk, from reject_score it is refused at DATA (550 5.7.1). DNS lookups
// run in parallel under one deadline and never fail the message: a list that does not answer
// counts as not listed, and the log says so.
import type { Readable } from "node:stream";
import type { SpamSettings } from "../config/index.js";
import type { DnsResolver } from "../mail-auth/index.js";
import type { ParsedMessage } from "../mail/mime-tree.js";
import { createNetworkList } from "../net/index.js";
import { queryDnsList, reversedAddress, type ListAnswer } from "./dns-lists.js";
import { checkIprev, type IprevResult } from "./iprev.js";
import { heloHeuristics, messageHeuristics, type TestHit } from "./message-heuristics.js";
import { linkDomains } from "./urls.js";
import { checkWithRspamd, type RspamdResult } from "./rspamd.js";

export type { SpamSettings };

/**
 * Default weights. The authentication ones follow the order of magnitude SpamAssassin and rspamd
 * give them (an SPF fail is strong evidence, a softfail weak, a DMARC pass a little reassurance);
 * heuristics are small on purpose, so that only several together reach junk_score (6 by default).
 */
export const DEFAULT_SCORES: Readonly<Record<string, number>> = {
  SPF_FAIL: 3.5,
  SPF_SOFTFAIL: 1.5,
  SPF_PASS: -0.5,
  DKIM_FAIL: 1.5,
  DKIM_PASS: -0.5,
  DMARC_FAIL: 3.5,
  DMARC_PASS: -1.0,
  IPREV_FAIL: 1.5,
  MISSING_FROM: 3.0,
  MISSING_DATE: 1.2,
  INVALID_DATE: 1.0,
  DATE_IN_FUTURE: 1.5,
  MISSING_MESSAGE_ID: 0.8,
  MISSING_SUBJECT: 0.6,
  SUBJECT_ALL_CAPS: 1.0,
  FROM_NAME_OTHER_ADDRESS: 2.5,
  HTML_ONLY: 0.7,
  EMPTY_BODY: 0.7,
  BODY_MOSTLY_LINKS: 1.5,
  HELO_BARE_IP: 1.5,
  HELO_FORGED_OURS: 3.0,
  HELO_NOT_FQDN: 1.0,
  // The per-account classifier's bands (spam/bayes.ts), as SpamAssassin names them. Heavier than
  // SpamAssassin's (3.5 for BAYES_99): the statistics are the user's own judgement, so a message
  // just like those they moved to Junk reaches junk_score on that evidence alone.
  BAYES_99: 6.0,
  BAYES_95: 3.5,
  BAYES_05: -1.0,
  BAYES_01: -3.0,
};

export interface SpamScanInput {
  readonly parsed: ParsedMessage;
  /** Octets of the raw message (rspamd gets them with a Content-Length). */
  readonly size?: number;
  /** The envelope, for rspamd. */
  readonly heloName?: string | null;
  readonly mailFrom?: string;
  readonly recipients?: readonly string[];
  readonly queueId?: string;
  /** Our host name, for the HELO test that catches clients claiming to be us. */
  readonly ourHostname?: string;
  /** Opens the raw message (read for link domains; bounded). */
  readonly open: () => Readable;
  readonly clientIp: string;
  /** What mail-auth found; null when sender authentication is off or failed. */
  readonly authentication: { readonly spf: string; readonly dkim: readonly string[]; readonly dmarc: string } | null;
  readonly now?: Date;
}

export interface SpamTest {
  readonly name: string;
  readonly score: number;
  readonly detail?: string;
}

export interface SpamVerdict {
  readonly score: number;
  readonly tests: readonly SpamTest[];
  readonly action: "accept" | "junk" | "reject";
  /** Null when iprev is off. */
  readonly iprev: IprevResult | null;
  /** DNS lists that could not be asked, for the log. */
  readonly dnsErrors: readonly string[];
  /** Scanning skipped (exempt network): no score, no headers. */
  readonly skipped: boolean;
  /** rspamd could not be asked (why), with spam.rspamd_failure = "tempfail": the message must wait. */
  readonly scannerUnavailable?: string;
}

export interface SpamScanner {
  scan(input: SpamScanInput): Promise<SpamVerdict>;
  readonly settings: SpamSettings;
  /** A named test's score: the operator's, else the built-in weight, else `fallback`. */
  scoreOf(name: string, fallback?: number): number;
  /** The action a score gets. */
  actionFor(score: number): SpamVerdict["action"];
}

/** Bytes of the message read for link domains, and distinct domains asked about. */
const LINK_SCAN_BYTES = 1024 * 1024;
const MAX_LINK_DOMAINS = 20;

/** Test names are the zone in upper case: DNSBL_ZEN_SPAMHAUS_ORG. */
function zoneTestName(prefix: string, zone: string): string {
  return `${prefix}_${zone.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "").toUpperCase()}`;
}

export function createSpamScanner(options: { settings: SpamSettings; resolver: DnsResolver }): SpamScanner {
  const { settings, resolver } = options;
  const exempt = createNetworkList(settings.exemptNetworks);
  const scores = { ...DEFAULT_SCORES, ...settings.scores };
  const scoreOf = (name: string, fallback = 0) => scores[name] ?? fallback;

  const actionFor = (score: number): SpamVerdict["action"] => (settings.rejectScore > 0 && score >= settings.rejectScore ? "reject" : score >= settings.junkScore ? "junk" : "accept");
  return {
    settings,
    scoreOf,
    actionFor,
    async scan(input) {
      if (!settings.enabled || exempt.contains(input.clientIp)) return { score: 0, tests: [], action: "accept", iprev: null, dnsErrors: [], skipped: true };
      const tests: SpamTest[] = [];
      const dnsErrors: string[] = [];
      const reversed = reversedAddress(input.clientIp);

      const listLookups = reversed === null ? [] : Object.entries(settings.dnsbl).map(async ([zone, weight]) => ({ zone, weight, answer: await queryDnsList(resolver, reversed, zone, settings.dnsTimeout) }));
      const iprevLookup = settings.iprev ? checkIprev(resolver, input.clientIp, settings.dnsTimeout) : Promise.resolve(null);
      const uriblLookups = (async () => {
        const zones = Object.entries(settings.uribl);
        if (zones.length === 0) return [];
        const domains = await linkDomains(input.open(), { maxBytes: LINK_SCAN_BYTES, maxDomains: MAX_LINK_DOMAINS });
        return Promise.all(zones.flatMap(([zone, weight]) => domains.map(async (domain) => ({ zone, weight, domain, answer: await queryDnsList(resolver, domain, zone, settings.dnsTimeout) }))));
      })();

      const rspamdLookup = (async (): Promise<RspamdResult | { error: string } | null> => {
        if (settings.rspamdUrl === null) return null;
        if (input.size !== undefined && input.size > settings.rspamdMaxSize) return null;
        try {
          return await checkWithRspamd({
            url: settings.rspamdUrl,
            timeoutMs: settings.rspamdTimeout,
            message: input.open(),
            size: input.size ?? 0,
            clientIp: input.clientIp,
            heloName: input.heloName ?? null,
            mailFrom: input.mailFrom ?? "",
            recipients: input.recipients ?? [],
            queueId: input.queueId ?? "",
          });
        } catch (error) {
          return { error: error instanceof Error ? error.message : String(error) };
        }
      })();

      const [lists, iprev, uris, rspamd] = await Promise.all([Promise.all(listLookups), iprevLookup, uriblLookups, rspamdLookup]);
      const note = (zone: string, answer: ListAnswer) => {
        if (answer.kind === "error") dnsErrors.push(answer.reason);
        return answer.kind === "listed";
      };
      for (const { zone, weight, answer } of lists) {
        if (!note(zone, answer) || answer.kind !== "listed") continue;
        // A return code with its own weight (spam.dnsbl_codes) replaces the zone's; the highest wins.
        const byCode = answer.codes.map((code) => settings.dnsblCodes[`${zone}/${code}`]).filter((w): w is number => w !== undefined);
        const listed = byCode.length > 0 ? Math.max(...byCode) : weight;
        const name = zoneTestName(weight < 0 ? "DNSWL" : "DNSBL", zone);
        tests.push({ name, score: byCode.length > 0 ? listed : scoreOf(name, weight), detail: answer.codes.join(",") });
      }
      const uriHits = new Map<string, SpamTest>();
      for (const { zone, weight, domain, answer } of uris) {
        if (!note(zone, answer)) continue;
        const name = zoneTestName("URIBL", zone);
        // One hit per zone: a message with ten listed links is not ten times more spam.
        if (!uriHits.has(name)) uriHits.set(name, { name, score: scoreOf(name, weight), detail: domain });
      }
      tests.push(...uriHits.values());
      if (iprev !== null && iprev.result === "fail") tests.push({ name: "IPREV_FAIL", score: scoreOf("IPREV_FAIL") });

      const auth = input.authentication;
      if (auth !== null) {
        if (auth.spf === "fail") tests.push({ name: "SPF_FAIL", score: scoreOf("SPF_FAIL") });
        else if (auth.spf === "softfail") tests.push({ name: "SPF_SOFTFAIL", score: scoreOf("SPF_SOFTFAIL") });
        else if (auth.spf === "pass") tests.push({ name: "SPF_PASS", score: scoreOf("SPF_PASS") });
        if (auth.dkim.includes("pass")) tests.push({ name: "DKIM_PASS", score: scoreOf("DKIM_PASS") });
        else if (auth.dkim.includes("fail")) tests.push({ name: "DKIM_FAIL", score: scoreOf("DKIM_FAIL") });
        if (auth.dmarc === "fail") tests.push({ name: "DMARC_FAIL", score: scoreOf("DMARC_FAIL") });
        else if (auth.dmarc === "pass") tests.push({ name: "DMARC_PASS", score: scoreOf("DMARC_PASS") });
      }
      for (const hit of messageHeuristics(input.parsed, input.now ?? new Date())) tests.push(scored(hit, scoreOf(hit.name)));
      for (const hit of heloHeuristics(input.heloName ?? null, input.ourHostname ?? null)) tests.push(scored(hit, scoreOf(hit.name)));

      let forceReject = false;
      let scannerUnavailable: string | undefined;
      if (rspamd !== null && "error" in rspamd) {
        dnsErrors.push(`rspamd: ${rspamd.error}`);
        if (settings.rspamdFailure === "tempfail") scannerUnavailable = rspamd.error;
      } else if (rspamd !== null) {
        const symbols = rspamd.symbols.slice(0, 5).map((s) => `${s.name}(${s.score})`).join(" ");
        tests.push({ name: "RSPAMD", score: Math.round(rspamd.score * settings.rspamdWeight * 100) / 100, detail: `${rspamd.action}${symbols ? `: ${symbols}` : ""}` });
        // rspamd's own reject (GTUBE, a virus, a composite rule) stands whatever the score.
        forceReject = rspamd.action === "reject";
      }

      const score = Math.round(tests.reduce((sum, t) => sum + t.score, 0) * 100) / 100;
      const action = forceReject && settings.rejectScore > 0 ? "reject" : actionFor(score);
      return { score, tests, action, iprev, dnsErrors, skipped: false, ...(scannerUnavailable ? { scannerUnavailable } : {}) };
    },
  };
}

function scored(hit: TestHit, score: number): SpamTest {
  return hit.detail === undefined ? { name: hit.name, score } : { name: hit.name, score, detail: hit.detail };
}

/**
 * The X-Spam-Status and X-Spam-Score fields, SpamAssassin's layout that mail clients and Sieve
 * scripts already filter on: `Yes, score=7.5 required=6.0 tests=DNSBL_X=5.0,MISSING_DATE=1.2`.
 */
export function spamHeaderFields(verdict: SpamVerdict, junkScore: number): string[] {
  const tests = verdict.tests.map((t) => `${t.name}=${t.score.toFixed(1)}`).join(", ") || "none";
  const flag = verdict.action === "accept" ? "No" : "Yes";
  return [`X-Spam-Status: ${flag}, score=${verdict.score.toFixed(1)} required=${junkScore.toFixed(1)} tests=${tests}`, `X-Spam-Score: ${verdict.score.toFixed(1)}`];
}

/** RFC 8601 §2.7.3 iprev result for Authentication-Results, e.g. `iprev=pass policy.iprev=192.0.2.1 (mx.example.net)`. */
export function iprevResultText(result: IprevResult, clientIp: string): string {
  return `iprev=${result.result} policy.iprev=${clientIp}${result.hostname ? ` (${result.hostname.replace(/[()\\]/g, "")})` : ""}`;
}
