// limits.connections_per_ip across nodes (issue 15; docs/scale-out.md, "Shared abuse state").
// Admission happens at accept time and must not wait for the database, so each node keeps a
// local view: every second (and soon after its own counts change, at most every 250 ms) it
// publishes its open connections per client group to the shared store with a heartbeat and, in
// the same statement, reads the sums of every other node whose heartbeat is fresh. A killed node
// stops counting once its heartbeat is older than staleMs (5 s). The price is a window of up to
// about a second in which a burst spread over N nodes may open up to N times the limit; a client
// that keeps its connections open is held to the limit from then on. A store outage keeps the
// last view for staleMs, then counts this node alone (fail open: the database being down must
// not lock every client out).
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "../observability/log.js";
import type { ConnectionCountStore } from "../store/index.js";
import type { SharedConnectionCounts } from "./listeners.js";

export interface ClusterConnectionOptions {
  store: ConnectionCountStore;
  log: Logger;
  intervalMs?: number;
  staleMs?: number;
  /** Shortest gap between two publications triggered by changes. */
  minGapMs?: number;
}

export class ClusterConnections implements SharedConnectionCounts {
  /** Unique per process: a restarted node is a new node, and its old row just goes stale. */
  readonly nodeId = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  private readonly intervalMs: number;
  private readonly staleMs: number;
  private readonly minGapMs: number;
  private others = new Map<string, number>();
  private heardAt = 0;
  private local: () => ReadonlyMap<string, number> = () => new Map();
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastPublish = 0;
  private failing = false;
  private stopped = false;

  constructor(private readonly options: ClusterConnectionOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.staleMs = options.staleMs ?? 5000;
    this.minGapMs = options.minGapMs ?? 250;
  }

  elsewhere(group: string): number {
    if (Date.now() - this.heardAt > this.staleMs) return 0;
    return this.others.get(group) ?? 0;
  }

  track(local: () => ReadonlyMap<string, number>): void {
    this.local = local;
  }

  changed(): void {
    if (this.stopped || this.soon !== null) return;
    const wait = Math.max(0, this.lastPublish + this.minGapMs - Date.now());
    this.soon = setTimeout(() => {
      this.soon = null;
      void this.publish();
    }, wait);
    this.soon.unref();
  }

  start(): void {
    void this.publish();
    this.timer = setInterval(() => void this.publish(), this.intervalMs);
    this.timer.unref();
  }

  /** One publication (and read of the others); concurrent calls share the one in flight. */
  publish(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= (async () => {
      this.lastPublish = Date.now();
      try {
        this.others = await this.options.store.publishConnections(this.nodeId, new Map(this.local()), this.staleMs);
        this.heardAt = Date.now();
        if (this.failing) this.options.log.info("cluster.connections_resumed", { node: this.nodeId });
        this.failing = false;
      } catch (error) {
        if (!this.failing) this.options.log.warn("cluster.connections_unavailable", { node: this.nodeId, error });
        this.failing = true;
      }
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops publishing and removes this node's row, so its connections stop counting at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    await this.running;
    try {
      await this.options.store.withdrawConnections(this.nodeId);
    } catch {
      // The row goes stale by itself.
    }
  }
}
