// Issue 11's proof: a real `mailroom serve` under SMTP and IMAP APPEND load while admin commands
// (user add, user list, alias add, user passwd, user del of other users) run in a loop against the
// same data dir. Every acknowledged message is logged with its bytes; at the end each one is
// fetched back over IMAP and compared: no transaction may fail, no acknowledged message may be
// missing or differ, no extra message may appear, and `mailroom store check` must find the store
// clean. The server's event-loop delay over the run (perf_hooks.monitorEventLoopDelay, read with
// `mailroom status`) is reported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess, type CliRun } from "../harness/mailroom-process.js";
import { RawSmtpClient } from "../harness/smtp-clients.js";

const CONFIG = serveConfig({ plaintextAuthOnLoopback: true, listeners: [{ protocol: "smtp" }, { protocol: "imap" }] });

const SMTP_CLIENTS = 3;
const APPEND_CLIENTS = 2;
/** Each client sends at least this many, and goes on until the admin loops have done a full round. */
const MESSAGES_EACH = 40;
/** ...but never more than this many, whatever the admin loops do (a round of 5 CLI commands takes 10-15 s on 2 busy cores). */
const MESSAGES_EACH_MAX = 250;
const PASSWORD = "a long password";

/** A message of a few KB whose body names it; `shared` bodies are byte-identical (one blob, many rows). */
function messageBytes(id: string, index: number, shared: boolean): Buffer {
  const filler = shared ? "the same body for every shared message\r\n".repeat(50) : `line ${index} of ${id}\r\n`.repeat(20 + (index % 7) * 40);
  const messageId = shared ? "<shared@load.example>" : `<${id}@load.example>`;
  return Buffer.from(`From: load@elsewhere.example\r\nTo: someone@example.org\r\nSubject: ${shared ? "shared" : id}\r\nMessage-ID: ${messageId}\r\n\r\n${filler}`, "latin1");
}

function imapClient(port: number, user: string): ImapFlow {
  return new ImapFlow({ host: "127.0.0.1", port, secure: false, doSTARTTLS: false, auth: { user, pass: PASSWORD }, logger: false });
}

