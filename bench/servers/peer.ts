// The classic stack under test: Postfix receiving SMTP and delivering over LMTP to Dovecot, which
// serves IMAP and POP3 from Maildir. Both live in one throw-away directory; their process trees
// together are the peer's memory.
import { chmod, mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { startDovecot, type DovecotInstance } from "./dovecot.js";
import { raiseInotifyInstances } from "./kernel-limits.js";
import { startPostfix, type PostfixInstance } from "./postfix.js";
import { BENCH_DOMAIN, BENCH_PASSWORD, type Account, type Target } from "./target.js";

export async function startPeer(dir: string, localParts: readonly string[], maxConnections: number): Promise<Target & { versions: string; notes: string[] }> {
  // Postfix and Dovecot drop to their own users, which must be able to traverse this directory.
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const inotify = await raiseInotifyInstances(maxConnections + 1000);
  let dovecot: DovecotInstance;
  let postfix: PostfixInstance;
  try {
    dovecot = await startDovecot(join(dir, "dovecot"), localParts, maxConnections);
  } catch (err) {
    await inotify.restore();
    throw err;
  }
  try {
    postfix = await startPostfix(join(dir, "postfix"), localParts.map((l) => `${l}@${BENCH_DOMAIN}`), dovecot.lmtp);
  } catch (err) {
    await dovecot.stop();
    await inotify.restore();
    throw err;
  }
  const maildirOf = (local: string): string => join(dir, "dovecot", "mail", local, "Maildir");
  return {
    role: "peer",
    label: "Dovecot+Postfix",
    versions: `Dovecot ${dovecot.version}, Postfix ${postfix.version}`,
    notes: [inotify.note],
    endpoints: { smtp: postfix.smtp, imap: dovecot.imap, pop3: dovecot.pop3 },
    unavailable: {},
    account: (local): Account => ({ address: `${local}@${BENCH_DOMAIN}`, password: BENCH_PASSWORD }),
    rootPids: () => [dovecot.pid, postfix.pid()].filter((pid): pid is number => pid !== null),
    prefilled: new Map(),
    // Dovecot's mail processes run as nobody when we are root (dovecot.ts mailUser).
    maildir: (local) => ({ path: maildirOf(local), owner: process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : null }),
    async indexBytes(local) {
      let total = 0;
      for (const name of await readdir(maildirOf(local))) {
        if (name === "cur" || name === "new" || name === "tmp") continue;
        total += (await stat(join(maildirOf(local), name))).size;
      }
      return total;
    },
    async stop() {
      await postfix.stop();
      await dovecot.stop();
      await inotify.restore();
    },
  };
}
