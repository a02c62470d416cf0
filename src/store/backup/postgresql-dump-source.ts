// A PostgreSQL backup's table dump (db/postgresql.jsonl, dump-file.ts) read as the source of
// `store copy` (store/postgresql/import.ts copyStore), so `mailroom restore` of a PostgreSQL
// backup fills an empty embedded store without any PostgreSQL server (docs/architecture.md,
// "Backup and restore"). The copy then keeps what it keeps from a live database: UIDVALIDITY,
// UIDNEXT, UIDs, modseqs, flags, INTERNALDATE, trace prefixes, bytes, password hashes, quotas,
// aliases, subscriptions, METADATA and Sieve scripts, and reads every mailbox back against a
// SHA-256 of its messages. The message bytes are the archive's blobs/<sha256> entries, already
// verified against their names by the reader and written to `blobDir/<sha256>`.
//
// Only the columns the copy needs are kept in memory (no search text, MIME structure or change
// log): a few hundred bytes per message. Row values are as row_to_json writes them: bigint as
// numbers, text[] as arrays, bytea as "\x<hex>". Columns a later migration added are absent from
// an older backup's dump and take their defaults.
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { ANYONE } from "../acl-rights.js";
import type { AclEntry } from "../acl-store.js";
import type { AccountAuthState, AppPassword } from "../auth-store.js";
import type { RecentClaim } from "../mail-store.js";
import type { MetadataEntry } from "../metadata-store.js";
import type { CopySource, CopySourceAccounts, CopySourceAuthState, CopySourceMail, CopySourceSieve, CopySourceTlsReports, CopySourceWebAuth } from "../postgresql/import.js";
import { toAccountAuth, toAppPassword } from "../sqlite/auth-state.js";
import type { StoredTlsReport, TlsReportPolicy } from "../tls-report-store.js";
import type { AdminUser, ApiToken, CredentialOwner, WebAuthnCredential } from "../web-auth-store.js";
import { toAccount, toAliases, toDomain, toMailbox, type AccountRow, type DomainRow, type MailboxRow } from "../postgresql/rows.js";
import { UNLIMITED_QUOTA } from "../quota.js";
import type { SieveScript, SieveScriptInfo } from "../sieve-store.js";
import type { Account, AccountId, Alias, BlobId, Domain, Flag, Mailbox, MailboxId, MailboxStatus, MessageSummary, ModSeq, StoredMessage, Uid } from "../types.js";
import { dumpLines } from "./dump-file.js";
import { BackupError } from "./format.js";
import { join } from "node:path";

type Row = Record<string, unknown>;

interface DumpMessage {
  uid: number;
  modseq: number;
  flags: Flag[];
  internalDate: number;
  size: number;
  blobId: string;
  prefix: Buffer;
}

/** The node state a PostgreSQL store keeps in tables and an embedded one in files (store/node-state-store.ts). */
export interface DumpNodeState {
  dkimKeys: { domain: string; selector: string; algorithm: "ed25519-sha256" | "rsa-sha256"; privateKeyPem: string; active: boolean }[];
  acmeAccountKey: string | null;
  acmeCertificates: { name: string; certPem: string; keyPem: string }[];
  /** Outbound queue entries in the dump (not carried: see server/backup.ts). */
  queueEntries: number;
}

export interface PostgresDumpSource extends CopySource {
  nodeState: DumpNodeState;
  /**
   * Tables of the dump whose rows an embedded store does not take from a restore, with their row
   * counts (only tables with rows), for the restore to say what was left behind.
   */
  notCarried: { table: string; rows: number; what: string }[];
}

/**
 * Dumped tables the copy does not carry into an embedded store, and what they hold. Learned state
 * (spam tokens, greylist) is rebuilt by use; vacation and duplicate tracking restart (a vacation
 * reply may be sent once more); the queue has no import (server/backup.ts says so apart).
 */
const NOT_CARRIED: Record<string, string> = {
  spam_tokens: "spam filter tokens",
  spam_totals: "spam filter totals",
  spam_trained: "spam filter training marks",
  sieve_vacation: "Sieve vacation replies sent",
  sieve_duplicates: "Sieve duplicate tracking",
  greylist_triplets: "greylisting triplets",
  greylist_whitelist: "greylisting passed senders",
  queue: "outbound queue entries",
  queue_recipients: "outbound queue recipients",
  migration_folders: "mailroom migrate folder state",
  migration_messages: "mailroom migrate message state",
  web_sessions: "browser sessions (sign in again)",
};

