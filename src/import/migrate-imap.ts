// `mailroom migrate --from imaps://user@host` (or imap:// with STARTTLS required): every folder
// of another IMAP server copied into one account, with flags, keywords and INTERNALDATE, the way
// imapsync does it (docs/architecture.md, "Import, export and migration"):
//   - LIST gives the folders (nested, any delimiter); names are decoded from modified UTF-7
//     (RFC 3501 §5.1.3) and mapped onto our "/" hierarchy; a folder with a special use (RFC 6154
//     \Sent, \Drafts, \Trash, \Junk, \Archive) goes into our mailbox of that use. Folders whose
//     name does not decode are reported and skipped; \Noselect ones hold nothing. \All and
//     \Flagged are views of messages other folders hold (Gmail's "All Mail"): skipped, said so.
//   - each folder is EXAMINEd (read-only: nothing changes on the source) and copied above the
//     highest UID copied before (migration state, per source folder with its UIDVALIDITY); a
//     changed UIDVALIDITY starts that folder over, matching messages by their bytes so nothing is
//     stored twice. Messages copied before get the source's flags again (the source is the
//     authority, as imapsync's default).
//   - metadata is fetched in pages of UIDs; small messages in one FETCH per few MB, large ones
//     streamed with partial FETCHes (imapflow's download), so memory is a page, not a folder.
// The client library is imapflow (the same one the e2e tests speak to our server with).
import { ImapFlow, type FetchMessageObject, type ListResponse } from "imapflow";
import { decodeModifiedUtf7 } from "../imap/protocol/mailbox-name.js";
import type { AccountId, Flag, Mailbox, MigrationStateStore, SpecialUse } from "../store/index.js";
import { MigrationTarget, type FolderCounts, type MigrateStore } from "./migrate-target.js";

export interface MigrateSource {
  /** imaps: or imap: (or pop3s:/pop3:, migrate-pop3.ts). */
  protocol: "imaps" | "imap" | "pop3s" | "pop3";
  host: string;
  port: number;
  user: string;
  password: string;
  /** Accept any certificate (a self-signed old server); the default verifies it. */
  insecureTls: boolean;
  /** The key of the migration state: the URL without the password. */
  key: string;
}

export interface MigrateProgress {
  phase: "messages";
  done: number;
  total: number | null;
}

export interface MigrateRequest {
  store: MigrateStore;
  state: MigrationStateStore;
  accountId: AccountId;
  source: MigrateSource;
  maxMessageBytes: number;
  /** Network timeout per connection step and per idle socket, ms. */
  timeoutMs: number;
  onProgress?(progress: MigrateProgress): void;
  /**
   * Aborted when the server stops: the run ends at the next page boundary (at most PAGE messages
   * later) with what it copied recorded, and throws MigrateInterrupted; the same command resumes.
   */
  signal?: AbortSignal;
}

/** A run ended by its signal (server stop) with everything copied so far recorded. */
export class MigrateInterrupted extends Error {
  override readonly name = "MigrateInterrupted";
  constructor(readonly copiedMessages: number) {
    super(`interrupted after ${copiedMessages} message(s): the server is stopping`);
  }
}

export interface MigratedFolder extends FolderCounts {
  /** The folder as the source names it (decoded), or "INBOX" for POP3. */
  source: string;
  mailbox: string;
  /** Messages in the source folder, and in our mailbox, after the copy. */
  sourceCount: number;
  ourCount: number;
}

export interface MigrateReport {
  folders: MigratedFolder[];
  /** One line per problem (folder skipped, message too big or vanished), bounded. */
  problems: string[];
  problemCount: number;
  bytes: number;
  durationMs: number;
}

/** UIDs per metadata FETCH; small messages fetched whole together up to this many octets. */
const PAGE = 200;
const SMALL_FETCH_BYTES = 8 * 1024 * 1024;
/** Larger messages are streamed in partial FETCHes of this size. */
const LARGE_MESSAGE = 1024 * 1024;
const MAX_PROBLEM_LINES = 50;
const SPECIAL_USES: readonly string[] = ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"];
const VIEW_USES: readonly string[] = ["\\All", "\\Flagged"];

/** Parses --from: imaps://user@host[:port], imap://, pop3s://, pop3://; the user may be percent-encoded. */
export function parseSource(from: string, password: string, insecureTls: boolean): MigrateSource {
  let url: URL;
  try {
    url = new URL(from);
  } catch {
    throw new Error(`--from must be a URL such as imaps://user@host, not ${JSON.stringify(from)}`);
  }
  const protocol = url.protocol.replace(/:$/, "");
  if (protocol !== "imaps" && protocol !== "imap" && protocol !== "pop3s" && protocol !== "pop3") throw new Error(`--from must start with imaps://, imap://, pop3s:// or pop3://, not ${url.protocol}//`);
  if (url.password) throw new Error("--from must not carry the password: give it on standard input or with --password-file");
  if (!url.username) throw new Error("--from must name the user: imaps://user@host");
  if ((url.pathname !== "" && url.pathname !== "/") || url.search || url.hash) throw new Error("--from takes no path, query or fragment");
  const port = url.port ? Number(url.port) : { imaps: 993, imap: 143, pop3s: 995, pop3: 110 }[protocol];
  const user = decodeURIComponent(url.username);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { protocol, host, port, user, password, insecureTls, key: `${protocol}://${encodeURIComponent(user)}@${url.hostname}:${port}` };
}

