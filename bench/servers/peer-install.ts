// Installs the peers from Debian when they are missing: dovecot-imapd, dovecot-pop3d,
// dovecot-lmtpd and postfix, non-interactively. Postfix's debconf question is answered with
// "No configuration" so it writes no /etc/postfix/main.cf, and while the packages install a
// policy-rc.d that refuses every service start keeps them off the standard ports; the bench runs
// its own instances instead. Needs root (apt-get); without it, the reason is returned.
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { runChecked } from "./child-process.js";
import { DOVECOT_BIN } from "./dovecot.js";
import { POSTFIX_BIN } from "./postfix.js";

const PACKAGES = ["dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd", "postfix"];
const REQUIRED = [DOVECOT_BIN, POSTFIX_BIN, "/usr/lib/dovecot/imap", "/usr/lib/dovecot/pop3", "/usr/lib/dovecot/lmtp"];
const POLICY_RC_D = "/usr/sbin/policy-rc.d";

export const peersInstalled = (): boolean => REQUIRED.every((path) => existsSync(path));

/** Returns null when the peers are ready, or why they are not. */
export async function ensurePeersInstalled(allowInstall: boolean, say: (line: string) => void): Promise<string | null> {
  if (peersInstalled()) return null;
  const missing = `Dovecot/Postfix are not installed (apt-get install ${PACKAGES.join(" ")})`;
  if (!allowInstall) return `${missing}; --no-install given`;
  if (userInfo().uid !== 0) return `${missing}; run the bench as root to let it install them, or install them yourself`;
  if (!existsSync("/usr/bin/apt-get")) return `${missing}; this machine has no apt-get`;
  say(`installing ${PACKAGES.join(", ")} with apt-get (services kept stopped) ...`);
  const ownPolicy = !existsSync(POLICY_RC_D);
  try {
    if (ownPolicy) await writeFile(POLICY_RC_D, "#!/bin/sh\n# temporary, from Mailroom's bench: no service starts during install\nexit 101\n", { mode: 0o755 });
    runChecked("debconf-set-selections", [], { input: "postfix postfix/main_mailer_type select No configuration\n" });
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    runChecked("apt-get", ["update", "-q"], { env, timeoutMs: 600_000 });
    runChecked("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...PACKAGES], { env, timeoutMs: 900_000 });
  } catch (err) {
    return `${missing}; apt-get failed: ${(err as Error).message.slice(0, 300)}`;
  } finally {
    if (ownPolicy) await rm(POLICY_RC_D, { force: true });
  }
  return peersInstalled() ? null : `${missing}; still missing after apt-get`;
}
