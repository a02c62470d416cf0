// Dovecot under test, configured from scratch in the throw-away directory (no /etc/dovecot file is
// read): IMAP, POP3 and LMTP on 127.0.0.1 high ports, its own base_dir and state_dir, a
// passwd-file holding the same accounts as Mailroom with the same Argon2id parameters, Maildir
// under the directory, and mail_fsync = always (Mailroom fsyncs before every reply that promises
// durability). Limits are raised so 10,000 IDLE connections from one IP and one user can exist.
// Run in the foreground (-F) as our child, so stopping it is one SIGTERM.
import { spawnSync, type ChildProcess } from "node:child_process";
import { chmod, chown, mkdir, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { hashPassword } from "../../src/auth/index.js";
import type { Endpoint } from "../lib/wire.js";
import { isAlive, spawnLogged, stopTree } from "./child-process.js";
import { BENCH_DOMAIN, BENCH_PASSWORD, freePort, waitForPort } from "./target.js";

export const DOVECOT_BIN = "/usr/sbin/dovecot";

export interface DovecotInstance {
  imap: Endpoint;
  pop3: Endpoint;
  lmtp: Endpoint;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

interface MailUser {
  uid: number;
  gid: number;
  /** Dovecot's own unprivileged users when we are root; ourselves otherwise. */
  internalUser: string;
  loginUser: string;
}

function mailUser(): MailUser {
  const me = userInfo();
  if (me.uid === 0) return { uid: 65534, gid: 65534, internalUser: "dovecot", loginUser: "dovenull" };
  return { uid: me.uid, gid: me.gid, internalUser: me.username, loginUser: me.username };
}

function dovecotConf(dir: string, ports: { imap: number; pop3: number; lmtp: number }, user: MailUser, maxConnections: number): string {
  return `# Written by the benchmark (bench/servers/dovecot.ts); thrown away after the run.
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = mailroom-bench
protocols = imap pop3 lmtp
listen = 127.0.0.1
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = ${user.internalUser}
default_login_user = ${user.loginUser}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = always
mail_max_userip_connections = ${maxConnections}
default_client_limit = ${maxConnections}
default_vsz_limit = 1G
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = passwd-file
  args = ${dir}/users
}
namespace inbox {
  inbox = yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = 0
  }
  # Dovecot's documented high-performance mode: login processes serve many clients each.
  service_count = 0
  process_min_avail = 2
  client_limit = ${maxConnections}
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${ports.pop3}
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap {
  process_limit = ${maxConnections}
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${ports.lmtp}
  }
}
service anvil {
  client_limit = ${maxConnections + 100}
}
service log {
  client_limit = ${maxConnections + 100}
}
service auth {
  client_limit = ${maxConnections + 500}
}
service stats {
  client_limit = ${maxConnections + 100}
}
protocol lmtp {
  postmaster_address = postmaster@${BENCH_DOMAIN}
}
`;
}

export async function startDovecot(dir: string, localParts: readonly string[], maxConnections: number): Promise<DovecotInstance> {
  await mkdir(join(dir, "mail"), { recursive: true });
  const user = mailUser();
  // Mail processes run as the mail uid and must reach their homes below this directory.
  await chmod(dir, 0o755);
  await chown(join(dir, "mail"), user.uid, user.gid);
  const ports = { imap: await freePort(), pop3: await freePort(), lmtp: await freePort() };
  const params = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
  const lines: string[] = [];
  for (const local of localParts) {
    const hash = await hashPassword(BENCH_PASSWORD, { params });
    lines.push(`${local}@${BENCH_DOMAIN}:{ARGON2ID}${hash}:${user.uid}:${user.gid}::${dir}/mail/${local}::`);
  }
  await writeFile(join(dir, "users"), lines.join("\n") + "\n", { mode: 0o644 });
  const conf = join(dir, "dovecot.conf");
  await writeFile(conf, dovecotConf(dir, ports, user, maxConnections));
  const version = spawnSync(DOVECOT_BIN, ["--version"], { encoding: "utf8" }).stdout.trim();
  const child: ChildProcess = spawnLogged(DOVECOT_BIN, ["-F", "-c", conf], join(dir, "dovecot.stdout.log"));
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start Dovecot");
  const host = "127.0.0.1";
  const instance: DovecotInstance = {
    imap: { host, port: ports.imap },
    pop3: { host, port: ports.pop3 },
    lmtp: { host, port: ports.lmtp },
    pid,
    version,
    stop: () => stopTree(pid, 15_000),
  };
  try {
    for (const endpoint of [instance.imap, instance.pop3, instance.lmtp]) await waitForPort(endpoint, 30_000, () => isAlive(pid));
  } catch (err) {
    await instance.stop();
    throw new Error(`Dovecot did not start (see ${dir}/dovecot.log): ${(err as Error).message}`);
  }
  return instance;
}
