// Sieve at local delivery: the account's active script decides, per recipient, where the message
// goes before anything is stored (docs/architecture.md, "One message"). The decision is only a
// list of targets; deliver-local.ts stores all of them in one store.deliver() call, so a crash
// never files a message twice or loses it. A script that does not compile, fails at run time or
// hits a limit gives the implicit keep (RFC 5228 §2.10.6) and one log line: mail is never lost
// because of a bad script. Redirect and vacation go through the outbound queue after the commit.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { compileScript, type CompiledScript } from "../sieve/compile.js";
import { resolveIncludes } from "../sieve/include.js";
import { DEFAULT_INTERPRETER_LIMITS, runScript, type DuplicateMark, type InterpreterLimits, type RunResult, type SieveAction } from "../sieve/interpreter.js";
import { DuplicateLookupNeeded } from "../sieve/errors.js";
import { REDIRECT_MARK_FIELD, type EditedHeader } from "../sieve/editheader.js";
import { headerValues, parseAddressList, sieveMessage, type SieveMessage } from "../sieve/message.js";
import { DEFAULT_PARSE_LIMITS } from "../sieve/parser.js";
import { loadDkimKeys, signWithKeys, type DkimKeyLocation } from "../mail-auth/index.js";
import type { Logger } from "../observability/log.js";
import type { Account, Flag, MailStore, QueueStore, SharedCounterStore, SieveStore, StagedMessage } from "../store/index.js";

export interface SieveFilterLimits extends InterpreterLimits {
  /** Bytes of the message read for header and body tests (the size test always sees the real size). */
  readonly maxMessageBytes: number;
  readonly maxNesting: number;
  /** Compiled scripts kept in memory. */
  readonly cacheEntries: number;
  /** Redirects one account may make per UTC day (issue 18: a forwarding rule must not turn the
   * account into a spam cannon); counted in memory, so a restart starts the day's count again. */
  readonly maxRedirectsPerDay: number;
}

export const DEFAULT_SIEVE_FILTER_LIMITS: SieveFilterLimits = {
  ...DEFAULT_INTERPRETER_LIMITS,
  maxMessageBytes: 1024 * 1024,
  maxNesting: DEFAULT_PARSE_LIMITS.maxNesting,
  cacheEntries: 256,
  maxRedirectsPerDay: 100,
};

export interface SieveFilterDeps {
  readonly scripts: Pick<SieveStore, "getActiveSieveScript" | "getSieveScript" | "claimVacationReply" | "seenSieveDuplicates" | "recordSieveDuplicates">;
  readonly mail: Pick<MailStore, "getMailbox" | "createMailbox" | "stageMessage">;
  /** Null: redirect and vacation are not carried out (logged), the message is kept instead. */
  readonly queue: Pick<QueueStore, "enqueue"> | null;
  readonly hostname: string;
  /** Where per-domain DKIM keys live (outbound.dkim_key_dir): vacation replies are signed here. */
  readonly dkimKeyDir?: DkimKeyLocation | null;
  readonly log: Logger;
  readonly limits?: SieveFilterLimits;
  readonly clock?: () => Date;
  /**
   * Several nodes on one database (PostgreSQL): the daily redirect count is kept there, so
   * sieve.max_redirects_per_day holds for the account whichever nodes deliver its mail.
   */
  readonly sharedCounters?: Pick<SharedCounterStore, "takeCounter"> | null;
}

/** Where one recipient's copy goes, and what to do after the commit. */
/** RFC 5235 §3.1/§3.2: spamtest 1 (surely ham) to 10 (surely spam), spamtestplus :percent 0-100. */
export interface SpamTestValue {
  readonly score: number;
  readonly percent: number;
}

export interface SieveDecision {
  /**
   * Mailbox names (INBOX for keep) with their flags; empty when discarded or rejected. `message`:
   * the copy as the script had edited it when it filed it (RFC 5293), staged; absent: the message as received.
   */
  readonly files: readonly { readonly mailbox: string; readonly flags: readonly string[]; readonly message?: StagedMessage }[];
  readonly reject: string | null;
  readonly followUps: readonly SieveAction[];
  /** RFC 7352 unique IDs the run tested, recorded after the commit (store keys, hashed). */
  readonly duplicates?: readonly DuplicateMark[];
  /** The edited copies staged for this decision (RFC 5293), by the header the actions captured; release() discards them. */
  readonly edited?: ReadonlyMap<EditedHeader, StagedMessage>;
}

