// Messages out of a Maildir (and its Maildir++ subfolders), as Dovecot, Courier and offlineimap
// leave them:
//   - the root is INBOX; a subfolder ".Work.2024" is the mailbox "Work/2024" (Maildir++ uses "." as
//     the separator and modified UTF-7 for names, RFC 3501 §5.1.3), each with cur/ and new/;
//   - flags come from the file name's info part, ":2,<letters>" (";2," where ":" is not allowed):
//     D draft, F flagged, P passed ($Forwarded), R replied, S seen, T trashed (\Deleted); the
//     lower-case letters a-z are keywords numbered by Dovecot's `dovecot-keywords` file;
//   - the order is Dovecot's `dovecot-uidlist` when present (so messages keep their relative UID
//     order), else the delivery time at the start of the file name;
//   - INTERNALDATE is the file's modification time (where Dovecot keeps it).
// A folder with "EML" files (*.eml, one message each) is read the same way, flags empty.
// A file that vanishes between the listing and the read is reported, not fatal.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { decodeModifiedUtf7 } from "../imap/protocol/mailbox-name.js";

export interface MaildirFolder {
  /** Mailbox name ("INBOX", "Work/2024"). */
  readonly mailbox: string;
  readonly files: readonly MaildirFile[];
  /** The UIDVALIDITY of Dovecot's dovecot-uidlist ("V" in its header), when there is one. */
  readonly uidValidity?: number;
}

export interface MaildirFile {
  readonly path: string;
  readonly flags: string[];
  readonly internalDate: Date | null;
  /** The file's UID in dovecot-uidlist, when listed there. */
  readonly uid?: number;
}

const FLAG_LETTERS: Record<string, string> = { D: "\\Draft", F: "\\Flagged", P: "$Forwarded", R: "\\Answered", S: "\\Seen", T: "\\Deleted" };

/** Dovecot's dovecot-keywords: lines "<index> <keyword>", index 0 is letter a. */
async function keywordNames(dir: string): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  try {
    for (const line of (await readFile(join(dir, "dovecot-keywords"), "utf8")).split("\n")) {
      const match = /^(\d+)\s+(\S+)/.exec(line);
      if (match && Number(match[1]) < 26) names.set(String.fromCharCode(97 + Number(match[1])), match[2]!);
    }
  } catch {
    // No keywords file: lower-case letters name no keyword.
  }
  return names;
}

/**
 * Dovecot's dovecot-uidlist: a header "3 V<uidvalidity> N<next uid> ..." (version 3; version 1
 * is "1 <uidvalidity> <next uid>"), then "<uid> [extensions] :<base name>" or "<uid> <base name>".
 */
async function uidOrder(dir: string): Promise<{ order: Map<string, number>; uidValidity?: number }> {
  const order = new Map<string, number>();
  let uidValidity: number | undefined;
  try {
    const all = (await readFile(join(dir, "dovecot-uidlist"), "utf8")).split("\n");
    const header = all[0] ?? "";
    const v = /^3 .*\bV(\d+)/.exec(header) ?? /^1 (\d+) \d+/.exec(header);
    if (v && Number(v[1]) >= 1 && Number(v[1]) <= 0xffffffff) uidValidity = Number(v[1]);
    const lines = all.slice(1);
    for (const line of lines) {
      const match = /^(\d+)\s+(?:.*?:)?(\S+)\s*$/.exec(line);
      if (match) order.set(match[2]!.split(/[:;]2,/)[0]!, Number(match[1]));
    }
  } catch {
    // No uidlist: the names give the order.
  }
  return uidValidity === undefined ? { order } : { order, uidValidity };
}

export function maildirFlags(name: string, keywords: ReadonlyMap<string, string>): string[] {
  const info = /[:;]2,([A-Za-z]*)$/.exec(name);
  if (!info) return [];
  const flags: string[] = [];
  for (const letter of info[1]!) {
    const flag = FLAG_LETTERS[letter] ?? keywords.get(letter);
    if (flag && !flags.includes(flag)) flags.push(flag);
  }
  return flags;
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith(".")).map((e) => e.name);
  } catch {
    return [];
  }
}

