// Concurrent connection counters: at most N open connections from one client and M in total, checked
// at accept time before any protocol work (or TLS handshake CPU) is spent. IPv6 clients are grouped by
// /64, since one host is routinely handed a whole /64 and could otherwise open endless addresses.
// Memory is bounded: a counter exists only while its group has an open connection, so there are never
// more entries than the total limit.
//
// Several nodes behind one balancer: the per-IP limit holds across them when `elsewhere` is given,
// the counts other nodes last published for a group (server/cluster-connections.ts, refreshed about
// every second through the shared store). The total limit stays per node: it protects this process.

import { isIPv4, isIPv6 } from "node:net";

export type AdmissionRefusal = "too-many-from-ip" | "too-many-total";
export type Admission = { admitted: true; release: () => void } | { admitted: false; reason: AdmissionRefusal };

export interface ConnectionLimitSettings {
  perIp: number;
  total: number;
  /** Open connections of a group on other nodes, as last heard; absent: this node is alone. */
  elsewhere?: (group: string) => number;
}

export class ConnectionLimits {
  private readonly perGroup = new Map<string, number>();
  private open = 0;

  constructor(private readonly settings: ConnectionLimitSettings) {
    if (!(settings.perIp >= 1 && settings.total >= 1)) throw new RangeError("connection limits must be at least 1");
  }

  /** Counts a new connection, or says why it is refused. The release function is idempotent. */
  admit(ip: string): Admission {
    const group = connectionGroup(ip);
    if (this.open >= this.settings.total) return { admitted: false, reason: "too-many-total" };
    const count = this.perGroup.get(group) ?? 0;
    if (count + (this.settings.elsewhere?.(group) ?? 0) >= this.settings.perIp) return { admitted: false, reason: "too-many-from-ip" };
    this.perGroup.set(group, count + 1);
    this.open++;
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.open--;
        const left = (this.perGroup.get(group) ?? 1) - 1;
        if (left <= 0) this.perGroup.delete(group);
        else this.perGroup.set(group, left);
      },
    };
  }

  /** The release function of an admitted connection, or null when a limit is reached. */
  tryAcquire(ip: string): (() => void) | null {
    const admission = this.admit(ip);
    return admission.admitted ? admission.release : null;
  }

  get openConnections(): number {
    return this.open;
  }

  openFrom(ip: string): number {
    return this.perGroup.get(connectionGroup(ip)) ?? 0;
  }

  /** This node's open connections per group (what it publishes to the other nodes). */
  groups(): ReadonlyMap<string, number> {
    return this.perGroup;
  }

  /** Number of client groups with open connections (bounded by the total limit). */
  get trackedGroups(): number {
    return this.perGroup.size;
  }
}

/** The key a client is counted under: an IPv4 address, or the /64 prefix of an IPv6 address. */
export function connectionGroup(ip: string): string {
  const bare = ip.replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIPv4(bare) || !isIPv6(bare)) return bare;
  return `${expandIPv6(bare).slice(0, 4).join(":")}::/64`;
}

function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  const middle = Array.from({ length: Math.max(0, 8 - front.length - back.length) }, () => "0");
  return [...front, ...middle, ...back].map((group) => group.replace(/^0+(?=.)/, ""));
}