/** The store key of a duplicate ID: a hash, so a hostile Message-ID costs a fixed 64 characters. */
const duplicateKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex");

/** At most this many store look-ups (re-runs) per message for duplicate tests. */
const MAX_DUPLICATE_LOOKUPS = 32;

export interface SieveFilter {
  /** null when the account has no active script (deliver as usual). */
  /** `spam`: the RFC 5235 spamtest values of this account's verdict; absent or null: not tested ("0"). */
  decide(staged: StagedMessage, account: Account, envelope: { from: string; to: string }, spam?: SpamTestValue | null): Promise<SieveDecision | null>;
  /** Redirects and vacation replies of a committed delivery; failures are logged, never thrown. */
  /** `envelope.requireTls`: RFC 8689 REQUIRETLS came with the message; a redirect keeps it (§4.1). */
  afterCommit(staged: StagedMessage, account: Account, envelope: { from: string; to: string; requireTls?: boolean }, decision: SieveDecision): Promise<void>;
  /** Drops the edited copies the decision staged (after the delivery, or when it failed). */
  release(decision: SieveDecision): void;
}

const REDIRECT_MARK = REDIRECT_MARK_FIELD;

/**
 * The bytes of an edited message (RFC 5293): the edited header, then the received message from
 * the end of its header on, streamed (a large body is never held in memory).
 */
async function* editedBytes(staged: StagedMessage, edited: EditedHeader): AsyncGenerator<Buffer> {
  yield edited.header;
  const head = staged.head;
  if (head !== undefined && head.length >= staged.size) {
    yield head.subarray(edited.resumeAt);
    return;
  }
  let skip = edited.resumeAt;
  const stream = staged.open();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      yield skip > 0 ? chunk.subarray(skip) : chunk;
      skip = 0;
    }
  } finally {
    stream.destroy();
  }
}

/**
 * RFC 5183 §4.1 items at local delivery: Mailroom is the MDA, filtering "during" delivery. The
 * connecting client's address is not known here (a message may come from the queue), so
 * remote-host and remote-ip are absent and a test on them is false, as §4.1 allows.
 */
export function environmentOf(hostname: string): Record<string, string> {
  const dot = hostname.indexOf(".");
  return { domain: dot >= 0 ? hostname.slice(dot + 1) : hostname, host: hostname, location: "MDA", name: "Mailroom", phase: "during", version: "0.1.0" };
}

async function readPrefix(staged: StagedMessage, max: number): Promise<Buffer> {
  // The store kept the message's first octets from staging: a small message is not read back.
  const head = staged.head;
  if (head !== undefined && head.length >= Math.min(max, staged.size)) return head.subarray(0, max);
  const chunks: Buffer[] = [];
  let total = 0;
  const stream = staged.open();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= max) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, max);
}

/**
 * The script the account page (/account) writes forwarding and the out-of-office reply into
 * (admin/operations/account-filters.ts). It runs whether or not it is the active script: before
 * the user's own active script, as a separate execution whose result is combined with hers
 * (combineRuns, like Pigeonhole's sieve_before), so the page never has to replace a script the
 * user activated over ManageSieve and neither script can make the other fail.
 */
export const ACCOUNT_RULES_SCRIPT = "account-rules";

/** Actions that deliver or reply: RFC 5429 §2.2 says a reject cannot go with any of them. */
const deliversOrReplies = (a: SieveAction): boolean => a.type === "keep" || a.type === "fileinto" || a.type === "redirect" || a.type === "vacation";

/**
 * The result of the account page's rules and the user's script, run one after the other (null:
 * that script did not compile or failed, which counts as a run with the implicit keep only, RFC
 * 5228 §2.10.6). Explicit actions add up, the page's first. The message is kept in INBOX only
 * when neither run cancelled its implicit keep (a page's redirect :copy or vacation leaves the
 * decision to the user's script). Where both cannot hold:
 * - both reply (RFC 5230 §4.7 allows one vacation): the page's out-of-office wins, hers is dropped;
 * - her reject beside the page's delivery or reply (RFC 5429 §2.2): her run counts as failed
 *   (implicit keep), so the forwarding or reply still goes out and the message is not lost.
 */
