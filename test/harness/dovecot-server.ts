// A throw-away Dovecot (Debian's dovecot-imapd and dovecot-pop3d) for the migration tests: the
// "old server" `mailroom migrate` copies from. Its own config, base_dir and state under a temp
// directory (nothing in /etc/dovecot is read), IMAP, IMAPS, POP3 and POP3S on free 127.0.0.1
// ports, TLS with a test certificate (test/harness/certificates.ts), users from a passwd-file,
// mail in Maildir++ under each user's home so a test can fill it directly (writing files is far
// quicker than thousands of APPENDs) or through IMAP.
import { spawn } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "../../bench/servers/target.js";
import { makeCertificate, type TestCertificate } from "./certificates.js";

export interface DovecotServer {
  dir: string;
  ports: { imap: number; imaps: number; pop3: number; pop3s: number };
  certificate: TestCertificate;
  /** The Maildir root of a user (created on addUser). */
  maildir(user: string): string;
  /** uid/gid the mail files must belong to. */
  owner: { uid: number; gid: number };
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts Dovecot with the given users (name -> password). Throws with the log's path if it does not come up. */
export async function startDovecot(users: Record<string, string>): Promise<DovecotServer> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-dovecot-"));
  const me = userInfo();
  // As root, mail processes run as nobody and the internal/login processes as Dovecot's own users
  // (Debian creates "dovecot" and "dovenull"); as anyone else, everything runs as that user.
  const owner = me.uid === 0 ? { uid: 65534, gid: 65534 } : { uid: me.uid, gid: me.gid };
  const internal = me.uid === 0 ? "dovecot" : me.username;
  const login = me.uid === 0 ? "dovenull" : me.username;
  await chmod(dir, 0o755);
  const certificate = await makeCertificate(dir, "dovecot", { hostname: "localhost", notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 30 * 86_400_000) });
  await chmod(certificate.keyFile, 0o644);
  const homes = join(dir, "home");
  await mkdir(homes);
  await chown(homes, owner.uid, owner.gid);
  const passwd: string[] = [];
  for (const [user, password] of Object.entries(users)) {
    const home = join(homes, user);
    await mkdir(join(home, "Maildir"), { recursive: true });
    await chown(home, owner.uid, owner.gid);
    await chown(join(home, "Maildir"), owner.uid, owner.gid);
    passwd.push(`${user}:{PLAIN}${password}:${owner.uid}:${owner.gid}::${home}::`);
  }
  await writeFile(join(dir, "users"), passwd.join("\n") + "\n");
  await chmod(join(dir, "users"), 0o644);
  const ports = { imap: await freePort(), imaps: await freePort(), pop3: await freePort(), pop3s: await freePort() };
  const conf = join(dir, "dovecot.conf");
  await writeFile(
    conf,
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `instance_name = mailroom-migrate-${ports.imap}`,
      "protocols = imap pop3",
      "listen = 127.0.0.1",
      `log_path = ${dir}/dovecot.log`,
      "ssl = yes",
      `ssl_cert = <${certificate.certFile}`,
      `ssl_key = <${certificate.keyFile}`,
      "disable_plaintext_auth = no",
      "auth_mechanisms = plain login",
      `default_internal_user = ${internal}`,
      `default_login_user = ${login}`,
      "first_valid_uid = 1",
      "first_valid_gid = 1",
      "mail_location = maildir:~/Maildir",
      "pop3_uidl_format = %08Xu%08Xv",
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${dir}/users\n}`,
      `userdb {\n  driver = passwd-file\n  args = ${dir}/users\n}`,
      "namespace inbox {\n  inbox = yes\n  separator = /\n  mailbox Sent {\n    special_use = \\Sent\n  }\n  mailbox \"Sent Messages\" {\n    special_use = \\Sent\n  }\n  mailbox Papierkorb {\n    special_use = \\Trash\n  }\n  mailbox Entwürfe {\n    special_use = \\Drafts\n  }\n}",
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${ports.imap}\n  }\n  inet_listener imaps {\n    address = 127.0.0.1\n    port = ${ports.imaps}\n    ssl = yes\n  }\n}`,
      `service pop3-login {\n  inet_listener pop3 {\n    address = 127.0.0.1\n    port = ${ports.pop3}\n  }\n  inet_listener pop3s {\n    address = 127.0.0.1\n    port = ${ports.pop3s}\n    ssl = yes\n  }\n}`,
      "service anvil {\n  chroot =\n}",
      "",
    ].join("\n"),
  );
  const child = spawn("/usr/sbin/dovecot", ["-F", "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  let exited = false;
  child.on("exit", () => (exited = true));
  const stop = async (): Promise<void> => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of Object.values(ports)) await waitForPort({ host: "127.0.0.1", port }, 30_000, () => !exited);
  } catch (error) {
    const log = await readFile(join(dir, "dovecot.log"), "utf8").catch(() => "");
    await stop();
    throw new Error(`Dovecot did not start: ${(error as Error).message}\n${stderr}\n${log}`);
  }
  return {
    dir,
    ports,
    certificate,
    owner,
    maildir: (user) => join(homes, user, "Maildir"),
    log: () => readFile(join(dir, "dovecot.log"), "utf8").catch(() => ""),
    stop,
  };
}