class Problems {
  lines: string[] = [];
  count = 0;
  add(line: string): void {
    this.count++;
    if (this.lines.length < MAX_PROBLEM_LINES) this.lines.push(line);
  }
}

/** The source folder's name in our hierarchy, or a reason it cannot be. */
export function mapFolderName(entry: Pick<ListResponse, "path" | "pathAsListed" | "delimiter">, utf8: boolean): { name: string } | { problem: string } {
  const delimiter = entry.delimiter || null;
  const raw = entry.pathAsListed;
  const rawLevels = delimiter ? raw.split(delimiter) : [raw];
  let levels: string[];
  try {
    // Decoded here with our own strict decoder: a library that turns a bad shift into U+FFFD
    // would give two folders one name, or a name that cannot be opened again.
    levels = rawLevels.map((level) => (utf8 ? level : decodeModifiedUtf7(level)));
  } catch (error) {
    return { problem: `the name ${JSON.stringify(raw)} is not valid modified UTF-7 (${(error as Error).message})` };
  }
  if (levels.some((level) => level.includes("\uFFFD"))) return { problem: `the name ${JSON.stringify(raw)} is not valid UTF-8` };
  if (levels.some((level) => level === "" || level === "." || level === ".." || /[\u0000-\u001f\u007f-\u009f]/u.test(level))) return { problem: `the name ${JSON.stringify(raw)} has an empty, "." or ".." level or a control character` };
  // Our delimiter is "/": a "/" inside a level of a server with another delimiter becomes "_".
  const mapped = levels.map((level) => level.replaceAll("/", "_"));
  if (mapped[0]!.toUpperCase() === "INBOX") mapped[0] = "INBOX";
  return { name: mapped.join("/") };
}

export async function openImap(source: MigrateSource, timeoutMs: number): Promise<ImapFlow> {
  const options = {
    host: source.host,
    port: source.port,
    secure: source.protocol === "imaps",
    // imap:// must upgrade with STARTTLS: the password never goes out in clear.
    ...(source.protocol === "imap" ? { doSTARTTLS: true } : {}),
    tls: { rejectUnauthorized: !source.insecureTls, servername: /^[\d.:]+$/.test(source.host) ? undefined : source.host },
    auth: { user: source.user, pass: source.password },
    logger: false as const,
    disableAutoIdle: true,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: Math.max(timeoutMs, 60_000),
  };
  const client = new ImapFlow(options as ConstructorParameters<typeof ImapFlow>[0]);
  // A dropped connection is reported through the pending command; nothing to do on the event.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    client.close();
    const e = error as { authenticationFailed?: boolean; tlsFailed?: boolean; responseText?: string; message?: string; code?: string };
    if (e.authenticationFailed) throw new Error(`${source.key}: login refused${e.responseText ? ` (${e.responseText})` : ""}: check the user and password`);
    if (e.tlsFailed) throw new Error(`${source.key}: the server offers no STARTTLS; refusing to send the password in clear (use imaps://)`);
    throw new Error(`${source.key}: cannot connect: ${e.code ? `${e.code} ` : ""}${e.message ?? String(error)}`);
  }
  return client;
}