export function combineRuns(
  page: RunResult | null,
  own: RunResult | null,
  warn: (event: string, fields: Record<string, unknown>) => void,
): Pick<RunResult, "actions" | "duplicates" | "warnings"> {
  // runScript appends the implicit keep last when nothing cancelled it.
  const explicit = (r: RunResult | null): SieveAction[] => (r === null ? [] : r.implicitKeep ? r.actions.slice(0, -1) : [...r.actions]);
  const pageActions = explicit(page);
  let ownActions = explicit(own);
  let ownKeeps = own === null || own.implicitKeep;
  if (ownActions.some((a) => a.type === "reject") && pageActions.some(deliversOrReplies)) {
    warn("sieve.run_failed", { error: "reject conflicts with the account page's rules (RFC 5429)", outcome: "implicit keep" });
    ownActions = [];
    ownKeeps = true;
  }
  if (pageActions.some((a) => a.type === "vacation") && ownActions.some((a) => a.type === "vacation")) {
    warn("sieve.vacation_dropped", { reason: "the account page's out-of-office reply is on" });
    ownActions = ownActions.filter((a) => a.type !== "vacation");
  }
  const actions = [...pageActions, ...ownActions];
  if ((page === null || page.implicitKeep) && ownKeeps) {
    // The implicit keep as the last run made it (with her edits, RFC 5293 §7), else a plain one.
    const keepOf = (r: RunResult | null): SieveAction | undefined => (r !== null && r.implicitKeep ? r.actions.at(-1) : undefined);
    actions.push(keepOf(own) ?? keepOf(page) ?? { type: "keep", flags: [] });
  }
  return { actions, duplicates: [...(page?.duplicates ?? []), ...(own?.duplicates ?? [])], warnings: [...(page?.warnings ?? []), ...(own?.warnings ?? [])] };
}

