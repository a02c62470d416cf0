// Forwarding and the out-of-office reply of the account page (/account), written as one Sieve
// script (RFC 5228) that the delivery's Sieve engine runs: redirect (RFC 5228 §4.2, with :copy of
// RFC 3894 to keep a copy) and vacation (RFC 5230: one reply per sender per :days, never to lists
// or automatic mail, as the engine's vacation rules already do). The settings ride in the script's
// first line as JSON so the page shows them back exactly; the script itself is what runs.
// The script is ACCOUNT_RULES_SCRIPT, which delivery runs before the user's own active script
// (delivery/sieve-filter.ts, through RFC 6609 include): both take effect, and a script the user
// activated over ManageSieve stays active.
import { ACCOUNT_RULES_SCRIPT } from "../../delivery/sieve-filter.js";
import type { SieveOperations } from "./sieve.js";
import { AdminError, normaliseAddress } from "./validation.js";

/** The script the account page manages; other scripts (ManageSieve, `mailroom sieve`) are left alone. */
export const ACCOUNT_SCRIPT = ACCOUNT_RULES_SCRIPT;
/**
 * Where the page wrote its rules before they ran beside the active script: they ran only while
 * it was the active script. Read back while it is; the first save moves them to ACCOUNT_SCRIPT.
 */
export const LEGACY_ACCOUNT_SCRIPT = "account-page";
const MARK = "# mailroom-account-page ";

export interface AccountFilters {
  /** Where to forward every message, or null. */
  forwardTo: string | null;
  /** Keep a copy here when forwarding. */
  keepCopy: boolean;
  vacation: { enabled: boolean; subject: string; body: string; days: number };
}

export const NO_FILTERS: AccountFilters = { forwardTo: null, keepCopy: true, vacation: { enabled: false, subject: "", body: "", days: 7 } };

const MAX_SUBJECT = 200;
const MAX_BODY = 4000;

/** A Sieve quoted string (RFC 5228 §2.4.2): backslash and double quote escaped. */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function checkedFilters(input: unknown): AccountFilters {
  const bad = (why: string) => new AdminError("invalid-argument", why);
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw bad("the settings must be an object");
  const o = input as Record<string, unknown>;
  let forwardTo: string | null = null;
  if (o.forwardTo !== undefined && o.forwardTo !== null && o.forwardTo !== "") {
    if (typeof o.forwardTo !== "string") throw bad("forwardTo must be an address");
    forwardTo = normaliseAddress(o.forwardTo).address;
  }
  if (o.keepCopy !== undefined && typeof o.keepCopy !== "boolean") throw bad("keepCopy must be true or false");
  const v = (o.vacation ?? {}) as Record<string, unknown>;
  if (typeof v !== "object" || Array.isArray(v)) throw bad("vacation must be an object");
  const enabled = v.enabled === true;
  const subject = typeof v.subject === "string" ? v.subject.replace(/[\r\n\t]+/g, " ").trim() : "";
  const body = typeof v.body === "string" ? v.body.replace(/\r\n?/g, "\n") : "";
  const days = v.days === undefined ? 7 : v.days;
  if (typeof days !== "number" || !Number.isSafeInteger(days) || days < 1 || days > 30) throw bad("vacation days must be from 1 to 30");
  if ([...subject].length > MAX_SUBJECT) throw bad(`the subject must have at most ${MAX_SUBJECT} characters`);
  if ([...body].length > MAX_BODY) throw bad(`the reply must have at most ${MAX_BODY} characters`);
  if (/[\x00-\x08\x0b-\x1f\x7f]/.test(subject + body)) throw bad("the reply must not contain control characters");
  if (enabled && body.trim() === "") throw bad("an out-of-office reply needs a text");
  return { forwardTo, keepCopy: o.keepCopy !== false, vacation: { enabled, subject, body, days } };
}

/** The Sieve script for the settings; with nothing set, only the settings line (a script that does nothing). */
export function filtersScript(filters: AccountFilters): string {
  const lines = [MARK + JSON.stringify(filters), "# Written by the Mailroom account page; saved settings there replace this script. It runs before your active script."];
  const extensions = [...(filters.vacation.enabled ? ["vacation"] : []), ...(filters.forwardTo !== null && filters.keepCopy ? ["copy"] : [])];
  if (extensions.length > 0) lines.push(`require [${extensions.map(quoted).join(", ")}];`);
  // The reply comes first: with a plain redirect (no copy kept) the message is still answered.
  if (filters.vacation.enabled) lines.push(`vacation :days ${filters.vacation.days}${filters.vacation.subject ? ` :subject ${quoted(filters.vacation.subject)}` : ""} ${quoted(filters.vacation.body)};`);
  if (filters.forwardTo !== null) lines.push(`redirect${filters.keepCopy ? " :copy" : ""} ${quoted(filters.forwardTo)};`);
  return lines.join("\r\n") + "\r\n";
}

/** The settings a stored script says, or none when there is no such script or it was edited elsewhere. */
export function parseFiltersScript(content: string): AccountFilters | null {
  const first = content.split(/\r?\n/, 1)[0] ?? "";
  if (!first.startsWith(MARK)) return null;
  try {
    return checkedFilters(JSON.parse(first.slice(MARK.length)));
  } catch {
    return null;
  }
}

export function createAccountFilterOperations(sieve: () => SieveOperations) {
  return {
    /**
     * The page's settings, and the user's own active script when there is one (it runs after
     * the page's rules; the page says so). Settings from before (LEGACY_ACCOUNT_SCRIPT) are shown
     * while that script is active.
     */
    async getFilters(address: string): Promise<AccountFilters & { otherActiveScript: string | null }> {
      const scripts = await sieve().list(address);
      const activeName = scripts.find((s) => s.active)?.name ?? null;
      const ours = scripts.find((s) => s.name === ACCOUNT_SCRIPT);
      const legacyActive = activeName === LEGACY_ACCOUNT_SCRIPT && scripts.some((s) => s.name === LEGACY_ACCOUNT_SCRIPT);
      const otherActive = activeName === null || activeName === ACCOUNT_SCRIPT || legacyActive ? null : activeName;
      const source = ours !== undefined ? ACCOUNT_SCRIPT : legacyActive ? LEGACY_ACCOUNT_SCRIPT : null;
      if (source === null) return { ...NO_FILTERS, otherActiveScript: otherActive };
      const parsed = parseFiltersScript((await sieve().get(address, source)).content);
      return { ...(parsed ?? NO_FILTERS), otherActiveScript: otherActive };
    },
    /**
     * Stores the page's script (delivery runs it beside the active script, so nothing is
     * activated or replaced); with nothing set, a script that does nothing. Rules the page wrote
     * before into the active LEGACY_ACCOUNT_SCRIPT are superseded: that script is deactivated.
     */
    async setFilters(address: string, input: unknown): Promise<AccountFilters> {
      const filters = checkedFilters(input);
      await sieve().put(address, ACCOUNT_SCRIPT, filtersScript(filters));
      const legacy = (await sieve().list(address)).find((s) => s.name === LEGACY_ACCOUNT_SCRIPT);
      if (legacy?.active && parseFiltersScript((await sieve().get(address, LEGACY_ACCOUNT_SCRIPT)).content) !== null) await sieve().activate(address, null);
      return filters;
    },
  };
}
