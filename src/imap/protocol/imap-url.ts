// RFC 5092 IMAP URLs naming one message or a part of it, as CATENATE (RFC 4469 §3) takes them:
//   imap://[user[;AUTH=mech]@]host[:port]/enc-mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]
//   /enc-mailbox[;UIDVALIDITY=n]/;UID=n[...]            (relative to the session's server, §7)
// Pure: returns the parts or null for anything else (a URL naming a mailbox or a search, with
// URLAUTH/EXPIRE components, bad %-escapes, numbers out of range). The mailbox is %-decoded and
// taken as UTF-8 (RFC 5092 enc-mailbox; a name in modified UTF-7 with `&` is decoded too).
import { decodeModifiedUtf7 } from "./mailbox-name.js";

export interface ImapMessageUrl {
  /** The iuserinfo user (%-decoded), or null when the URL has none. */
  readonly user: string | null;
  /** Host and port as written, or null for a relative URL. */
  readonly host: string | null;
  readonly mailbox: string;
  readonly uidValidity: number | null;
  readonly uid: number;
  /** The section-spec as in a FETCH BODY[...] (%-decoded, upper-cased keywords kept as written), or null. */
  readonly section: string | null;
  /** ;PARTIAL=offset[.length] (RFC 5092 §6.2.2), or null. */
  readonly partial: { readonly offset: number; readonly length: number | null } | null;
}

const MAX_NUMBER = 0xffffffff;
const NZ_NUMBER = /^[1-9][0-9]{0,9}$/;
const NUMBER = /^[0-9]{1,10}$/;
/** RFC 5092 bchar plus the "/" it separates with; anything else must be %-escaped. */
const URL_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]+$/;

function percentDecode(text: string): string | null {
  if (/%(?![0-9A-Fa-f]{2})/.test(text)) return null;
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

function nz(text: string): number | null {
  if (!NZ_NUMBER.test(text)) return null;
  const value = Number(text);
  return value <= MAX_NUMBER ? value : null;
}

/** Parses an absolute or server-relative IMAP URL naming a message (or a section of one). */
export function parseImapMessageUrl(url: string): ImapMessageUrl | null {
  if (url.length === 0 || url.length > 8192 || !URL_CHARS.test(url)) return null;
  let user: string | null = null;
  let host: string | null = null;
  let path: string;
  const absolute = /^imap:\/\/([^/]*)(\/.*)$/i.exec(url);
  if (absolute !== null) {
    const authority = absolute[1]!;
    path = absolute[2]!;
    const at = authority.lastIndexOf("@");
    host = at < 0 ? authority : authority.slice(at + 1);
    if (host.length === 0) return null;
    if (at >= 0) {
      // iuserinfo = enc-user [iauth] / [enc-user] iauth; only the user matters here.
      const userinfo = authority.slice(0, at);
      const semicolon = userinfo.indexOf(";");
      const encodedUser = semicolon < 0 ? userinfo : userinfo.slice(0, semicolon);
      if (semicolon >= 0 && !/^;AUTH=(\*|[A-Za-z0-9\-_.+%]+)$/i.test(userinfo.slice(semicolon))) return null;
      if (encodedUser.length > 0) {
        user = percentDecode(encodedUser);
        if (user === null) return null;
      }
    }
  } else if (url.startsWith("/")) path = url;
  else return null;

  // path = "/" enc-mailbox [uidvalidity] "/;UID=" nz-number [isection] [ipartial] (no ;URLAUTH here)
  const segments = path.slice(1).split("/");
  const mailboxSegment = segments.shift() ?? "";
  const validity = /^(.*?)(?:;UIDVALIDITY=([^;]*))?$/i.exec(mailboxSegment)!;
  const encodedMailbox = validity[1]!;
  if (encodedMailbox.length === 0 || encodedMailbox.includes(";")) return null;
  const decoded = percentDecode(encodedMailbox);
  if (decoded === null) return null;
  let mailbox = decoded;
  if (/&[A-Za-z0-9+,]*-/.test(decoded) && /^[\x20-\x7e]*$/.test(decoded)) {
    try {
      mailbox = decodeModifiedUtf7(decoded);
    } catch {
      mailbox = decoded;
    }
  }
  let uidValidity: number | null = null;
  if (validity[2] !== undefined) {
    uidValidity = nz(validity[2]);
    if (uidValidity === null) return null;
  }
  const uidMatch = /^;UID=(.*)$/i.exec(segments.shift() ?? "");
  const uid = uidMatch === null ? null : nz(uidMatch[1]!);
  if (uid === null) return null;
  let section: string | null = null;
  let partial: ImapMessageUrl["partial"] = null;
  let next = segments.shift();
  const sectionMatch = next === undefined ? null : /^;SECTION=(.+)$/i.exec(next);
  if (sectionMatch !== null) {
    section = percentDecode(sectionMatch[1]!);
    if (section === null) return null;
    next = segments.shift();
  }
  if (next !== undefined) {
    const partialMatch = /^;PARTIAL=([0-9]+)(?:\.([0-9]+))?$/i.exec(next);
    if (partialMatch === null || !NUMBER.test(partialMatch[1]!)) return null;
    const offset = Number(partialMatch[1]);
    const length = partialMatch[2] === undefined ? null : nz(partialMatch[2]);
    if (offset > MAX_NUMBER || (partialMatch[2] !== undefined && length === null)) return null;
    partial = { offset, length };
    next = segments.shift();
  }
  // Anything after (;URLAUTH, ;EXPIRE, a further segment) is not a plain message URL.
  if (next !== undefined || segments.length > 0) return null;
  return { user, host, mailbox, uidValidity, uid, section, partial };
}