export function createSieveFilter(deps: SieveFilterDeps): SieveFilter {
  const limits = deps.limits ?? DEFAULT_SIEVE_FILTER_LIMITS;
  const clock = deps.clock ?? (() => new Date());
  const cache = new Map<string, CompiledScript | Error>();
  const parsed = new WeakMap<StagedMessage, SieveMessage>();
  // Per account: the UTC day and the redirects taken that day. One entry per account that
  // redirected, replaced when its day changes, so the map is bounded by the number of accounts.
  const redirectsToday = new Map<number, { day: string; count: number }>();
  const takeRedirect = async (accountId: number): Promise<boolean> => {
    if (deps.sharedCounters) {
      // One UTC day per bucket, as the in-memory count (the database's clock).
      return deps.sharedCounters.takeCounter({ key: `sieve:redirect:${accountId}`, bucketMs: 86_400_000, buckets: 1 }, limits.maxRedirectsPerDay);
    }
    const day = clock().toISOString().slice(0, 10);
    const known = redirectsToday.get(accountId);
    const entry = known && known.day === day ? known : { day, count: 0 };
    if (entry.count >= limits.maxRedirectsPerDay) return false;
    entry.count += 1;
    redirectsToday.set(accountId, entry);
    return true;
  };

  const compiled = (accountId: number, content: string): CompiledScript | Error => {
    const key = `${accountId}\u0000${content}`;
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    let result: CompiledScript | Error;
    try {
      result = compileScript(content, { maxNesting: limits.maxNesting, maxListItems: 1024 });
    } catch (error) {
      result = error instanceof Error ? error : new Error(String(error));
    }
    cache.set(key, result);
    while (cache.size > limits.cacheEntries) cache.delete(cache.keys().next().value!);
    return result;
  };

  const messageOf = async (staged: StagedMessage): Promise<SieveMessage> => {
    const known = parsed.get(staged);
    if (known) return known;
    const message = sieveMessage(await readPrefix(staged, limits.maxMessageBytes), staged.size);
    parsed.set(staged, message);
    return message;
  };

  return {
    async decide(staged, account, envelope, spam) {
      const active = await deps.scripts.getActiveSieveScript(account.id);
      // The account page's rules run beside the user's own active script (ACCOUNT_RULES_SCRIPT).
      const rules = active?.name === ACCOUNT_RULES_SCRIPT ? null : await deps.scripts.getSieveScript(account.id, ACCOUNT_RULES_SCRIPT);
      if (!active && !rules) return null;
      const scriptName = active && rules ? `${ACCOUNT_RULES_SCRIPT}+${active.name}` : (active ?? rules)!.name;
      const log = deps.log.child({ account: account.address, script: scriptName });
      const keep: SieveDecision = { files: [{ mailbox: "INBOX", flags: [] }], reject: null, followUps: [] };
      // Scripts this run already read, so the include loader does not read them again.
      const readScripts = new Map<string, string>();
      if (active) readScripts.set(active.name, active.content);
      if (rules) readScripts.set(rules.name, rules.content);
      const message = await messageOf(staged);
      const exists = new Set<string>();
      // One execution of a compiled script, its includes loaded first; throws when it fails.
      const execute = async (program: CompiledScript, mainKey: string): Promise<RunResult> => {
        // RFC 6609: the scripts it includes, loaded and compiled first (a loop or a missing one is an error).
        const includes = await resolveIncludes(
          program,
          async (location, name) => {
            // No global script location exists: include :global finds nothing (:optional skips it).
            if (location === "global") return null;
            const content = readScripts.get(name) ?? (await deps.scripts.getSieveScript(account.id, name))?.content;
            if (content === undefined) return null;
            const included = compiled(account.id, content);
            if (included instanceof Error) throw new Error(`included script "${name}": ${included.message}`);
            return included;
          },
          limits.maxIncludeDepth,
          mainKey,
        );
        // mailboxexists needs answers synchronously: the names the script mentions are looked up first.
        for (const name of [program, ...includes.values()].flatMap((p) => mailboxNamesIn(p))) if (!exists.has(name) && (await deps.mail.getMailbox(account.id, name))) exists.add(name);
        const now = clock();
        // RFC 7352: a duplicate test whose ID is not known yet stops the pure run; the ID is
        // looked up and the run starts again with the answer (bounded by MAX_DUPLICATE_LOOKUPS).
        const known = new Map<string, boolean>();
        for (;;) {
          try {
            return runScript(program, {
              message,
              envelope,
              mailboxExists: (n) => exists.has(n),
              limits,
              now,
              localOffsetMinutes: -now.getTimezoneOffset(),
              environment: environmentOf(deps.hostname),
              includes,
              duplicates: known,
              spam: spam ?? null,
            });
          } catch (error) {
            if (!(error instanceof DuplicateLookupNeeded) || known.size >= MAX_DUPLICATE_LOOKUPS) throw error;
            const hashed = duplicateKey(error.key);
            known.set(error.key, (await deps.scripts.seenSieveDuplicates(account.id, [hashed], now)).has(hashed));
          }
        }
      };
      // A script's run, or null (logged) when it does not compile or fails at run time.
      const runOf = async (script: { name: string; content: string }, outcome: string): Promise<RunResult | null> => {
        const program = compiled(account.id, script.content);
        if (program instanceof Error) {
          log.warn("sieve.script_invalid", { script: script.name, error: program.message, outcome });
          return null;
        }
        try {
          return await execute(program, `personal:${script.name}`);
        } catch (error) {
          log.warn("sieve.run_failed", { script: script.name, error: error instanceof Error ? error.message : String(error), outcome });
          return null;
        }
      };
      let run: Pick<RunResult, "actions" | "duplicates" | "warnings">;
      if (active && rules) {
        // Both: two executions, the page's rules first, then the user's script, their results
        // combined (as Pigeonhole's sieve_before does), so that one script's action can never make
        // the other fail and lose the forwarding or her filing (combineRuns).
        const page = await runOf(rules, "the user's script alone");
        const own = await runOf(active, page === null ? "implicit keep" : "the account page's rules alone");
        if (page === null && own === null) return keep;
        run = combineRuns(page, own, (event, fields) => log.warn(event, { script: active.name, ...fields }));
      } else {
        const result = await runOf((active ?? rules)!, "implicit keep");
        if (result === null) return keep;
        run = result;
      }
      const { actions, duplicates, warnings } = run;
      for (const warning of warnings) log.warn("sieve.edit_refused", { reason: warning });
      // RFC 5293: each version of the header an action captured is staged once (same bytes, same
      // blob); the copies go into the one store.deliver() with the rest, so the delivery stays atomic.
      const edited = new Map<EditedHeader, StagedMessage>();
      try {
        for (const action of actions) {
          if ((action.type === "keep" || action.type === "fileinto" || action.type === "redirect" || action.type === "vacation") && action.edited && !edited.has(action.edited)) {
            edited.set(action.edited, await deps.mail.stageMessage(editedBytes(staged, action.edited)));
          }
        }
      } catch (error) {
        for (const m of edited.values()) m.discard();
        log.warn("sieve.edit_failed", { error: error instanceof Error ? error.message : String(error), outcome: "implicit keep" });
        return keep;
      }
      const messageOfAction = (action: SieveAction): { message?: StagedMessage } => {
        const m = "edited" in action && action.edited ? edited.get(action.edited) : undefined;
        return m ? { message: m } : {};
      };
      const files: { mailbox: string; flags: string[]; message?: StagedMessage }[] = [];
      const followUps: SieveAction[] = [];
      let reject: string | null = null;
      const redirectedHere = headerValues(message, REDIRECT_MARK).some((v) => v.toLowerCase() === account.address.toLowerCase());
      for (const action of actions) {
        if (action.type === "keep") files.push({ mailbox: "INBOX", flags: [...action.flags], ...messageOfAction(action) });
        else if (action.type === "fileinto") {
          const existing = await deps.mail.getMailbox(account.id, action.mailbox);
          if (existing) files.push({ mailbox: existing.name, flags: [...action.flags], ...messageOfAction(action) });
          else if (action.create) {
            try {
              const created = await deps.mail.createMailbox(account.id, action.mailbox);
              files.push({ mailbox: created.name, flags: [...action.flags], ...messageOfAction(action) });
            } catch (error) {
              log.warn("sieve.fileinto_failed", { mailbox: action.mailbox, error: error instanceof Error ? error.message : String(error), outcome: "INBOX" });
              files.push({ mailbox: "INBOX", flags: [...action.flags], ...messageOfAction(action) });
            }
          } else {
            // RFC 5228 §4.1 leaves a missing mailbox to the implementation; filing into INBOX loses nothing.
            log.warn("sieve.fileinto_missing", { mailbox: action.mailbox, outcome: "INBOX" });
            files.push({ mailbox: "INBOX", flags: [...action.flags], ...messageOfAction(action) });
          }
        } else if (action.type === "reject") reject = action.reason;
        else if (action.type === "redirect") {
          // The daily count is taken last: a redirect refused for another reason does not use it up.
          let refused = deps.queue === null ? "no outbound queue" : redirectedHere ? "loop: already redirected by this account" : null;
          if (refused === null) {
            try {
              if (!(await takeRedirect(account.id))) refused = `daily limit of ${limits.maxRedirectsPerDay} redirects reached (sieve.max_redirects_per_day)`;
            } catch (error) {
              // The shared count cannot be read: kept rather than sent past a limit nobody checked.
              refused = `the daily redirect count is unavailable (${error instanceof Error ? error.message : String(error)})`;
            }
          }
          if (refused !== null) {
            log.warn("sieve.redirect_skipped", { to: action.address, reason: refused, outcome: "keep" });
            if (!action.copy) files.push({ mailbox: "INBOX", flags: [], ...messageOfAction(action) });
          } else followUps.push(action);
        } else if (action.type === "vacation") followUps.push(action);
      }
      log.info("sieve.decided", { actions: actions.map((a) => a.type), files: files.map((f) => f.mailbox) });
      return { files: dedupe(files), reject, followUps, duplicates, ...(edited.size > 0 ? { edited } : {}) };
    },

    async afterCommit(staged, account, envelope, decision) {
      const log = deps.log.child({ account: account.address });
      if (decision.duplicates && decision.duplicates.length > 0) {
        try {
          // RFC 7352 §3: IDs are marked seen only once the message was delivered.
          await deps.scripts.recordSieveDuplicates(account.id, decision.duplicates.map((d) => ({ ...d, key: duplicateKey(d.key) })), clock());
        } catch (error) {
          log.warn("sieve.duplicate_record_failed", { error: error instanceof Error ? error.message : String(error) });
        }
      }
      for (const action of decision.followUps) {
        try {
          // RFC 5293 §7: a redirect sends the message as edited when the script redirected it.
          const edits = "edited" in action && action.edited ? action.edited : undefined;
          const own = edits ? decision.edited?.get(edits) : undefined;
          if (action.type === "redirect" && deps.queue) {
            // RFC 5228 §4.2: the envelope sender is kept, so bounces go to the original sender.
            await deps.queue.enqueue({
              message: own ?? staged,
              mailFrom: envelope.from,
              submittedBy: null,
              recipients: [{ address: action.address, notify: null, originalRecipient: null }],
              envelopeId: null,
              ret: null,
              bodyType: "8BITMIME",
              smtputf8: false,
              requireTls: envelope.requireTls === true,
              prefix: Buffer.from(`${REDIRECT_MARK}: ${account.address}\r\n`),
            });
            log.info("sieve.redirected", { to: action.address });
          } else if (action.type === "vacation") {
            // The vacation checks (RFC 5230 §4.5-§4.6) read the header as edited when vacation ran.
            await vacation(deps, clock, log, staged, account, envelope, action, edits ? sieveMessage(edits.header) : await messageOf(staged));
          }
        } catch (error) {
          log.error("sieve.follow_up_failed", { action: action.type, error });
        }
      }
    },

    release(decision) {
      for (const m of decision.edited?.values() ?? []) m.discard();
    },
  };
}

