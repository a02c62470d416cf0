// Outbound relay (issue #6): queued 5 KB messages from a.test delivered to b.test by Mailroom's
// outbound workers over loopback, DKIM-signed twice (Ed25519 and RSA) on the way out and verified
// (SPF, DKIM, DMARC) on the way in. Runs bench/outbound-relay.ts in a child process: it starts its
// own two Mailroom instances and DNS server, so the runner's Mailroom is not used, and the peer is
// not measured (Postfix relaying to Postfix is a different setup with no signing or checks).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Workload } from "./workload.js";

const SCRIPT = fileURLToPath(new URL("../outbound-relay.js", import.meta.url));

interface RelayResult {
  messages: number;
  seconds: number;
  perSecond: number;
  received: number;
  failed: number;
}

function runRelay(messages: number, connections: number): Promise<RelayResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, String(messages), String(connections), "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        reject(new Error(`outbound-relay exited ${code}: ${(err || out).trim().split("\n").slice(-1)[0] ?? ""}`));
        return;
      }
      resolve(JSON.parse(line) as RelayResult);
    });
  });
}

export function relay(options: { messages: number; connections: number }): Workload {
  const { messages, connections } = options;
  return {
    id: "relay",
    title: `outbound relay of ${messages} 5 KB messages over ${connections} connections, DKIM-signed and verified`,
    needs: [],
    peerSkip: "not measured: Postfix-to-Postfix relay is a different setup (no DKIM signing, no SPF/DKIM/DMARC checks)",
    metrics: [{ id: "rate", title: `relay ${messages} msgs, ${connections} conns`, unit: "msg/s", better: "higher" }],
    accounts: () => [],
    async run() {
      const result = await runRelay(messages, connections);
      // A run that lost or failed messages measured something else; it must not count.
      if (result.received !== messages || result.failed !== 0) throw new Error(`B received ${result.received} of ${messages}, ${result.failed} attempts not delivered`);
      return { rate: result.perSecond };
    },
  };
}
