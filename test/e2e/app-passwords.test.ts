// App passwords (issue 22) with a real `mailroom serve` and the real CLI: `mailroom app-password
// add` prints a secret once; it logs in over IMAP (LOGIN and SCRAM-SHA-256, the harness's own SCRAM
// client), SMTP submission (AUTH PLAIN) and not over a protocol it was not made for (POP3); `list`
// shows its last use; `user app-passwords-only` makes the main password fail on the mail
// protocols; `revoke` ends exactly the open sessions that logged in with it, at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { RawSmtpClient } from "../harness/smtp-clients.js";
import { b64, ScramClient, unb64 } from "../harness/scram-client.js";

const CONFIG = serveConfig({
  plaintextAuthOnLoopback: true,
  listeners: [{ protocol: "imap" }, { protocol: "pop3" }, { protocol: "submission", tls: "none" }],
});
const USER = "alice@example.org";
const MAIN = "a long main password";

async function imapLogin(port: number, password: string): Promise<{ client: RawImapClient; ok: boolean; reply: string }> {
  const client = await RawImapClient.open(port);
  client.take();
  const reply = await client.command("a", `LOGIN ${USER} "${password}"`);
  return { client, ok: /^a OK/m.test(reply), reply };
}

async function imapScram(port: number, password: string): Promise<{ client: RawImapClient; ok: boolean }> {
  const client = await RawImapClient.open(port);
  client.take();
  const scram = new ScramClient({ hash: "sha256", username: USER, password });
  client.send(`s AUTHENTICATE SCRAM-SHA-256 ${b64(scram.first())}\r\n`);
  const first = await client.nextLine(20_000);
  if (!first.startsWith("+ ")) return { client, ok: false };
  client.send(`${b64(scram.final(unb64(first.slice(2))))}\r\n`);
  const second = await client.nextLine(20_000);
  if (!second.startsWith("+ ") || !scram.verifyServerFinal(unb64(second.slice(2)))) return { client, ok: false };
  client.send("\r\n");
  return { client, ok: /^s OK/.test(await client.nextLine(20_000)) };
}

/** SCRAM-SHA-256 up to server-first; `finish` sends client-final (later) and says whether it logged in. */
async function imapScramStarted(port: number, password: string): Promise<{ client: RawImapClient; finish: () => Promise<boolean> }> {
  const client = await RawImapClient.open(port);
  client.take();
  const scram = new ScramClient({ hash: "sha256", username: USER, password });
  client.send(`s AUTHENTICATE SCRAM-SHA-256 ${b64(scram.first())}\r\n`);
  const first = await client.nextLine(20_000);
  assert.ok(first.startsWith("+ "), first);
  return {
    client,
    finish: async () => {
      client.send(`${b64(scram.final(unb64(first.slice(2))))}\r\n`);
      const second = await client.nextLine(20_000);
      if (!second.startsWith("+ ")) return /^s OK/.test(second);
      client.send("\r\n");
      return /^s OK/.test(await client.nextLine(20_000));
    },
  };
}