type Filing = { mailbox: string; flags: string[]; message?: StagedMessage };

function dedupe(files: Filing[]): Filing[] {
  const out = new Map<string, Filing>();
  for (const f of files) {
    const key = f.mailbox.toUpperCase() === "INBOX" ? "INBOX" : f.mailbox;
    const known = out.get(key);
    // RFC 5228 §4.1: filing twice into one mailbox stores one copy; the flags join. The first
    // filing's message stands (as in Pigeonhole, a later one with other edits is a duplicate).
    if (known) known.flags = [...new Set([...known.flags, ...f.flags])];
    else out.set(key, { ...f });
  }
  return [...out.values()];
}

function mailboxNamesIn(script: CompiledScript): string[] {
  const names: string[] = [];
  const walk = (nodes: CompiledScript["commands"]): void => {
    for (const n of nodes) {
      if (n.name === "mailboxexists") for (const v of n.positional) if (Array.isArray(v)) names.push(...(v as string[]));
      walk(n.tests);
      if (n.block) walk(n.block);
    }
  };
  walk(script.commands);
  return names;
}

/** RFC 3834 §2 and RFC 5230 §4.5-§4.6: when not to answer automatically. */
export function vacationRefusal(message: SieveMessage, sender: string, own: readonly string[]): string | null {
  if (sender === "") return "null sender";
  const local = sender.split("@")[0]!.toLowerCase();
  if (local === "mailer-daemon" || local === "postmaster" || local.startsWith("owner-") || local.endsWith("-request") || local === "listserv" || local === "majordomo") {
    return "sender is a list or system address";
  }
  if (own.some((a) => a.toLowerCase() === sender.toLowerCase())) return "sender is the recipient";
  const auto = headerValues(message, "auto-submitted")[0];
  if (auto !== undefined && auto.trim().toLowerCase().split(";")[0] !== "no") return "Auto-Submitted";
  if (headerValues(message, "precedence").some((p) => /^(bulk|list|junk)$/i.test(p.trim()))) return "Precedence bulk/list/junk";
  if (message.fields.some((f) => /^list-(id|help|unsubscribe|subscribe|post|owner|archive)$/i.test(f.name))) return "mailing list";
  const recipients = ["to", "cc", "bcc", "resent-to", "resent-cc"].flatMap((h) => headerValues(message, h).flatMap(parseAddressList)).map((a) => a.toLowerCase());
  if (!own.some((a) => recipients.includes(a.toLowerCase()))) return "recipient not in To/Cc";
  return null;
}

