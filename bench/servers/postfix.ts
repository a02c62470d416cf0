// Postfix under test, as a separate instance in the throw-away directory: its own
// config_directory (main.cf and master.cf written here, nothing read from /etc/postfix),
// queue_directory and data_directory, smtpd on one 127.0.0.1 high port, and every accepted
// message handed to Dovecot over LMTP (virtual_transport). Postfix fsyncs its queue file before it
// answers 250, which is its default. Started with `postfix -c <dir> start`, stopped with `stop`.
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Endpoint } from "../lib/wire.js";
import { isAlive, runChecked, stopTree } from "./child-process.js";
import { BENCH_DOMAIN, freePort, waitForPort } from "./target.js";

export const POSTFIX_BIN = "/usr/sbin/postfix";

export interface PostfixInstance {
  smtp: Endpoint;
  pid(): number | null;
  version: string;
  stop(): Promise<void>;
}

function mainCf(dir: string, lmtp: Endpoint): string {
  return `# Written by the benchmark (bench/servers/postfix.ts); thrown away after the run.
compatibility_level = 3.6
config_directory = ${dir}/etc
queue_directory = ${dir}/queue
data_directory = ${dir}/data
maillog_file_prefixes = ${dir}
maillog_file = ${dir}/postfix.log
mail_owner = postfix
setgid_group = postdrop
myhostname = peer.bench.invalid
mydomain = bench.invalid
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtputf8_enable = yes
message_size_limit = 52428800
biff = no
append_dot_mydomain = no
# The domain's accounts are Dovecot's; Postfix knows the addresses to refuse unknown ones at RCPT.
virtual_mailbox_domains = ${BENCH_DOMAIN}
virtual_mailbox_maps = texthash:${dir}/etc/virtual_mailboxes
virtual_transport = lmtp:inet:${lmtp.host}:${lmtp.port}
`;
}

function masterCf(smtp: Endpoint): string {
  // service type private unpriv chroot wakeup maxproc command (master(5)); no chroot: the
  // instance lives outside /var/spool/postfix.
  return `# Written by the benchmark (bench/servers/postfix.ts).
${smtp.host}:${smtp.port} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
`;
}

export async function startPostfix(dir: string, addresses: readonly string[], lmtp: Endpoint): Promise<PostfixInstance> {
  const etc = join(dir, "etc");
  await mkdir(etc, { recursive: true });
  const smtp: Endpoint = { host: "127.0.0.1", port: await freePort() };
  await writeFile(join(etc, "main.cf"), mainCf(dir, lmtp));
  await writeFile(join(etc, "master.cf"), masterCf(smtp));
  await writeFile(join(etc, "virtual_mailboxes"), addresses.map((a) => `${a} OK`).join("\n") + "\n");
  const version = runChecked("/usr/sbin/postconf", ["-c", etc, "-h", "mail_version"]).trim();
  // set-permissions creates the queue's subdirectories with Postfix's owners and modes.
  await mkdir(join(dir, "queue"), { recursive: true });
  await mkdir(join(dir, "data"), { recursive: true });
  // postfix(1) writes its errors to the log file (stderr only on a terminal): quote its tail.
  const postfix = async (verb: string): Promise<void> => {
    try {
      runChecked(POSTFIX_BIN, ["-c", etc, verb], { timeoutMs: 60_000 });
    } catch (err) {
      const log = await readFile(join(dir, "postfix.log"), "utf8").catch(() => "");
      throw new Error(`${(err as Error).message} ${log.trim().split("\n").slice(-3).join(" | ")}`);
    }
  };
  await postfix("set-permissions");
  await postfix("start");
  const pidFile = join(dir, "queue", "pid", "master.pid");
  const readPid = async (): Promise<number | null> => {
    if (!existsSync(pidFile)) return null;
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
  };
  let masterPid: number | null = null;
  const instance: PostfixInstance = {
    smtp,
    version,
    pid: () => (masterPid !== null && isAlive(masterPid) ? masterPid : null),
    async stop() {
      try {
        await postfix("stop");
      } catch {
        // fall through to the signal below
      }
      if (masterPid !== null) await stopTree(masterPid, 10_000);
    },
  };
  try {
    await waitForPort(smtp, 30_000);
    for (let i = 0; i < 50 && masterPid === null; i++) {
      masterPid = await readPid();
      if (masterPid === null) await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await instance.stop();
    throw new Error(`Postfix did not start (see ${dir}/postfix.log): ${(err as Error).message}`);
  }
  return instance;
}