async function readFolder(dir: string, mailbox: string): Promise<MaildirFolder> {
  const keywords = await keywordNames(dir);
  const { order, uidValidity } = await uidOrder(dir);
  const entries: { path: string; base: string; flags: string[] }[] = [];
  for (const sub of ["new", "cur"]) {
    for (const name of await listFiles(join(dir, sub))) entries.push({ path: join(dir, sub, name), base: name.split(/[:;]2,/)[0]!, flags: maildirFlags(name, keywords) });
  }
  const rank = (base: string): number => order.get(base) ?? Number.MAX_SAFE_INTEGER;
  entries.sort((a, b) => rank(a.base) - rank(b.base) || (parseFloat(a.base) || 0) - (parseFloat(b.base) || 0) || a.base.localeCompare(b.base));
  const files: MaildirFile[] = [];
  for (const entry of entries) {
    const info = await stat(entry.path).catch(() => null);
    const uid = order.get(entry.base);
    files.push({ path: entry.path, flags: entry.flags, internalDate: info ? info.mtime : null, ...(uid !== undefined && uid >= 1 && uid <= 0xffffffff ? { uid } : {}) });
  }
  return uidValidity === undefined ? { mailbox, files } : { mailbox, files, uidValidity };
}

/** A Maildir: its root is INBOX, ".Name.Sub" folders are Maildir++ subfolders. */
export async function readMaildir(root: string): Promise<MaildirFolder[]> {
  const folders = [await readFolder(root, "INBOX")];
  const subdirs = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name.startsWith(".") && e.name !== "." && e.name !== "..");
  for (const entry of subdirs.sort((a, b) => a.name.localeCompare(b.name))) {
    const name = entry.name.slice(1).split(".").map((part) => decodeModifiedUtf7(part)).join("/");
    if (name === "" || name.split("/").some((p) => p === "")) continue;
    folders.push(await readFolder(join(root, entry.name), name.toUpperCase() === "INBOX" ? "INBOX" : name));
  }
  return folders;
}

/** A folder of .eml files (one message each), in name order. */
export async function readEmlFolder(dir: string, mailbox: string): Promise<MaildirFolder> {
  const names = (await listFiles(dir)).filter((n) => n.toLowerCase().endsWith(".eml")).sort();
  const files: MaildirFile[] = [];
  for (const name of names) {
    const info = await stat(join(dir, name)).catch(() => null);
    files.push({ path: join(dir, name), flags: [], internalDate: info ? info.mtime : null });
  }
  return { mailbox, files };
}

/**
 * What kind of source a path is: a Maildir (cur/ or new/ inside), a tree of *.mbox files (what
 * `mailroom export --format mbox` writes), a folder of .eml, or an mbox file.
 */
export async function sourceKind(path: string): Promise<"maildir" | "eml" | "mbox" | "mbox-tree"> {
  const info = await stat(path);
  if (info.isFile()) return "mbox";
  const names = new Set(await readdir(path));
  if (names.has("cur") || names.has("new")) return "maildir";
  if ((await mboxFiles(path)).length > 0) return "mbox-tree";
  return "eml";
}

/**
 * The *.mbox files under a directory with the mailbox each is: "Work/2024.mbox" is "Work/2024";
 * a level's %25 and %2E (exporter.ts fileLevel) are decoded. Sorted by mailbox name.
 */
export async function mboxFiles(root: string): Promise<{ path: string; mailbox: string }[]> {
  const found: { path: string; mailbox: string }[] = [];
  const walk = async (dir: string, levels: string[], depth: number): Promise<void> => {
    if (depth > 32) return;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(join(dir, entry.name), [...levels, entry.name], depth + 1);
      else if (entry.isFile() && entry.name.endsWith(".mbox") && entry.name.length > 5) {
        const name = [...levels, entry.name.slice(0, -5)].map((l) => l.replace(/%(25|2E)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))).join("/");
        found.push({ path: join(dir, entry.name), mailbox: name.toUpperCase() === "INBOX" ? "INBOX" : name });
      }
    }
  };
  await walk(root, [], 0);
  return found.sort((a, b) => (a.mailbox < b.mailbox ? -1 : a.mailbox > b.mailbox ? 1 : 0));
}