async function vacation(
  deps: SieveFilterDeps,
  clock: () => Date,
  log: Logger,
  staged: StagedMessage,
  account: Account,
  envelope: { from: string; to: string },
  action: Extract<SieveAction, { type: "vacation" }>,
  message: SieveMessage,
): Promise<void> {
  const own = [account.address, envelope.to, ...action.addresses];
  const refusal = vacationRefusal(message, envelope.from, own);
  if (refusal !== null) {
    log.info("sieve.vacation_skipped", { sender: envelope.from, reason: refusal });
    return;
  }
  if (!deps.queue) {
    log.warn("sieve.vacation_skipped", { sender: envelope.from, reason: "no outbound queue" });
    return;
  }
  if (!(await deps.scripts.claimVacationReply(account.id, action.handle, envelope.from, action.periodSeconds, clock()))) {
    log.info("sieve.vacation_skipped", { sender: envelope.from, reason: "already answered within the period" });
    return;
  }
  const original = headerValues(message, "subject")[0] ?? "";
  // Values from the incoming message (encoded words decoded) or from script variables may hold
  // CR LF: written into the reply as they are, a sender could add header fields (a Bcc:) to it.
  // A Message-ID that is not one msg-id (RFC 5322 §3.6.4) gives no In-Reply-To/References.
  const rawId = headerValues(message, "message-id")[0]?.trim();
  const messageId = rawId !== undefined && /^<[^<>\s]+>$/.test(rawId) ? rawId : undefined;
  // RFC 5230 §4.4: a :from that is not one address is not used; the account's address is.
  let from = `<${account.address}>`;
  if (action.from !== null) {
    if (/[\r\n]/.test(action.from) || parseAddressList(action.from).length !== 1) log.warn("sieve.vacation_from_invalid", { from: action.from, outcome: from });
    else from = action.from;
  }
  const now = clock();
  const subject = action.subject ?? `Auto: ${original}`;
  const lines = [
    `From: ${from}`,
    `To: <${envelope.from}>`,
    `Subject: ${encodeHeader(subject)}`,
    `Date: ${now.toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <vacation.${now.getTime()}.${Math.random().toString(36).slice(2)}@${deps.hostname}>`,
    // RFC 3834 §5: mark the reply so other responders do not answer it.
    "Auto-Submitted: auto-replied (vacation)",
    ...(messageId ? [`In-Reply-To: ${messageId}`, `References: ${messageId}`] : []),
    "MIME-Version: 1.0",
  ];
  const body = action.mime ? action.reason.replace(/\r?\n/g, "\r\n") : `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${action.reason.replace(/\r?\n/g, "\r\n")}`;
  const unsigned = Buffer.from(`${lines.join("\r\n")}\r\n${body}${body.endsWith("\r\n") ? "" : "\r\n"}`, "utf8");
  const bytes = Buffer.concat([Buffer.from(await vacationSignature(deps.dkimKeyDir ?? null, account.address, unsigned, now, log), "utf8"), unsigned]);
  const reply = await deps.mail.stageMessage(Readable.from([bytes]));
  try {
    // RFC 3834 §3.3: the reply goes from the null reverse-path, so it can cause no bounce loop.
    await deps.queue.enqueue({
      message: reply,
      mailFrom: "",
      submittedBy: null,
      recipients: [{ address: envelope.from, notify: null, originalRecipient: null }],
      envelopeId: null,
      ret: null,
      bodyType: "8BITMIME",
      smtputf8: false,
    });
    log.info("sieve.vacation_sent", { to: envelope.from });
  } finally {
    reply.discard();
  }
  void staged;
}