export async function migrateImap(request: MigrateRequest): Promise<MigrateReport> {
  const started = Date.now();
  const { source } = request;
  const problems = new Problems();
  const folders: MigratedFolder[] = [];
  let bytes = 0;
  let done = 0;
  let total = 0;
  let lastProgress = 0;
  const progress = (force = false) => {
    const now = Date.now();
    if (!force && now - lastProgress < 200) return;
    lastProgress = now;
    request.onProgress?.({ phase: "messages", done, total });
  };
  const client = await openImap(source, request.timeoutMs);
  try {
    const utf8 = client.enabled?.has("UTF8=ACCEPT") ?? false;
    const list = (await client.list()).sort((a, b) => (a.path.toUpperCase() === "INBOX" ? -1 : b.path.toUpperCase() === "INBOX" ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const ours = await request.store.listMailboxes(request.accountId);
    for (const entry of list) {
      if (request.signal?.aborted) throw new MigrateInterrupted(done);
      if (entry.flags.has("\\Noselect") || entry.flags.has("\\NonExistent")) continue;
      const display = entry.path;
      if (entry.specialUse && VIEW_USES.includes(entry.specialUse) && entry.specialUseSource === "extension") {
        problems.add(`folder ${display}: skipped, a ${entry.specialUse} view of messages other folders hold`);
        continue;
      }
      const mapped = mapFolderName(entry, utf8);
      if ("problem" in mapped) {
        problems.add(`folder ${entry.pathAsListed}: skipped, ${mapped.problem}`);
        continue;
      }
      const mailbox = await targetMailbox(request, ours, mapped.name, entry);
      let lock;
      try {
        lock = await client.getMailboxLock(entry.path, { readOnly: true });
      } catch (error) {
        const e = error as { responseText?: string; message?: string };
        problems.add(`folder ${display} (listed as ${JSON.stringify(entry.pathAsListed)}): cannot be opened on the source (${e.responseText ?? e.message ?? String(error)}): skipped`);
        continue;
      }
      try {
        const opened = client.mailbox;
        if (!opened) throw new Error(`${display}: not selected`);
        const uidValidity = Number(opened.uidValidity);
        let state = await request.state.getMigrationFolder(request.accountId, source.key, display);
        if (state && state.uidValidity !== uidValidity) {
          // RFC 9051 §2.3.1.1: the source's UIDs mean other messages now; match by bytes again.
          await request.state.forgetMigrationFolder(request.accountId, source.key, display);
          problems.add(`folder ${display}: UIDVALIDITY changed on the source (${state.uidValidity} -> ${uidValidity}); compared again message by message`);
          state = null;
        }
        const target = await MigrationTarget.open(request.store, request.state, request.accountId, source.key, display, mailbox.id, mailbox.name, state ?? { uidValidity, lastUid: 0, mailbox: mailbox.name });
        if (state && state.lastUid > 0) await syncFlags(client, request, target, display, state.lastUid);
        const lastUid = state?.lastUid ?? 0;
        const found = (await client.search({ uid: `${lastUid + 1}:*` }, { uid: true })) || [];
        const uids = found.filter((u) => u > lastUid).sort((a, b) => a - b);
        total += uids.length;
        progress();
        for (let i = 0; i < uids.length; i += PAGE) {
          if (request.signal?.aborted) {
            // The resume mark covers every message queued so far: a new run starts after them.
            await target.flush();
            throw new MigrateInterrupted(done);
          }
          const page = uids.slice(i, i + PAGE);
          bytes += await copyPage(client, request, target, display, page, problems, () => {
            done++;
            progress();
          });
        }
        await target.flush();
        const sourceCount = opened.exists;
        const ourCount = (await request.store.listMessages(mailbox.id)).length;
        folders.push({ source: display, mailbox: mailbox.name, sourceCount, ourCount, ...target.counts });
      } finally {
        lock.release();
      }
    }
    progress(true);
  } finally {
    await client.logout().catch(() => client.close());
  }
  return { folders, problems: problems.lines, problemCount: problems.count, bytes, durationMs: Date.now() - started };
}

/** Our mailbox for a source folder: INBOX, the one with the same special use, else by name (created with its use). */
async function targetMailbox(request: MigrateRequest, ours: Mailbox[], name: string, entry: ListResponse): Promise<Mailbox> {
  const use = entry.specialUse && SPECIAL_USES.includes(entry.specialUse) && name.split("/").length === 1 ? (entry.specialUse as SpecialUse) : null;
  if (use) {
    const same = ours.find((m) => m.specialUse === use);
    if (same) return same;
  }
  const existing = await request.store.getMailbox(request.accountId, name);
  if (existing) return existing;
  const created = await request.store.createMailbox(request.accountId, name, { subscribed: true, ...(use ? { specialUse: use } : {}) });
  ours.push(created);
  return created;
}

/** Messages copied before get the source's current flags. */
async function syncFlags(client: ImapFlow, request: MigrateRequest, target: MigrationTarget, folder: string, lastUid: number): Promise<void> {
  const copied = await request.state.listMigrated(request.accountId, request.source.key, folder);
  if (copied.size === 0) return;
  let pairs: { uid: import("../store/index.js").Uid; flags: Flag[] }[] = [];
  const pending: { uid: number; flags: Flag[] }[] = [];
  for await (const message of client.fetch(`1:${lastUid}`, { uid: true, flags: true }, { uid: true })) pending.push({ uid: message.uid, flags: [...(message.flags ?? [])] });
  for (const item of pending) {
    const ours = copied.get(String(item.uid));
    if (!ours || ours.mailboxId !== target.mailboxId) continue;
    pairs.push({ uid: ours.uid, flags: item.flags });
    if (pairs.length >= 500) {
      await target.syncFlags(pairs);
      pairs = [];
    }
  }
  await target.syncFlags(pairs);
}

/** One page of UIDs: metadata, then the bodies (small ones together, large ones streamed). Returns the octets copied. */
async function copyPage(client: ImapFlow, request: MigrateRequest, target: MigrationTarget, folder: string, page: number[], problems: Problems, tick: () => void): Promise<number> {
  const meta: FetchMessageObject[] = [];
  for await (const message of client.fetch(page.join(","), { uid: true, flags: true, internalDate: true, size: true }, { uid: true })) meta.push(message);
  meta.sort((a, b) => a.uid - b.uid);
  const present = new Set(meta.map((m) => m.uid));
  // UIDs the source no longer has move the resume mark past them only once the page's other
  // messages are queued: skipped first, a high vanished UID would let a flush mid-page record a
  // mark above messages not yet copied, and a resumed run would never fetch those.
  const vanished = page.filter((uid) => !present.has(uid));
  let copied = 0;
  for (let i = 0; i < meta.length; ) {
    const message = meta[i]!;
    const size = message.size ?? 0;
    const flags = [...(message.flags ?? [])];
    const date = message.internalDate instanceof Date ? message.internalDate : message.internalDate ? new Date(message.internalDate) : null;
    const internalDate = date && !Number.isNaN(date.getTime()) ? date : null;
    if (size > request.maxMessageBytes) {
      problems.add(`folder ${folder} UID ${message.uid}: ${size} octets, larger than limits.max_message_size (${request.maxMessageBytes}): skipped`);
      target.skip(message.uid);
      tick();
      i++;
      continue;
    }
    if (size > LARGE_MESSAGE) {
      const download = await client.download(String(message.uid), undefined, { uid: true, chunkSize: LARGE_MESSAGE, maxBytes: request.maxMessageBytes + 1 });
      if (!download.content) {
        problems.add(`folder ${folder} UID ${message.uid}: expunged on the source during the copy`);
        target.skip(message.uid);
      } else {
        let outcome: Awaited<ReturnType<typeof target.add>>;
        try {
          outcome = await target.add(String(message.uid), download.content, size, flags, internalDate, request.maxMessageBytes, message.uid);
        } finally {
          // Staging that stopped early (too big, a store error) leaves the download running and the
          // connection's lock held: destroying the stream ends it (imapflow stops fetching chunks).
          if (!download.content.readableEnded && !download.content.destroyed) download.content.destroy();
        }
        if (outcome === "toobig") problems.add(`folder ${folder} UID ${message.uid}: larger than limits.max_message_size: skipped`);
        else copied += size;
      }
      tick();
      i++;
      continue;
    }
    // A run of small messages, fetched whole in one command.
    const run: FetchMessageObject[] = [];
    let runBytes = 0;
    while (i < meta.length && (meta[i]!.size ?? 0) <= LARGE_MESSAGE && (meta[i]!.size ?? 0) <= request.maxMessageBytes && (run.length === 0 || runBytes + (meta[i]!.size ?? 0) <= SMALL_FETCH_BYTES)) {
      run.push(meta[i]!);
      runBytes += meta[i]!.size ?? 0;
      i++;
    }
    const sources = new Map<number, Buffer>();
    for await (const fetched of client.fetch(run.map((m) => m.uid).join(","), { uid: true, source: true }, { uid: true })) if (fetched.source) sources.set(fetched.uid, fetched.source);
    const fetched: { key: string; bytes: Buffer; flags: Flag[]; internalDate: Date | null; sourceUid: number }[] = [];
    for (const item of run) {
      const body = sources.get(item.uid);
      const itemDate = item.internalDate instanceof Date ? item.internalDate : item.internalDate ? new Date(item.internalDate) : null;
      if (!body) {
        // Kept in UID order with the others: the mark only ever moves forward.
        if (fetched.length > 0) for (const uid of await target.addMany(fetched.splice(0), request.maxMessageBytes)) problems.add(`folder ${folder} UID ${uid}: larger than limits.max_message_size: skipped`);
        problems.add(`folder ${folder} UID ${item.uid}: expunged on the source during the copy`);
        target.skip(item.uid);
      } else {
        fetched.push({ key: String(item.uid), bytes: body, flags: [...(item.flags ?? [])], internalDate: itemDate && !Number.isNaN(itemDate.getTime()) ? itemDate : null, sourceUid: item.uid });
        copied += body.length;
      }
    }
    sources.clear();
    for (const uid of await target.addMany(fetched, request.maxMessageBytes)) problems.add(`folder ${folder} UID ${uid}: larger than limits.max_message_size: skipped`);
    for (let n = 0; n < run.length; n++) tick();
  }
  for (const uid of vanished) {
    problems.add(`folder ${folder} UID ${uid}: expunged on the source during the copy`);
    target.skip(uid);
    tick();
  }
  return copied;
}
