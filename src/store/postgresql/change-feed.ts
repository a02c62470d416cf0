// The change feed across nodes (docs/architecture.md, "PostgreSQL backend"): every mutating
// transaction that changed something sends its change batches with pg_notify inside the
// transaction, and every node LISTENs on one dedicated connection. PostgreSQL delivers a
// notification only if its transaction commits, and delivers them in commit order, to every
// listener alike: so every other node publishes to its local subscribers (IDLE sessions) the
// events in the order the row locks gave the commits. The writing node publishes its own events
// itself once its COMMIT has returned (in commit order among its own writes), because only then
// are they visible to every reader; its own notification only ends the writer's wait.
//
// A writer waits for its own notification before its mutation resolves, so the other nodes have it
// too. While the listener is down (database restart) a writer publishes at once; other nodes miss the events until the listener is back,
// and the sessions there catch up at their next command, as they do after any reconnect
// (changesSince / the mailbox state is the truth, the feed only wakes sessions up).
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { Logger } from "../../observability/log.js";
import { InProcessChangeFeed } from "../change-feed.js";
import type { ChangeBatch, ChangeFeed, ChangeListener } from "../changes.js";
import type { AccountId } from "../types.js";
import { one, type Sql } from "./database.js";

export const CHANNEL = "mailroom_changes";
/** NOTIFY payloads must stay under 8000 bytes; larger ones go through change_notices. */
const MAX_PAYLOAD = 7000;
/** How long a writer waits for its own notification before publishing locally. */
const OWN_NOTICE_TIMEOUT_MS = 2000;
const RECONNECT_DELAY_MS = 500;

interface Notice {
  /** Node that wrote it. */
  n: string;
  /** The writer's sequence number, for it to recognise its own. */
  s: number;
  /** The batches, or the change_notices row holding them. */
  b?: ChangeBatch[];
  r?: number;
}

export class PostgresChangeFeed implements ChangeFeed {
  private readonly local = new InProcessChangeFeed();
  readonly nodeId = randomUUID();
  private sequence = 0;
  private readonly waiting = new Map<number, () => void>();
  private client: pg.Client | null = null;
  private listening = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private processing: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: pg.ClientConfig,
    /** For payloads too large for NOTIFY (read from change_notices). */
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  subscribe(accountId: AccountId, listener: ChangeListener): () => void {
    return this.local.subscribe(accountId, listener);
  }

  /** Local subscribers only (what a writer does when its notification cannot come). */
  publish(batch: ChangeBatch): void {
    this.local.publish(batch);
  }

  get isListening(): boolean {
    return this.listening;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on("notification", (message) => {
      // One at a time, in arrival (commit) order, even when one must fetch its payload first.
      if (message.channel === CHANNEL && message.payload) this.processing = this.processing.then(() => this.received(message.payload!));
    });
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      this.listening = false;
      // Writers waiting for their own notice publish locally now.
      for (const resolve of this.waiting.values()) resolve();
      this.waiting.clear();
      if (this.stopped) return;
      this.log.warn("store.change_feed_disconnected", { error: err?.message ?? "connection ended" });
      this.scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      if (this.stopped) return;
      this.log.warn("store.change_feed_connect_failed", { error: (err as Error).message });
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.listening = true;
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.stopped) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, RECONNECT_DELAY_MS);
    this.reconnectTimer.unref();
  }

  /**
   * Inside the writer's transaction: queues the notification (sent at COMMIT, dropped on
   * rollback). Returns the wait for it, or null when the listener is down (publish locally).
   */
  async notify(db: Sql, batches: ChangeBatch[]): Promise<{ seen: Promise<boolean>; cancel(): void } | null> {
    if (!this.listening) return null;
    const s = ++this.sequence;
    let payload = JSON.stringify({ n: this.nodeId, s, b: batches } satisfies Notice);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD) {
      const row = await one<{ id: number }>(db, "INSERT INTO change_notices (payload, created_at) VALUES ($1, $2) RETURNING id", [JSON.stringify(batches), Date.now()]);
      payload = JSON.stringify({ n: this.nodeId, s, r: row!.id } satisfies Notice);
    }
    await db.query("SELECT pg_notify($1, $2)", [CHANNEL, payload]);
    let timer: NodeJS.Timeout | undefined;
    const seen = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.waiting.delete(s);
        resolve(false);
      }, OWN_NOTICE_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(s, () => {
        clearTimeout(timer);
        resolve(this.listening);
      });
    });
    // The transaction rolled back: no notification will come.
    const cancel = () => {
      clearTimeout(timer);
      this.waiting.delete(s);
    };
    return { seen, cancel };
  }

  private async received(payload: string): Promise<void> {
    let notice: Notice;
    try {
      notice = JSON.parse(payload) as Notice;
    } catch {
      return;
    }
    // This node's own events are published by the writer after its COMMIT returned (the store's
    // settle): here they only end the writer's wait.
    if (notice.n === this.nodeId) {
      this.waiting.get(notice.s)?.();
      this.waiting.delete(notice.s);
      return;
    }
    let batches = notice.b;
    if (!batches && notice.r !== undefined) {
      batches = await this.pool
        .query<{ payload: string }>("SELECT payload FROM change_notices WHERE id = $1", [notice.r])
        .then((r) => (r.rows[0] ? (JSON.parse(r.rows[0].payload) as ChangeBatch[]) : []))
        .catch(() => []);
    }
    for (const batch of batches ?? []) this.local.publish(batch);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    this.listening = false;
    for (const resolve of this.waiting.values()) resolve();
    this.waiting.clear();
    if (client) await client.end().catch(() => undefined);
  }
}