const num = (value: unknown, fallback = 0): number => (value === null || value === undefined ? fallback : Number(value));
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** row_to_json writes bytea as "\x" and hex digits. */
function bytea(value: unknown): Buffer {
  if (value === null || value === undefined) return Buffer.alloc(0);
  if (typeof value !== "string" || !/^\\x([0-9a-fA-F]{2})*$/.test(value)) throw new BackupError("the database dump holds a malformed bytea value");
  return Buffer.from(value.slice(2), "hex");
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw new BackupError(`the database dump's ${what} is not text`);
  return value;
}

/** Reads the dump once and keeps what the copy needs. */
export async function openPostgresDumpSource(dumpPath: string, blobDir: string): Promise<PostgresDumpSource> {
  const domains: Domain[] = [];
  const accounts: Account[] = [];
  const aliasRows: { key: string; position: number; address: string; target: string }[] = [];
  const mailboxes = new Map<number, Mailbox & { firstRecentUid: number }>();
  const subscriptions = new Map<number, string[]>();
  const messages = new Map<number, DumpMessage[]>();
  const metadata: { accountId: number; mailboxId: number | null; name: string; value: Buffer }[] = [];
  const sieve = new Map<number, SieveScript[]>();
  const nodeState: DumpNodeState = { dkimKeys: [], acmeAccountKey: null, acmeCertificates: [], queueEntries: 0 };
  // mailbox_acl.grantee_id and private_seen name accounts by id: resolved once every row is read.
  const aclRows: { mailboxId: number; granteeId: number | null; rights: string }[] = [];
  const privateSeen = new Map<string, number[]>();
  const authRows = new Map<number, AccountAuthState>();
  const appPasswords = new Map<number, AppPassword[]>();
  const admins: AdminUser[] = [];
  const adminTotp = new Map<string, string>();
  const apiTokens: ApiToken[] = [];
  const credentials: WebAuthnCredential[] = [];
  const tlsReports: StoredTlsReport[] = [];
  const notCarriedRows = new Map<string, number>();
  const dateOrNull = (value: unknown): Date | null => (value === null || value === undefined ? null : new Date(Number(value)));
  const textOrNull = (value: unknown, what: string): string | null => (value === null || value === undefined ? null : text(value, what));

  let table: string | null = null;
  for await (const line of dumpLines(dumpPath)) {
    if ("format" in line) continue;
    if ("table" in line) {
      table = line.table;
      continue;
    }
    const row: Row = line.row;
    switch (table) {
      case "domains":
        domains.push(toDomain({ id: num(row["id"]), name: text(row["name"], "domain name"), created_at: num(row["created_at"]) } satisfies DomainRow));
        break;
      case "accounts": {
        const account: AccountRow = {
          id: num(row["id"]),
          address: text(row["address"], "account address"),
          password_hash: text(row["password_hash"], "password hash"),
          quota_bytes: numOrNull(row["quota_bytes"]),
          used_bytes: num(row["used_bytes"]),
          quota_messages: numOrNull(row["quota_messages"]),
          used_messages: num(row["used_messages"]),
          pop3_mode: text(row["pop3_mode"], "POP3 mode"),
          pop3_mark_seen: row["pop3_mark_seen"] === true,
          pop3_login_delay: numOrNull(row["pop3_login_delay"]),
          pop3_expire_days: numOrNull(row["pop3_expire_days"]),
          created_at: num(row["created_at"]),
        };
        // The copy keeps each account's own quota (quotaSetting); the default is the config's.
        accounts.push(toAccount(account, UNLIMITED_QUOTA));
        break;
      }
      case "aliases":
        aliasRows.push({ key: text(row["address_key"], "alias"), position: num(row["position"]), address: text(row["address"], "alias"), target: text(row["target"], "alias target") });
        break;
      case "mailboxes": {
        const mailbox: MailboxRow = {
          id: num(row["id"]),
          account_id: num(row["account_id"]),
          name: text(row["name"], "mailbox name"),
          special_use: (row["special_use"] as string | null) ?? null,
          uid_validity: num(row["uid_validity"]),
          uid_next: num(row["uid_next"], 1),
          highest_modseq: num(row["highest_modseq"], 1),
          subscribed: false,
        };
        mailboxes.set(mailbox.id, { ...toMailbox(mailbox), firstRecentUid: num(row["first_recent_uid"], 1) });
        break;
      }
      case "subscriptions": {
        const list = subscriptions.get(num(row["account_id"])) ?? [];
        list.push(text(row["name"], "subscription"));
        subscriptions.set(num(row["account_id"]), list);
        break;
      }
      case "messages": {
        const mailboxId = num(row["mailbox_id"]);
        const list = messages.get(mailboxId) ?? [];
        const flags = row["flags"];
        if (!Array.isArray(flags) || flags.some((f) => typeof f !== "string")) throw new BackupError("the database dump holds a message with malformed flags");
        list.push({ uid: num(row["uid"]), modseq: num(row["modseq"]), flags: flags as Flag[], internalDate: num(row["internal_date"]), size: num(row["size"]), blobId: text(row["blob_id"], "message blob"), prefix: bytea(row["prefix"]) });
        messages.set(mailboxId, list);
        break;
      }
      case "metadata_entries":
        metadata.push({ accountId: num(row["account_id"]), mailboxId: numOrNull(row["mailbox_id"]), name: text(row["name"], "METADATA name"), value: bytea(row["value"]) });
        break;
      case "sieve_scripts": {
        const list = sieve.get(num(row["account_id"])) ?? [];
        const content = text(row["content"], "Sieve script");
        list.push({ name: text(row["name"], "Sieve script name"), content, active: row["active"] === true, size: Buffer.byteLength(content), updatedAt: new Date(num(row["updated_at"])) });
        sieve.set(num(row["account_id"]), list);
        break;
      }
      case "dkim_keys": {
        const algorithm = row["algorithm"];
        if (algorithm !== "ed25519-sha256" && algorithm !== "rsa-sha256") throw new BackupError("the database dump holds a DKIM key of an unknown algorithm");
        nodeState.dkimKeys.push({ domain: text(row["domain"], "DKIM domain"), selector: text(row["selector"], "DKIM selector"), algorithm, privateKeyPem: text(row["private_key_pem"], "DKIM key"), active: row["active"] === true });
        break;
      }
      case "acme_account":
        nodeState.acmeAccountKey = text(row["key_pem"], "ACME account key");
        break;
      case "acme_certificates":
        nodeState.acmeCertificates.push({ name: text(row["name"], "certificate name"), certPem: text(row["cert_pem"], "certificate"), keyPem: text(row["key_pem"], "certificate key") });
        break;
      case "mailbox_acl":
        aclRows.push({ mailboxId: num(row["mailbox_id"]), granteeId: numOrNull(row["grantee_id"]), rights: text(row["rights"], "ACL rights") });
        break;
      case "private_seen": {
        const key = `${num(row["mailbox_id"])} ${num(row["account_id"])}`;
        const list = privateSeen.get(key) ?? [];
        list.push(num(row["uid"]));
        privateSeen.set(key, list);
        break;
      }
      case "account_auth":
        // As the PostgreSQL store reads it: booleans become SQLite's 0/1 for the shared mapping.
        authRows.set(
          num(row["account_id"]),
          toAccountAuth({
            scram_salt: textOrNull(row["scram_salt"], "SCRAM salt"),
            scram_iterations: numOrNull(row["scram_iterations"]),
            scram_keys: textOrNull(row["scram_keys"], "SCRAM keys"),
            scram_hash_tag: textOrNull(row["scram_hash_tag"], "SCRAM hash tag"),
            app_passwords_only: row["app_passwords_only"] === true ? 1 : 0,
            totp: textOrNull(row["totp"], "TOTP state"),
            lockout_notice_at: numOrNull(row["lockout_notice_at"]),
          }),
        );
        break;
      case "app_passwords": {
        const app = toAppPassword({
          id: num(row["id"]),
          account_id: num(row["account_id"]),
          name: text(row["name"], "app password name"),
          protocols: text(row["protocols"], "app password protocols"),
          secret_hash: text(row["secret_hash"], "app password hash"),
          scram_keys: textOrNull(row["scram_keys"], "app password SCRAM keys"),
          created_at: num(row["created_at"]),
          last_used_at: numOrNull(row["last_used_at"]),
          last_used_address: textOrNull(row["last_used_address"], "app password last address"),
        });
        appPasswords.set(app.accountId, [...(appPasswords.get(app.accountId) ?? []), app]);
        break;
      }
      case "admin_users":
        admins.push({ name: text(row["name"], "admin name"), passwordHash: text(row["password_hash"], "admin password hash"), createdAt: new Date(num(row["created_at"])) });
        break;
      case "admin_auth": {
        const totp = textOrNull(row["totp"], "admin TOTP state");
        if (totp !== null) adminTotp.set(text(row["name"], "admin name"), totp);
        break;
      }
      case "api_tokens":
        apiTokens.push({
          id: num(row["id"]),
          name: text(row["name"], "API token name"),
          admin: text(row["admin"], "API token admin"),
          tokenHash: text(row["token_hash"], "API token hash"),
          createdAt: new Date(num(row["created_at"])),
          expiresAt: dateOrNull(row["expires_at"]),
          lastUsedAt: dateOrNull(row["last_used_at"]),
        });
        break;
      case "webauthn_credentials": {
        const adminName = textOrNull(row["admin_name"], "WebAuthn admin");
        const transports = text(row["transports"] ?? "", "WebAuthn transports");
        credentials.push({
          id: num(row["id"]),
          owner: adminName !== null ? { kind: "admin", name: adminName } : { kind: "account", accountId: num(row["account_id"]) as AccountId },
          credentialId: text(row["credential_id"], "WebAuthn credential id"),
          publicKey: text(row["public_key"], "WebAuthn public key"),
          signCount: num(row["sign_count"]),
          transports: transports === "" ? [] : transports.split(","),
          name: text(row["name"], "WebAuthn credential name"),
          createdAt: new Date(num(row["created_at"])),
          lastUsedAt: dateOrNull(row["last_used_at"]),
        });
        break;
      }
      case "tls_reports": {
        const policies = row["policies"];
        if (!Array.isArray(policies)) throw new BackupError("the database dump holds a TLS report with malformed policies");
        tlsReports.push({
          organization: text(row["organization"], "TLS report organization"),
          reportId: text(row["report_id"], "TLS report id"),
          contact: textOrNull(row["contact"], "TLS report contact"),
          start: new Date(num(row["start_at"])),
          end: new Date(num(row["end_at"])),
          policies: policies as TlsReportPolicy[],
          receivedAt: new Date(num(row["received_at"])),
        });
        break;
      }
      default:
        if (table === "queue") nodeState.queueEntries++;
        if (table !== null && table in NOT_CARRIED) notCarriedRows.set(table, (notCarriedRows.get(table) ?? 0) + 1);
        break;
    }
  }
  for (const list of messages.values()) list.sort((a, b) => a.uid - b.uid);
  aliasRows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.position - b.position));

  const mailboxOf = (id: MailboxId) => {
    const found = mailboxes.get(id);
    if (!found) throw new BackupError(`the database dump has no mailbox ${id}`);
    return found;
  };
  const summary = (m: DumpMessage): MessageSummary => ({ uid: m.uid as Uid, modseq: m.modseq as ModSeq, flags: m.flags, internalDate: new Date(m.internalDate), size: m.size });
  // What the copy reads of a stored message: the summary, the blob and the prefix (no MIME structure).
  const prefixes = new WeakMap<object, Buffer>();

  const addressOf = new Map<number, string>(accounts.map((a) => [a.id, a.address]));
  const mail: CopySourceMail = {
    async listMailboxes(accountId: AccountId) {
      return [...mailboxes.values()].filter((m) => m.accountId === accountId).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async mailboxStatus(mailboxId: MailboxId) {
      const list = messages.get(mailboxId) ?? [];
      const box = mailboxOf(mailboxId);
      const status: MailboxStatus = {
        messages: list.length,
        unseen: list.filter((m) => !m.flags.includes("\\Seen")).length,
        deleted: list.filter((m) => m.flags.includes("\\Deleted")).length,
        size: list.reduce((sum, m) => sum + m.size, 0),
        uidNext: box.uidNext,
        uidValidity: box.uidValidity,
        highestModSeq: box.highestModSeq,
      };
      return status;
    },
    async claimRecent(mailboxId: MailboxId): Promise<RecentClaim> {
      const box = mailboxOf(mailboxId);
      return { first: box.firstRecentUid as Uid, next: Math.max(box.firstRecentUid, box.uidNext) as Uid };
    },
    async getMetadata(accountId: AccountId, mailboxId: MailboxId | null): Promise<MetadataEntry[]> {
      // As store/postgresql/metadata.ts: a mailbox's shared entries, and the user's private ones.
      return metadata
        .filter((e) => (mailboxId === null ? e.accountId === accountId && e.mailboxId === null : e.mailboxId === mailboxId && (e.name.startsWith("/shared/") || (e.accountId === accountId && e.name.startsWith("/private/")))))
        .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
        .map((e) => ({ name: e.name, value: e.value }));
    },
    async listMessages(mailboxId: MailboxId) {
      return (messages.get(mailboxId) ?? []).map(summary);
    },
    async getMessages(mailboxId: MailboxId, uids: readonly Uid[]) {
      const wanted = new Set<number>(uids);
      return (messages.get(mailboxId) ?? [])
        .filter((m) => wanted.has(m.uid))
        .map((m) => {
          const stored = { ...summary(m), mailboxId, blobId: m.blobId as BlobId, prefixLength: m.prefix.length } as StoredMessage;
          prefixes.set(stored, m.prefix);
          return stored;
        });
    },
    openMessage(message: StoredMessage) {
      const prefix = prefixes.get(message) ?? Buffer.alloc(0);
      if (!/^[0-9a-f]{64}$/.test(message.blobId)) throw new BackupError(`the database dump refers to a malformed message file name ${message.blobId}`);
      const path = join(blobDir, message.blobId);
      async function* bytes(): AsyncGenerator<Buffer> {
        if (prefix.length > 0) yield prefix;
        for await (const chunk of createReadStream(path)) yield chunk as Buffer;
      }
      return Readable.from(bytes(), { objectMode: false });
    },
    async listSubscriptions(accountId: AccountId) {
      return [...(subscriptions.get(accountId) ?? [])];
    },
    async getAcl(mailboxId: MailboxId): Promise<AclEntry[]> {
      mailboxOf(mailboxId);
      // As store/postgresql/acl.ts: "anyone" (grantee_id NULL) first, then by address.
      return aclRows
        .filter((r) => r.mailboxId === mailboxId)
        .map((r) => {
          if (r.granteeId === null) return { identifier: ANYONE, rights: r.rights, key: "" };
          const address = addressOf.get(r.granteeId);
          if (address === undefined) throw new BackupError(`the database dump grants rights on mailbox ${mailboxId} to account ${r.granteeId}, which it does not hold`);
          return { identifier: address, rights: r.rights, key: `~${address.toLowerCase()}` };
        })
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map(({ identifier, rights }) => ({ identifier, rights }));
    },
    async getPrivateSeen(mailboxId: MailboxId, viewer: AccountId, uids?: readonly Uid[]): Promise<Uid[]> {
      const all = (privateSeen.get(`${mailboxId} ${viewer}`) ?? []).slice().sort((a, b) => a - b);
      const wanted = uids === undefined ? null : new Set<number>(uids);
      return all.filter((uid) => wanted === null || wanted.has(uid)) as Uid[];
    },
  };
  const accountStore: CopySourceAccounts = {
    async listDomains() {
      return [...domains];
    },
    async listAccounts() {
      return [...accounts];
    },
    async listAliases(): Promise<Alias[]> {
      return toAliases(aliasRows);
    },
  };
  const sieveStore: CopySourceSieve = {
    async listSieveScripts(accountId: AccountId): Promise<SieveScriptInfo[]> {
      return (sieve.get(accountId) ?? []).map((s) => ({ name: s.name, active: s.active, size: s.size }));
    },
    async getSieveScript(accountId: AccountId, name: string) {
      return (sieve.get(accountId) ?? []).find((s) => s.name === name) ?? null;
    },
  };
  const authState: CopySourceAuthState = {
    async getAccountAuth(accountId: AccountId) {
      return authRows.get(accountId) ?? toAccountAuth(undefined);
    },
    async listAppPasswords(accountId: AccountId) {
      // As the stores list them: by name (bytewise).
      return [...(appPasswords.get(accountId) ?? [])].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    },
  };
  const webAuth: CopySourceWebAuth = {
    async listAdminUsers() {
      return [...admins].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async getAdminTotp(name: string) {
      return adminTotp.get(name) ?? null;
    },
    async listApiTokens() {
      return [...apiTokens].sort((a, b) => (a.admin !== b.admin ? (a.admin < b.admin ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async listWebAuthnCredentials(owner: CredentialOwner) {
      return credentials.filter((c) => (owner.kind === "admin" ? c.owner.kind === "admin" && c.owner.name === owner.name : c.owner.kind === "account" && c.owner.accountId === owner.accountId)).sort((a, b) => a.id - b.id);
    },
  };
  const reports: CopySourceTlsReports = {
    async listTlsReports(since: Date, limit: number) {
      return tlsReports
        .filter((r) => r.end.getTime() >= since.getTime())
        .sort((a, b) => b.end.getTime() - a.end.getTime() || b.receivedAt.getTime() - a.receivedAt.getTime())
        .slice(0, limit);
    },
  };
  // Typed as what copyStore reads (CopySource): a method it starts reading is a compile error here.
  const notCarried = [...notCarriedRows].map(([name, rows]) => ({ table: name, rows, what: NOT_CARRIED[name]! }));
  return { mail, accounts: accountStore, sieve: sieveStore, authState, webAuth, tlsReports: reports, nodeState, notCarried };
}