test("SMTP and APPEND under load while admin commands run in a loop: nothing acknowledged is lost", async (t) => {
  const s = await makeScratch(CONFIG);
  try {
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    for (const user of ["alice", "bob", "old0", "old1"]) assert.equal((await runMailroom(["user", "add", `${user}@example.org`], { env: s.env, input: `${PASSWORD}\n` })).code, 0);
    const server = await startServeProcess(s.env);
    const failures: string[] = [];
    const smtpAcked = new Map<string, Buffer>();
    const appendAcked = new Map<number, Buffer>();
    const adminRuns: { args: string[]; run: CliRun; duringLoad: boolean; ms: number }[] = [];
    try {
      const smtpPort = listenerPort(server.banner, "smtp");
      const imapPort = listenerPort(server.banner, "imap");
      assert.equal((await runMailroom(["status", "--reset"], { env: s.env })).code, 0);

      let adminRoundsDone = 0;
      const keepSending = (i: number) => i < MESSAGES_EACH || (adminRoundsDone < 2 && i < MESSAGES_EACH_MAX);
      const smtpClient = async (client: number) => {
        const smtp = await RawSmtpClient.open(smtpPort);
        await smtp.reply();
        await smtp.command("EHLO load.example");
        for (let i = 0; keepSending(i); i++) {
          const id = `smtp-${client}-${i}`;
          const bytes = messageBytes(id, i, false);
          const replies = [await smtp.command("MAIL FROM:<load@elsewhere.example>"), await smtp.command("RCPT TO:<alice@example.org>"), await smtp.command("DATA")];
          const final = await smtp.command(`${bytes.toString("latin1")}.`);
          if (!/^250 /.test(final ?? "") || !/^250 /.test(replies[0] ?? "") || !/^250 /.test(replies[1] ?? "") || !/^354 /.test(replies[2] ?? "")) {
            failures.push(`${id}: ${JSON.stringify([...replies, final])}`);
            if (final === null) return;
            continue;
          }
          smtpAcked.set(id, bytes);
        }
        await smtp.command("QUIT");
      };
      const appendClient = async (client: number) => {
        const imap = imapClient(imapPort, "bob@example.org");
        await imap.connect();
        try {
          for (let i = 0; keepSending(i); i++) {
            const bytes = messageBytes(`append-${client}-${i}`, i, i % 5 === 0);
            try {
              const appended = await imap.append("INBOX", bytes);
              if (appended === false || typeof appended.uid !== "number") failures.push(`append-${client}-${i}: no APPENDUID`);
              else appendAcked.set(appended.uid, bytes);
            } catch (error) {
              failures.push(`append-${client}-${i}: ${(error as Error).message}`);
            }
          }
        } finally {
          await imap.logout();
        }
      };

      let loadDone = false;
      // Two loops at once (different users), so commands overlap each other as well as the load.
      const adminLoop = async (loop: number) => {
        const run = async (args: string[], input?: string) => {
          const began = Date.now();
          const result = await runMailroom(args, { env: s.env, ...(input !== undefined ? { input } : {}), timeoutMs: 60_000 });
          adminRuns.push({ args, run: result, duringLoad: !loadDone, ms: Date.now() - began });
        };
        for (let k = 0; !loadDone || k < 1; k++) {
          await run(["user", "add", `temp${loop}-${k}@example.org`], `${PASSWORD}\n`);
          await run(["user", "list"]);
          await run(["alias", "add", `alias${loop}-${k}@example.org`, "alice@example.org"]);
          await run(["user", "passwd", `temp${loop}-${k}@example.org`], "another long password\n");
          // Another user: the one made before the load, then the one of the previous round.
          await run(["user", "del", k === 0 ? `old${loop}@example.org` : `temp${loop}-${k - 1}@example.org`]);
          adminRoundsDone++;
        }
      };

      const started = Date.now();
      const admin = Promise.all([adminLoop(0), adminLoop(1)]);
      await Promise.all([...Array.from({ length: SMTP_CLIENTS }, (_, c) => smtpClient(c)), ...Array.from({ length: APPEND_CLIENTS }, (_, c) => appendClient(c))]);
      loadDone = true;
      const roundsAtLoadEnd = adminRoundsDone;
      await admin;
      const loadSeconds = (Date.now() - started) / 1000;

      const status = await runMailroom(["status"], { env: s.env });
      assert.equal(status.code, 0, status.stderr);
      const stall = /longest stall ([\d.]+) ms, 99th percentile ([\d.]+) ms/.exec(status.stdout);
      assert.ok(stall, status.stdout);
      t.diagnostic(`load: ${smtpAcked.size} SMTP + ${appendAcked.size} APPEND acknowledged in ${loadSeconds.toFixed(1)} s with ${adminRuns.length} admin commands (${roundsAtLoadEnd >= 2 ? "the load lasted until they were done" : "the load hit its cap first"}); event loop: max stall ${stall[1]} ms, p99 ${stall[2]} ms; admin commands took ${adminRuns.map((r) => `${r.args.slice(0, 2).join(" ")} ${r.ms} ms`).join(", ")}`);

      assert.deepEqual(failures, [], "no transaction failed");
      assert.ok(smtpAcked.size >= SMTP_CLIENTS * MESSAGES_EACH && appendAcked.size >= APPEND_CLIENTS * MESSAGES_EACH);
      for (const { args, run } of adminRuns) assert.equal(run.code, 0, `mailroom ${args.join(" ")}: ${run.stderr}`);
      const duringLoad = adminRuns.filter((r) => r.duringLoad).length;
      // The load lasted until both loops had done a round (5 commands each, a user del included), unless it hit its cap.
      if (roundsAtLoadEnd >= 2) assert.ok(duringLoad >= 10, `admin commands ran while the load ran (${duringLoad} of ${adminRuns.length})`);
      else assert.ok(duringLoad >= 4, `the load hit its cap; still, admin commands ran while it ran (${duringLoad} of ${adminRuns.length})`);
      const viaServer = server.logs().match(/"event":"control\.request"/g)?.length ?? 0;
      assert.ok(viaServer >= adminRuns.length, `every admin command ran inside the server (${viaServer} of ${adminRuns.length})`);

      // Every acknowledged message is there, byte for byte, and nothing else is.
      const reader = imapClient(imapPort, "alice@example.org");
      await reader.connect();
      try {
        const lock = await reader.getMailboxLock("INBOX");
        try {
          const found = new Map<string, Buffer>();
          for await (const message of reader.fetch("1:*", { source: true, uid: true })) {
            const source = message.source!;
            const id = /^Subject: (smtp-\d+-\d+)\r$/m.exec(source.toString("latin1"))?.[1];
            assert.ok(id, `an unexpected message in alice's INBOX: ${source.subarray(0, 300).toString("latin1")}`);
            found.set(id, source);
          }
          assert.equal(found.size, smtpAcked.size, "alice's INBOX holds exactly the acknowledged messages");
          for (const [id, bytes] of smtpAcked) {
            const stored = found.get(id);
            assert.ok(stored, `${id} was acknowledged and is missing`);
            // The server prepends its trace fields (Received, Authentication-Results); the rest is the message as sent.
            assert.ok(stored.subarray(stored.length - bytes.length).equals(bytes), `${id}: the stored bytes differ from those sent`);
          }
        } finally {
          lock.release();
        }
      } finally {
        await reader.logout();
      }
      const bob = imapClient(imapPort, "bob@example.org");
      await bob.connect();
      try {
        const lock = await bob.getMailboxLock("INBOX");
        try {
          const found = new Map<number, Buffer>();
          for await (const message of bob.fetch("1:*", { source: true, uid: true })) found.set(message.uid, message.source!);
          assert.deepEqual([...found.keys()].sort((a, b) => a - b), [...appendAcked.keys()].sort((a, b) => a - b), "bob's INBOX holds exactly the appended messages");
          for (const [uid, bytes] of appendAcked) assert.ok(found.get(uid)!.equals(bytes), `UID ${uid}: the stored bytes differ from those appended`);
        } finally {
          lock.release();
        }
      } finally {
        await bob.logout();
      }
      assert.ok(!server.logs().includes(PASSWORD) && !server.logs().includes("another long password"), "no password in the server's log");

      // The store itself agrees: every row has its file of the recorded size, every file its row,
      // SQLite's integrity check and the usage counters hold (run while the server still serves).
      const check = await runMailroom(["store", "check"], { env: s.env });
      assert.equal(check.code, 0, `store check after the load:\n${check.stdout}\n${check.stderr}`);
      assert.match(check.stdout, /^store check: clean/m);
    } finally {
      assert.equal(await server.stop(), 0, server.logs().slice(-3000));
    }
  } finally {
    await s.cleanup();
  }
});

