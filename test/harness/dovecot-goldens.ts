// Regenerates test/fixtures/bodystructure/dovecot/: the FETCH BODYSTRUCTURE, BODY and ENVELOPE
// of every message in test/fixtures/messages/ as a real Dovecot answers them, so that our
// renderer is compared with a second implementation instead of with itself.
//
//   node scripts/dovecot-goldens.mjs        (needs Debian's dovecot-imapd; run as root or a user
//                                            Dovecot may run mail processes as)
//
// It starts a throw-away Dovecot (IMAP only) on a free 127.0.0.1 port with its own config,
// base_dir and Maildir under a temp directory (no /etc/dovecot is read), APPENDs each message
// unchanged as IMAP4rev1 (no ENABLE), fetches the three items and keeps Dovecot's `* 1 FETCH`
// response byte for byte in <message>.fetch, then stops Dovecot and removes the directory.
import { spawn, spawnSync } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "../../bench/servers/target.js";
import { findRepositoryRoot, messageFixturesDir } from "./fixtures.js";
import { RawImapClient } from "./imap-raw-client.js";

export const DOVECOT_GOLDEN_ITEMS = "(BODYSTRUCTURE BODY ENVELOPE)";

export function dovecotGoldenDir(fromUrl: string): string {
  return join(findRepositoryRoot(fromUrl), "test", "fixtures", "bodystructure", "dovecot");
}

const PASSWORD = "goldens-password";

/** Dovecot in the foreground (-F) as our child: IMAP on `port`, one static user, Maildir in `dir`. */
async function startDovecot(dir: string): Promise<{ port: number; version: string; stop(): Promise<void> }> {
  const me = userInfo();
  // As root, mail processes run as nobody and login/internal processes as Dovecot's own users.
  const user = me.uid === 0 ? { uid: 65534, gid: 65534, internal: "dovecot", login: "dovenull" } : { uid: me.uid, gid: me.gid, internal: me.username, login: me.username };
  await chmod(dir, 0o755);
  await mkdir(join(dir, "home"));
  await chown(join(dir, "home"), user.uid, user.gid);
  const port = await freePort();
  const conf = join(dir, "dovecot.conf");
  await writeFile(
    conf,
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      "instance_name = mailroom-goldens",
      "protocols = imap",
      "listen = 127.0.0.1",
      `log_path = ${dir}/dovecot.log`,
      "ssl = no",
      "disable_plaintext_auth = no",
      "auth_mechanisms = plain",
      `default_internal_user = ${user.internal}`,
      `default_login_user = ${user.login}`,
      "first_valid_uid = 1",
      "mail_location = maildir:~/Maildir",
      `passdb {\n  driver = static\n  args = password=${PASSWORD}\n}`,
      `userdb {\n  driver = static\n  args = uid=${user.uid} gid=${user.gid} home=${dir}/home/%u\n}`,
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}`,
      "",
    ].join("\n"),
  );
  const version = spawnSync("/usr/sbin/dovecot", ["--version"], { encoding: "utf8" }).stdout.trim();
  const child = spawn("/usr/sbin/dovecot", ["-F", "-c", conf], { stdio: "ignore" });
  let exited = false;
  child.on("exit", () => (exited = true));
  const stop = async (): Promise<void> => {
    if (exited) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await gone;
  };
  try {
    await waitForPort({ host: "127.0.0.1", port }, 30_000, () => !exited);
  } catch (error) {
    await stop();
    throw new Error(`Dovecot did not start (see ${dir}/dovecot.log): ${(error as Error).message}`);
  }
  return { port, version, stop };
}

export async function regenerateDovecotGoldens(): Promise<void> {
  const out = dovecotGoldenDir(import.meta.url);
  const dir = await mkdtemp(join(tmpdir(), "mailroom-dovecot-goldens-"));
  const dovecot = await startDovecot(dir);
  try {
    const names = (await readdir(messageFixturesDir(import.meta.url))).filter((n) => n.endsWith(".eml")).sort();
    for (const [index, name] of names.entries()) {
      const message = await readFile(join(messageFixturesDir(import.meta.url), name));
      const client = await RawImapClient.open(dovecot.port);
      try {
        client.take();
        const login = await client.command("l", `LOGIN goldens ${PASSWORD}`);
        if (!/^l OK/m.test(login)) throw new Error(`login: ${login}`);
        client.send(`a APPEND INBOX {${message.length}}\r\n`);
        const go = await client.nextLine();
        if (!go.startsWith("+")) throw new Error(`APPEND ${name}: ${go}`);
        client.send(Buffer.concat([message, Buffer.from("\r\n")]));
        await client.until((t) => /(^|\r\n)a (OK|NO|BAD)[^\r\n]*\r\n/.test(t));
        const appended = client.take();
        if (!/^a OK/m.test(appended)) throw new Error(`APPEND ${name}: ${appended}`);
        await client.command("s", "SELECT INBOX");
        const fetched = await client.command("f", `FETCH ${index + 1} ${DOVECOT_GOLDEN_ITEMS}`);
        const end = fetched.lastIndexOf("\r\nf OK");
        if (end < 0) throw new Error(`FETCH ${name}: ${fetched}`);
        // RawImapClient reads latin1: writing latin1 gives back Dovecot's octets exactly.
        await writeFile(join(out, `${name}.fetch`), Buffer.from(fetched.slice(0, end + 2), "latin1"));
        console.log(`${name}: ${end + 2} octets`);
      } finally {
        client.close();
      }
    }
    await writeFile(join(out, "VERSION"), `${dovecot.version}\n`);
    console.log(`Dovecot ${dovecot.version}: ${names.length} messages -> ${out}`);
  } finally {
    await dovecot.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
