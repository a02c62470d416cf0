// Test fixture for the sans-IO session: a real SQLite store in a temp dir (test/harness), a
// transport that records what was written, timers that move only when a test says so, and a
// client-side view of the recorded bytes (status lines and multi-line bodies). Tests only.
import { Authenticator, AuthThrottle } from "../auth/index.js";
import { silentLogger } from "../observability/log.js";
import type { Account, MailStore } from "../store/index.js";
import { CHEAP_HASH_PARAMS, cheapHash, openTempStore, type TempStore } from "../../test/harness/temp-store.js";
import { createPop3SharedState } from "./pop3-server.js";
import { Pop3Session } from "./pop3-session.js";
import type { Pop3SessionOptions, Pop3SharedState } from "./types.js";
import { ManualTimers } from "../../test/harness/manual-timers.js";
export { ManualTimers };


export class RecordingTransport {
  readonly written: Buffer[] = [];
  closed = false;
  tlsStarted = 0;
  failTls = false;

  async write(bytes: Buffer): Promise<void> {
    if (this.closed) throw new Error("closed");
    this.written.push(Buffer.from(bytes));
  }

  async startTls(reply: Buffer): Promise<void> {
    this.written.push(Buffer.from(reply));
    this.tlsStarted++;
    if (this.failTls) throw new Error("handshake failed");
  }

  close(): void {
    this.closed = true;
  }

  /** Everything written since the last take(), as text. */
  take(): string {
    const text = Buffer.concat(this.written).toString("latin1");
    this.written.length = 0;
    return text;
  }
}

export interface Pop3Fixture {
  temp: TempStore;
  store: MailStore;
  alice: Account;
  shared: Pop3SharedState;
  timers: ManualTimers;
  clock: { now: Date };
  /** A new session (greeting consumed) with a recording transport. */
  open(overrides?: Partial<Pop3SessionOptions>): Promise<{ session: Pop3Session; transport: RecordingTransport; send(line: string): Promise<string> }>;
  deliver(text: string | Buffer): Promise<void>;
  cleanup(): Promise<void>;
}

let sessionCounter = 0;

export async function openPop3Fixture(): Promise<Pop3Fixture> {
  const temp = await openTempStore("mailroom-pop3-");
  const { store } = temp;
  await store.addDomain("example.org");
  const alice = await store.createAccount({ address: "alice@example.org", passwordHash: await cheapHash("alice-pass") });
  const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle(), log: silentLogger, hashParams: CHEAP_HASH_PARAMS, sleep: async () => {} });
  const shared = createPop3SharedState();
  const timers = new ManualTimers();
  const clock = { now: new Date("2025-01-01T00:00:00Z") };
  const inbox = await store.getMailbox(alice.id, "INBOX");
  return {
    temp,
    store,
    alice,
    shared,
    timers,
    clock,
    async open(overrides = {}) {
      const transport = new RecordingTransport();
      const session = new Pop3Session({
        hostname: "pop.example.org",
        remoteAddress: "192.0.2.1",
        transport,
        store,
        authenticator,
        shared,
        limits: { pop3LineLength: 255, pop3Idle: 600_000, pop3UnauthenticatedIdle: 60_000, pop3CommandDeadline: 60_000 },
        timers,
        clock: () => clock.now,
        log: silentLogger,
        startTlsAvailable: true,
        implicitTls: false,
        allowPlaintextAuth: false,
        id: `s${++sessionCounter}`,
        ...overrides,
      });
      await session.start();
      transport.take();
      return {
        session,
        transport,
        async send(line: string) {
          await session.receive(Buffer.from(line, "latin1"));
          return transport.take();
        },
      };
    },
    async deliver(text) {
      await store.deliver({ source: typeof text === "string" ? Buffer.from(text, "latin1") : text, targets: [{ mailboxId: inbox!.id }] });
    },
    cleanup: () => temp.cleanup(),
  };
}