test("app passwords: add, log in by every mechanism it may, list, app-passwords-only, revoke ends its sessions", async () => {
  const s = await makeScratch(CONFIG);
  try {
    const admin = async (args: string[], input?: string) => {
      const run = await runMailroom(args, { env: s.env, ...(input !== undefined ? { input } : {}) });
      assert.equal(run.code, 0, `mailroom ${args.join(" ")}: ${run.stdout}${run.stderr}`);
      return run.stdout;
    };
    await admin(["--init", "domain", "add", "example.org"]);
    await admin(["user", "add", USER], `${MAIN}\n`);
    const server = await startServeProcess(s.env);
    try {
      const imapPort = listenerPort(server.banner, "imap");
      const pop3Port = listenerPort(server.banner, "pop3");
      const submissionPort = listenerPort(server.banner, "submission");

      const added = await admin(["app-password", "add", USER, "phone", "--protocols", "imap,smtp"]);
      const secret = /^([a-z2-9]{5}-){3}[a-z2-9]{5}$/m.exec(added)?.[0];
      assert.ok(secret, added);
      const other = /^([a-z2-9]{5}-){3}[a-z2-9]{5}$/m.exec(await admin(["app-password", "add", USER, "laptop"]))?.[0];
      assert.ok(other);
      const duplicate = await runMailroom(["app-password", "add", USER, "phone"], { env: s.env });
      assert.notEqual(duplicate.code, 0);

      // The app password by LOGIN and by SCRAM; the main password still works; another app password too.
      const byLogin = await imapLogin(imapPort, secret);
      assert.ok(byLogin.ok, byLogin.reply);
      const byScram = await imapScram(imapPort, secret);
      assert.ok(byScram.ok, "SCRAM-SHA-256 with the app password");
      const byMain = await imapLogin(imapPort, MAIN);
      assert.ok(byMain.ok, byMain.reply);
      const byOther = await imapLogin(imapPort, other);
      assert.ok(byOther.ok, byOther.reply);

      // SMTP submission, AUTH PLAIN with the app password.
      const smtp = await RawSmtpClient.open(submissionPort);
      assert.match((await smtp.reply())!, /^220 /);
      assert.match((await smtp.command("EHLO client.example"))!, /^250/);
      assert.match((await smtp.command(`AUTH PLAIN ${Buffer.from(`\0${USER}\0${secret}`).toString("base64")}`))!, /^235 /);
      await smtp.command("QUIT");

      // Not made for POP3: refused there like a wrong password.
      {
        const { connect } = await import("node:net");
        const socket = connect(pop3Port, "127.0.0.1");
        let text = "";
        socket.on("data", (d: Buffer) => (text += d.toString()));
        const lines = async (n: number) => {
          const deadline = Date.now() + 20_000;
          while ((text.match(/\r\n/g) ?? []).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        };
        await lines(1);
        socket.write(`USER ${USER}\r\nPASS ${secret}\r\n`);
        await lines(3);
        socket.destroy();
        assert.match(text.split("\r\n")[2]!, /^-ERR \[AUTH\]/, text);
      }

      const listed = await admin(["app-password", "list", USER]);
      assert.match(listed, /^laptop {2}protocols=imap,pop3,smtp,managesieve {2}created=\S+ {2}last-used=\S+ from 127\.0\.0\.1$/m);
      assert.match(listed, /^phone {2}protocols=imap,smtp {2}created=\S+ {2}last-used=\S+ from 127\.0\.0\.1$/m);
      assert.doesNotMatch(listed, new RegExp(secret));

      // App passwords only: the main password fails on IMAP, the app password does not.
      // Turning it on also ends the open session that logged in with the main password.
      const only = await admin(["user", "app-passwords-only", USER, "on"]);
      assert.match(only, /app passwords only on; 1 open session with the main password ended/);
      assert.ok(await byMain.client.closedWithin(10_000), "the main-password session ended");
      const refused = await imapLogin(imapPort, MAIN);
      assert.equal(refused.ok, false, refused.reply);
      refused.client.socket.destroy();
      const stillOk = await imapLogin(imapPort, other);
      assert.ok(stillOk.ok, stillOk.reply);
      stillOk.client.socket.destroy();
      await admin(["user", "app-passwords-only", USER, "off"]);

      // Revoking "phone" ends its two IMAP sessions at once; the laptop session goes on. A SCRAM
      // exchange with it that got server-first before the revoke fails at client-final.
      const open = await imapScramStarted(imapPort, secret);
      const revoked = await admin(["app-password", "revoke", USER, "phone"]);
      assert.equal(await open.finish(), false, "a SCRAM exchange begun before the revoke must not log in after it");
      open.client.socket.destroy();
      assert.match(revoked, /revoked phone; 2 open sessions ended/);
      assert.ok(await byLogin.client.closedWithin(10_000), "the LOGIN session with the revoked app password ended");
      assert.ok(await byScram.client.closedWithin(10_000), "the SCRAM session with the revoked app password ended");
      for (const survivor of [byOther.client]) {
        survivor.take();
        assert.match(await survivor.command("n", "NOOP"), /^n OK/m);
        survivor.socket.destroy();
      }
      const again = await imapLogin(imapPort, secret);
      assert.equal(again.ok, false);
      again.client.socket.destroy();
      assert.equal((await imapScram(imapPort, secret)).ok, false);
    } finally {
      assert.equal(await server.stop(), 0, server.logs());
    }
  } finally {
    await s.cleanup();
  }
});
