// Test fixture for the sans-IO session: a transport that records what was written, timers that
// move only when a test says so, a store that stages into memory, and a small policy over a fixed
// set of local addresses. Used by the session tests and the policy tests; not by production code.
import { Readable } from "node:stream";
import { silentLogger } from "../../observability/log.js";
import type { Account, StagedMessage } from "../../store/index.js";
import { asAccountId, StoreError } from "../../store/index.js";
import type { SaslCredentials } from "../../auth/index.js";
import type { AuthContext, AuthResult } from "../../auth/index.js";
import { ReplyCodes, reply } from "../protocol/index.js";
import { SmtpSession } from "./smtp-session.js";
import type { EnvelopeView, SessionLimits, SessionOptions, SessionPolicy, SessionView } from "./types.js";
import { ManualTimers } from "../../../test/harness/manual-timers.js";
export { ManualTimers };


export function testAccount(id: number, address: string, quota: { quotaBytes?: number | null; usedBytes?: number } = {}): Account {
  return {
    id: asAccountId(id),
    address,
    passwordHash: "",
    quotaBytes: quota.quotaBytes ?? null,
    usedBytes: quota.usedBytes ?? 0,
    pop3: { mode: "keep", markSeen: true, loginDelaySeconds: null, expireDays: null },
    createdAt: new Date(0),
  };
}

export class MemoryStaging {
  readonly staged: { bytes: Buffer; discarded: boolean }[] = [];
  /** Resolves each stageMessage call with this error instead (store failure tests). */
  failWith: Error | null = null;

  async stageMessage(source: unknown, options?: { maxBytes?: number }): Promise<StagedMessage> {
    const parts: Buffer[] = [];
    for await (const chunk of source as AsyncIterable<Buffer>) parts.push(chunk);
    const bytes = Buffer.concat(parts);
    if (this.failWith) throw this.failWith;
    if (options?.maxBytes !== undefined && bytes.length > options.maxBytes) throw new StoreError("TOOBIG", "too big");
    const record = { bytes, discarded: false };
    this.staged.push(record);
    return {
      blobId: `blob${this.staged.length}` as StagedMessage["blobId"],
      size: bytes.length,
      parsed: { root: {} as StagedMessage["parsed"]["root"], envelope: {} as StagedMessage["parsed"]["envelope"], size: bytes.length, searchText: "" },
      open: () => Readable.from([bytes]),
      discard: () => {
        record.discarded = true;
      },
    };
  }
}

/** Accepts recipients at example.org; records what it was asked to deliver. */
export class RecordingPolicy implements SessionPolicy {
  readonly delivered: { envelope: EnvelopeView; bytes: Buffer; session: SessionView }[] = [];

  async checkSender(): Promise<null> {
    return null;
  }

  async checkRecipient(_session: SessionView, _envelope: unknown, rcpt: Parameters<SessionPolicy["checkRecipient"]>[2]) {
    const path = rcpt.forwardPath;
    if (path.kind !== "mailbox" || path.domain !== "example.org") return { kind: "refuse" as const, reply: reply(ReplyCodes.RelayDenied) };
    return { kind: "accept" as const, recipient: { mailbox: path, parameters: rcpt.parameters, route: { kind: "remote" as const } } };
  }

  async deliver(session: SessionView, envelope: EnvelopeView, staged: StagedMessage) {
    const parts: Buffer[] = [];
    for await (const chunk of staged.open()) parts.push(chunk as Buffer);
    this.delivered.push({ envelope: { ...envelope, recipients: [...envelope.recipients] }, bytes: Buffer.concat(parts), session });
    return reply(ReplyCodes.Ok, `Ok: queued as ${envelope.id}`);
  }
}

export const TEST_LIMITS: SessionLimits = {
  smtpLineLength: 512,
  smtpTextLineLength: 1000,
  maxMessageSize: 10_000,
  maxRecipients: 5,
  maxSmtpErrors: 5,
  smtpIdle: 60_000,
  smtpCommandDeadline: 30_000,
  smtpTransactionDeadline: 120_000,
};

/** Accepts user@example.org / secret. */
export const testAuthenticator = {
  attempts: 0,
  async authenticateSasl(credentials: SaslCredentials, _context: AuthContext): Promise<AuthResult> {
    this.attempts++;
    if (credentials.kind === "password" && credentials.authcid === "user@example.org" && credentials.password === "secret") return { ok: true, account: testAccount(1, "user@example.org") };
    return { ok: false, reason: "invalid-credentials" };
  },
};

export interface SessionHarness {
  session: SmtpSession;
  timers: ManualTimers;
  staging: MemoryStaging;
  policy: SessionPolicy;
  output: string[];
  closed: () => boolean;
  tlsStarted: () => number;
  /** Feeds input (in one chunk) and returns what the server wrote meanwhile. */
  send(input: string | Buffer): Promise<string>;
  /** What was written since the last call. */
  take(): string;
}

export async function startSession(overrides: Partial<SessionOptions> & { policy?: SessionPolicy } = {}): Promise<SessionHarness> {
  const timers = new ManualTimers();
  const staging = new MemoryStaging();
  const policy = overrides.policy ?? new RecordingPolicy();
  const output: string[] = [];
  let taken = 0;
  let isClosed = false;
  let handshakes = 0;
  const session = new SmtpSession({
    role: "mx",
    hostname: "mx.example.org",
    remoteAddress: "192.0.2.1",
    transport: {
      write: async (bytes) => {
        output.push(bytes.toString("utf8"));
      },
      startTls: async (readyReply) => {
        output.push(readyReply.toString("utf8"));
        handshakes++;
      },
      tlsDetails: () => ({ protocol: "TLSv1.3", cipher: "TEST" }),
      close: () => {
        isClosed = true;
      },
    },
    policy,
    store: staging,
    authenticator: testAuthenticator,
    limits: TEST_LIMITS,
    timers,
    clock: () => new Date(timers.now),
    log: silentLogger,
    startTlsAvailable: true,
    implicitTls: false,
    allowPlaintextAuth: false,
    ...overrides,
  });
  await session.start();
  const take = () => {
    const text = output.slice(taken).join("");
    taken = output.length;
    return text;
  };
  return {
    session,
    timers,
    staging,
    policy,
    output,
    closed: () => isClosed,
    tlsStarted: () => handshakes,
    async send(input) {
      await session.receive(typeof input === "string" ? Buffer.from(input, "utf8") : input);
      return take();
    },
    take,
  };
}
