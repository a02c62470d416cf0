// MailStore.findHeaderMatches for SQLite: SEARCH SUBJECT/FROM/TO/CC/BCC/HEADER answered from the
// header_index rows (schema.ts, version 12) inside SQLite, one page of UIDs per read, so neither
// the mailbox nor any header reaches JavaScript except where SQL cannot decide:
// - a HEADER field in the per-recipient trace prefix (Return-Path, Received): the prefix is kept
//   in the message row, and only rows whose prefix holds the field name at all are parsed here;
// - a blob stored before version 12 (fields NULL) or without a row: reported as `unknown`, and the
//   store decides those from the message's header read from its file (sqlite-store.ts).
import { foldCase } from "../../mail/case-fold.js";
import { parseHeaderBlock } from "../../mail/header-fields.js";
import { searchableField } from "../../mail/header-search.js";
import type { HeaderSearchField } from "../mail-store.js";
import type { MailboxId, Uid } from "../types.js";
import type { StoreContext } from "./store-context.js";

/**
 * Messages per page: one read each, the event loop free in between (as the short-string text
 * scan). Fixed in production; tests set small values to put page boundaries where they want them.
 */
export const headerScanPage = { size: 2000 };

const COLUMN = { subject: "subject", from: "from_text", to: "to_text", cc: "cc_text", bcc: "bcc_text" } as const;

export interface HeaderMatchPage {
  matches: Uid[];
  /** Messages whose blob has no indexed fields: decided by the caller from the file. */
  unknown: Uid[];
  /** The page's last UID, or null when the mailbox has no more after `afterUid`. */
  lastUid: number | null;
}

/** A string JSON.stringify writes as is between quotes, so instr() over the JSON text can pre-filter. */
const JSON_PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

export function headerMatchPage(ctx: StoreContext, mailboxId: MailboxId, field: HeaderSearchField, needle: string, afterUid: number): HeaderMatchPage {
  const last = ctx.sql.get<{ uid: number | null }>(
    "SELECT max(uid) AS uid FROM (SELECT uid FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid LIMIT ?)",
    mailboxId,
    afterUid,
    headerScanPage.size,
  );
  const lastUid = last?.uid ?? null;
  const page: HeaderMatchPage = { matches: [], unknown: [], lastUid };
  if (lastUid === null) return page;
  const folded = foldCase(needle);
  // header_index through the message row's own text_id (schema.ts, version 22), not through
  // blobs: that join read a random page of the wide blobs table per message.
  const from = `FROM messages m LEFT JOIN header_index h ON h.text_id = m.text_id
                WHERE m.mailbox_id = ? AND m.uid > ? AND m.uid <= ?`;
  if (field.kind !== "header") {
    const column = COLUMN[field.kind === "subject" ? "subject" : field.field];
    const rows = ctx.sql.all<{ uid: number; unknown: number }>(
      `SELECT m.uid, h.text_id IS NULL AS unknown ${from} AND (h.text_id IS NULL OR instr(h.${column}, ?) > 0) ORDER BY m.uid`,
      mailboxId,
      afterUid,
      lastUid,
      folded,
    );
    for (const row of rows) (row.unknown ? page.unknown : page.matches).push(row.uid as Uid);
    return page;
  }
  const name = field.name.toLowerCase();
  // The JSON text holds every folded value: a cheap test before json_each, when it is exact.
  const prefilter = folded !== "" && JSON_PLAIN.test(folded) ? "instr(h.fields, ?) > 0 AND " : "";
  const rows = ctx.sql.all<{ uid: number; blob: number | null; unknown: number; prefix: Buffer | null }>(
    `SELECT * FROM (
       SELECT m.uid, h.fields IS NULL AS unknown,
              h.fields IS NOT NULL AND ${prefilter}EXISTS (SELECT 1 FROM json_each(h.fields) j
                            WHERE json_extract(j.value, '$[0]') = ? AND instr(json_extract(j.value, '$[1]'), ?) > 0) AS blob,
              CASE WHEN m.prefix IS NOT NULL AND instr(lower(CAST(m.prefix AS TEXT)), ?) > 0 THEN m.prefix END AS prefix
         ${from})
      WHERE unknown OR blob OR prefix IS NOT NULL ORDER BY uid`,
    ...(prefilter === "" ? [] : [folded]),
    name,
    folded,
    name,
    mailboxId,
    afterUid,
    lastUid,
  );
  for (const row of rows) {
    if (row.unknown) page.unknown.push(row.uid as Uid);
    else if (row.blob || (row.prefix !== null && prefixMatches(row.prefix, name, folded))) page.matches.push(row.uid as Uid);
  }
  return page;
}

/** Whether the trace prefix has a field `name` (lower-cased) whose folded decoded value holds `folded`. */
function prefixMatches(prefix: Buffer, name: string, folded: string): boolean {
  return parseHeaderBlock(prefix).some((f) => {
    if (f.name.toLowerCase() !== name) return false;
    const [, value] = searchableField(f);
    return folded === "" || value.includes(folded);
  });
}
