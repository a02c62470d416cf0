// What a workload sees of a server under test: its endpoints (or why one is missing), the test
// accounts, the root pids whose process trees are measured, and how to stop it. Mailroom and the
// Dovecot+Postfix peer both implement it, so the same workload code drives both.
import { createServer } from "node:net";
import type { Endpoint } from "../lib/wire.js";

export type Service = "smtp" | "imap" | "pop3";
export type TargetRole = "mailroom" | "peer";

export interface Account {
  address: string;
  password: string;
}

export interface Target {
  readonly role: TargetRole;
  readonly label: string;
  readonly endpoints: Partial<Record<Service, Endpoint>>;
  /** Why a service has no endpoint (not built yet, failed to start). */
  readonly unavailable: Partial<Record<Service, string>>;
  /** The account for a local part created before the start (see accountNames in the plan). */
  account(localPart: string): Account;
  /** Pids whose process trees make up the server. */
  rootPids(): number[];
  stop(): Promise<void>;
  /**
   * Mailboxes built outside the protocols (bench/lib/prefill.ts): how many bytes of mail went into
   * each local part's INBOX, and where the server keeps its index for it (Mailroom: the SQLite
   * files; Dovecot: the Maildir's dovecot.* and uidlist files), for the disk-use ratio.
   */
  readonly prefilled: Map<string, number>;
  indexBytes(localPart: string): Promise<number>;
  /** Mailroom only: the event-loop stall figures `mailroom status` reports (reset: start afresh after). */
  eventLoop?(reset: boolean): Promise<{ p99StallMs: number; maxStallMs: number }>;
  /** Mailroom only: stores a Sieve script for a local part and makes it the active one. */
  putSieveScript?(localPart: string, name: string, script: string): Promise<void>;
  /** Dovecot only: the Maildir of a local part and the owner its files need. */
  maildir?(localPart: string): { path: string; owner: { uid: number; gid: number } | null };
}

export const BENCH_DOMAIN = "bench.test";
export const BENCH_PASSWORD = "bench-password-1";

/** A free TCP port on 127.0.0.1, asked of the kernel (ephemeral range, so never a standard port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts connections on the endpoint, or fails after `timeoutMs`. */
export async function waitForPort(endpoint: Endpoint, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline && attempt < 10_000; attempt++) {
    if (!alive()) throw new Error(`the server exited before ${endpoint.host}:${endpoint.port} opened`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(endpoint.port, endpoint.host);
      socket.once("connect", () => { socket.destroy(); resolve(true); });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${endpoint.host}:${endpoint.port} after ${timeoutMs} ms`);
}
