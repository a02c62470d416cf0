// kill -9 of the sender during outbound delivery: after a restart every queued message reaches
// B at least once (at-least-once: a duplicate only when the kill fell between B's 250 and our
// record of it; never a loss), and the queue ends empty.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { startDnsServer } from "../harness/dns-server.js";
import { baseDnsTable, inboxTexts, startInstance } from "../harness/outbound-pair.js";
import { openTempStore } from "../harness/temp-store.js";

const MESSAGES = 40;

function childCommand(dataDir: string, dnsServer: string, port: number, leaseMs: number): string[] {
  const self = fileURLToPath(import.meta.url);
  const isTs = self.endsWith(".ts");
  const child = join(dirname(self), "..", "harness", isTs ? "outbound-sender-child.ts" : "outbound-sender-child.js");
  return [...(isTs ? ["--import", "tsx"] : []), child, dataDir, dnsServer, String(port), String(leaseMs)];
}

function runSender(dataDir: string, dnsServer: string, port: number, leaseMs: number) {
  const child = spawn(process.execPath, childCommand(dataDir, dnsServer, port, leaseMs), { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const saw = (line: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${line} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      const check = () => {
        if (stdout.includes(`${line}\n`)) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
      void exited.then(() => {
        if (!stdout.includes(`${line}\n`)) {
          clearTimeout(timer);
          reject(new Error(`sender exited before ${line}; stderr: ${stderr}`));
        }
      });
    });
  return { child, exited, saw };
}

test("kill -9 of the sender mid-delivery: after restart every message is delivered, none lost", { timeout: 120_000 }, async () => {
  // The sender finds mx.b.test through the loopback DNS server its configuration names.
  const dns = await startDnsServer(baseDnsTable());
  const b = await startInstance("b.test", "bob", ["mx"], null);
  const sender = await openTempStore("mailroom-outbound-crash-");
  try {
    await sender.store.addDomain("a.test");
    for (let i = 0; i < MESSAGES; i++) {
      const staged = await sender.store.stageMessage(Buffer.from(`From: alice@a.test\r\nTo: bob@b.test\r\nSubject: crash ${i}\r\n\r\n${"line of text\r\n".repeat(200)}`));
      await sender.store.enqueue({ message: staged, mailFrom: "alice@a.test", submittedBy: "alice@a.test", recipients: [{ address: "bob@b.test", notify: null, originalRecipient: null }], envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false });
    }
    await sender.store.close();

    const first = runSender(sender.dataDir, dns.address, b.ports.mx!, 1500);
    await first.saw("READY", 30_000);
    // Let a part of the queue go through, then kill while attempts are in flight.
    for (let i = 0; i < 400 && (await inboxTexts(b)).length < MESSAGES / 4; i++) await new Promise((r) => setTimeout(r, 10));
    first.child.kill("SIGKILL");
    await first.exited;
    const beforeRestart = (await inboxTexts(b)).length;
    assert.ok(beforeRestart < MESSAGES, `the kill came too late to test anything (${beforeRestart} delivered)`);

    const second = runSender(sender.dataDir, dns.address, b.ports.mx!, 1500);
    await second.saw("EMPTY", 60_000);
    assert.equal(await second.exited, 0);

    const subjects = (await inboxTexts(b)).map((text) => /Subject: (crash \d+)/.exec(text)?.[1]);
    const counts = new Map<string, number>();
    for (const subject of subjects) counts.set(subject!, (counts.get(subject!) ?? 0) + 1);
    const missing = Array.from({ length: MESSAGES }, (_, i) => `crash ${i}`).filter((s) => !counts.has(s));
    assert.deepEqual(missing, [], "no message lost");
    const duplicates = [...counts.values()].filter((n) => n > 1).length;
    // Only attempts in flight at the kill (at most the worker's concurrency of 5) may repeat.
    assert.ok(duplicates <= 5, `${duplicates} duplicates`);
    process.stderr.write(`delivered before the kill: ${beforeRestart}, duplicates after restart: ${duplicates}\n`);
    const reopened = await openSqliteStore({ dataDir: sender.dataDir });
    try {
      assert.deepEqual(await reopened.listQueue(), []);
    } finally {
      await reopened.close();
    }
  } finally {
    await b.stop();
    await dns.close();
    await rm(sender.dataDir, { recursive: true, force: true });
  }
});
