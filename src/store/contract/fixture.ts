// Shared fixture of the store conformance suite: a backend under test and the few steps every
// test needs (a domain and account, a message, reading a stream). Backend-neutral: only the
// interfaces from store/index.ts are used.
import type { Readable } from "node:stream";
import type { Account, AccountStore, Flag, Mailbox, MailboxId, MailStore, QueueStore, SieveStore, SpamTokenStore, GreylistStore, TlsReportStore, TlsRptSessionStore, MigrationStateStore, WebAuthStore, AuthStateStore, AdminHistoryStore } from "../index.js";

export interface StoreHandles {
  mail: MailStore;
  accounts: AccountStore;
  queue: QueueStore;
  /** Absent for a backend without Sieve storage; the sieve contract is then skipped. */
  sieve?: SieveStore;
  /** Absent for a backend without classifier statistics; the spam contract is then skipped. */
  spam?: SpamTokenStore;
  /** Absent for a backend without greylisting state; the greylist contract is then skipped. */
  greylist?: GreylistStore;
  /** Absent for a backend without TLS-RPT storage; the TLS report contract is then skipped. */
  tlsReports?: TlsReportStore;
  /** Absent for a backend without TLS-RPT session counts (reports we send); that contract is then skipped. */
  tlsRptSessions?: TlsRptSessionStore;
  /** Absent for a backend without admin accounts, sessions and tokens; that contract is then skipped. */
  webAuth?: WebAuthStore;
  /** Absent for a backend without the admin dashboard's history; that contract is then skipped. */
  adminHistory?: AdminHistoryStore;
  /** Absent for a backend without `mailroom migrate` state; that contract is then skipped. */
  migrations?: MigrationStateStore;
  /** Absent for a backend without auth state (issue 22); that contract is then skipped. */
  authState?: AuthStateStore;
}

export interface ContractBackend extends StoreHandles {
  /** Closes the store and opens it again on the same data; absent if the backend cannot. */
  reopen?(): Promise<StoreHandles>;
  /**
   * How many blob files the backend holds once its garbage collection has caught up (for "one
   * file for N recipients", "nothing left behind"); absent if it has no files.
   */
  blobFileCount?(): Promise<number>;
  /** Lets the backend's garbage collection catch up now, with a full orphan pass; absent if it has none. */
  collectGarbage?(): Promise<void>;
  cleanup(): Promise<void>;
}

export type OpenBackend = () => Promise<ContractBackend>;

export class Fixture {
  private serial = 0;

  constructor(private backend: ContractBackend) {}

  /** Every handle of the backend (the optional stores included). */
  get handles(): StoreHandles {
    return this.backend;
  }

  get mail(): MailStore {
    return this.backend.mail;
  }
  get accounts(): AccountStore {
    return this.backend.accounts;
  }
  get queue(): QueueStore {
    return this.backend.queue;
  }
  get sieve(): SieveStore | undefined {
    return this.backend.sieve;
  }
  get spam(): SpamTokenStore | undefined {
    return this.backend.spam;
  }
  get greylist(): GreylistStore | undefined {
    return this.backend.greylist;
  }
  get tlsReports(): TlsReportStore | undefined {
    return this.backend.tlsReports;
  }
  get tlsRptSessions(): TlsRptSessionStore | undefined {
    return this.backend.tlsRptSessions;
  }
  get webAuth(): WebAuthStore | undefined {
    return this.backend.webAuth;
  }
  get adminHistory(): AdminHistoryStore | undefined {
    return this.backend.adminHistory;
  }
  get canReopen(): boolean {
    return this.backend.reopen !== undefined;
  }

  async reopen(): Promise<void> {
    const handles = await this.backend.reopen!();
    this.backend = { ...this.backend, ...handles };
  }

  /** Lets garbage collection catch up; false when the backend has none to run. */
  async collectGarbage(): Promise<boolean> {
    if (!this.backend.collectGarbage) return false;
    await this.backend.collectGarbage();
    return true;
  }

  blobFileCount(): Promise<number> | null {
    return this.backend.blobFileCount ? this.backend.blobFileCount() : null;
  }

  /** An account on example.test (the domain is added on first use). */
  async account(local = "alice", quotaBytes: number | null = null): Promise<Account> {
    if (!(await this.accounts.isLocalDomain("example.test"))) await this.accounts.addDomain("example.test");
    return this.accounts.createAccount({ address: `${local}@example.test`, passwordHash: "$argon2id$test", quotaBytes });
  }

  async mailbox(accountId: Account["id"], name = "INBOX"): Promise<Mailbox> {
    const mailbox = await this.mail.getMailbox(accountId, name);
    if (!mailbox) throw new Error(`fixture: no mailbox ${name}`);
    return mailbox;
  }

  /** A small message whose bytes are unique unless `text` is given. */
  message(text?: string): Buffer {
    const body = text ?? `message ${++this.serial} ${Math.random()}`;
    return Buffer.from(`From: Sender <sender@example.net>\r\nTo: alice@example.test\r\nSubject: ${body}\r\nMessage-ID: <${body.replace(/\W/g, "")}@example.net>\r\n\r\n${body}\r\nsecond line\r\n`);
  }

  async append(mailboxId: MailboxId, flags: Flag[] = [], bytes?: Buffer) {
    return this.mail.append(mailboxId, bytes ?? this.message(), { flags });
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Runs a test body against a fresh backend and always cleans it up. */
export function using(open: OpenBackend, body: (fx: Fixture) => Promise<void>): () => Promise<void> {
  return async () => {
    const backend = await open();
    try {
      await body(new Fixture(backend));
    } finally {
      await backend.cleanup();
    }
  };
}