test("deleting a large account through the running server never stalls its event loop for 50 ms", async (t) => {
  const s = await makeScratch(CONFIG);
  try {
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    for (const user of ["alice", "bulk"]) assert.equal((await runMailroom(["user", "add", `${user}@example.org`], { env: s.env, input: `${PASSWORD}\n` })).code, 0);
    const server = await startServeProcess(s.env);
    try {
      const imapPort = listenerPort(server.banner, "imap");
      const bulk = imapClient(imapPort, "bulk@example.org");
      await bulk.connect();
      let count = 0;
      try {
        for (let i = 0; i < 40; i++) await bulk.append("INBOX", messageBytes(`bulk-${i}`, i, false));
        const lock = await bulk.getMailboxLock("INBOX");
        try {
          // Doubling by COPY: 40 -> 2,560 messages without 2,560 APPENDs.
          for (let i = 0; i < 6; i++) await bulk.messageCopy("1:*", "INBOX");
          const status = await bulk.status("INBOX", { messages: true });
          count = status === false ? 0 : (status.messages ?? 0);
        } finally {
          lock.release();
        }
      } finally {
        await bulk.logout();
      }
      assert.equal(count, 2560);

      // What the machine alone does to the loop: on a host too busy to keep an idle loop within
      // 50 ms, a 50 ms budget cannot be measured, and the test says so instead of guessing.
      assert.equal((await runMailroom(["status", "--reset"], { env: s.env })).code, 0);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const idle = /longest stall ([\d.]+) ms/.exec((await runMailroom(["status", "--reset"], { env: s.env })).stdout);
      assert.ok(idle);
      if (Number(idle[1]) >= 50) {
        t.diagnostic(`an idle server's event loop stalled ${idle[1]} ms on this machine: too busy to measure a 50 ms budget`);
        t.skip(`machine too busy: idle event-loop stall ${idle[1]} ms`);
        return;
      }
      const deleted = await runMailroom(["user", "del", "bulk@example.org"], { env: s.env, timeoutMs: 120_000 });
      assert.equal(deleted.code, 0, deleted.stderr);
      const status = await runMailroom(["status"], { env: s.env });
      const stall = /longest stall ([\d.]+) ms, 99th percentile ([\d.]+) ms/.exec(status.stdout);
      assert.ok(stall, status.stdout + status.stderr);
      // The same idle window once more after the delete: a host that got busy meanwhile (another
      // process hogging both cores) shows here too, and the budget is then not measurable.
      assert.equal((await runMailroom(["status", "--reset"], { env: s.env })).code, 0);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const after = /longest stall ([\d.]+) ms/.exec((await runMailroom(["status"], { env: s.env })).stdout);
      assert.ok(after);
      t.diagnostic(`user del of ${count} messages: event loop max stall ${stall[1]} ms, p99 ${stall[2]} ms (idle before: ${idle[1]} ms, after: ${after[1]} ms)`);
      if (Number(stall[1]) >= 50 && Number(after[1]) >= 50) {
        t.skip(`machine got too busy during the delete: idle event-loop stall afterwards ${after[1]} ms`);
        return;
      }
      assert.ok(Number(stall[1]) < 50, `the longest stall was ${stall[1]} ms`);
      assert.doesNotMatch((await runMailroom(["user", "list"], { env: s.env })).stdout, /bulk@/);
    } finally {
      assert.equal(await server.stop(), 0, server.logs().slice(-3000));
    }
  } finally {
    await s.cleanup();
  }
});