/**
 * DKIM-Signature fields for a vacation reply, d= the account's domain. The outbound signer picks
 * its domain from MAIL FROM, which is null here (RFC 3834 §3.3), so without this the reply would
 * leave unsigned and fail DMARC at receivers (issue 18: vacation goes out DKIM-signed). Only our
 * own reply is signed this way, never a relayed message. No keys, or a signing failure, sends the
 * reply unsigned with a log line rather than not at all.
 */
async function vacationSignature(keyDir: DkimKeyLocation | null, address: string, message: Buffer, now: Date, log: Logger): Promise<string> {
  if (keyDir === null) return "";
  const domain = address.slice(address.lastIndexOf("@") + 1).toLowerCase();
  try {
    const keys = await loadDkimKeys(keyDir, domain);
    if (keys === null || keys.keys.length === 0) return "";
    return await signWithKeys(() => Readable.from([message]), keys, now);
  } catch (error) {
    log.warn("sieve.vacation_unsigned", { domain, error: error instanceof Error ? error.message : String(error) });
    return "";
  }
}

function encodeHeader(value: string): string {
  const clean = value.replace(/[\r\n]+/g, " ");
  return /^[\x20-\x7e]*$/.test(clean) ? clean : `=?utf-8?B?${Buffer.from(clean, "utf8").toString("base64")}?=`;
}

export type { Flag };
