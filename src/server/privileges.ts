// Started as root, the server binds its ports (25, 110, 143, ... need root or
// CAP_NET_BIND_SERVICE) and then runs as an unprivileged user, server.user ("mailroom" unless
// set). Decisions:
// - The user is created by `serve` itself when missing (useradd --system, one log line saying
//   so), because Mailroom has no installer; under the shipped systemd units /etc is read-only
//   and contrib/mailroom.sysusers creates it instead (README).
// - The data directory (and a DKIM key directory outside it) is owned by that user. Files the
//   start creates as root (database, WAL, generated certificate, lock) are handed over right after
//   the last port is bound, in one synchronous pass, so no session or worker runs in between.
// - The drop is setgid, initgroups (supplementary groups such as ssl-cert, to read keys on
//   reload), then setuid: real, effective and saved ids all change, so root cannot be regained.
//   A process still at uid 0 after it, or a server.user that is root, stops the start.
// - Started as another user, nothing changes: that user is the server's (the unprivileged
//   systemd unit binds the low ports with AmbientCapabilities=CAP_NET_BIND_SERVICE).
import { execFileSync } from "node:child_process";
import { accessSync, chownSync, constants, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config/index.js";
import type { Logger } from "../observability/log.js";

export const DEFAULT_SERVER_USER = "mailroom";

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

/** What the operating system gives this module; tests of the decisions pass their own. */
export interface PrivilegeSystem {
  isRoot(): boolean;
  /** The passwd entry of a user, or null when there is none (getent, so NSS sources count). */
  lookupUser(name: string): SystemUser | null;
  createUser(name: string, home: string): void;
  /** setgid, initgroups, setuid. */
  switchTo(user: SystemUser): void;
  currentUid(): number;
}

export const realSystem: PrivilegeSystem = {
  isRoot: () => process.getuid?.() === 0,
  lookupUser(name) {
    let line: string;
    try {
      line = execFileSync("getent", ["passwd", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return null;
    }
    const [user, , uid, gid] = line.split(":");
    if (user === undefined || uid === undefined || gid === undefined) return null;
    return { name: user, uid: Number(uid), gid: Number(gid) };
  },
  createUser(name, home) {
    execFileSync("useradd", ["--system", "--user-group", "--home-dir", home, "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment", "Mailroom mail server", name], { stdio: ["ignore", "ignore", "pipe"] });
  },
  switchTo(user) {
    const posix = process as NodeJS.Process & { initgroups?: (user: string, extraGroup: number) => void };
    if (!posix.setgid || !posix.setuid || !posix.initgroups) throw new PrivilegeError("this platform cannot change the process's user");
    posix.setgid(user.gid);
    posix.initgroups(user.name, user.gid);
    posix.setuid(user.uid);
  },
  currentUid: () => process.getuid?.() ?? -1,
};

export class PrivilegeError extends Error {
  override readonly name = "PrivilegeError";
}

/** Hooks for startServer: nothing when not root; else the hand-over and the drop after binding. */
export interface PrivilegePlan {
  /** The user the server will run as, or null when it keeps the user it was started as. */
  readonly user: SystemUser | null;
  /** Called once every port is bound, before anything else runs. */
  afterBind(): void;
}

/**
 * Before the start: when root, finds (or creates) server.user and makes the data directory
 * exist. The returned plan's afterBind() chowns what the start created and drops to the user.
 */
export function planPrivilegeDrop(config: Config, log: Logger, system: PrivilegeSystem = realSystem): PrivilegePlan {
  const wanted = config.server.user;
  if (!system.isRoot()) {
    if (wanted !== null) log.info("privileges.unchanged", { reason: "not started as root", user: wanted, uid: system.currentUid() });
    return { user: null, afterBind: () => {} };
  }
  const name = wanted ?? DEFAULT_SERVER_USER;
  let user = system.lookupUser(name);
  if (user === null) {
    try {
      system.createUser(name, config.server.dataDir);
    } catch (error) {
      // Another process may have created it meanwhile (two starts at once): then it is there now.
      if (system.lookupUser(name) === null) {
        const detail = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
        throw new PrivilegeError(`server.user: user "${name}" does not exist and could not be created (${detail}); create it (README: running as a service) or set server.user`);
      }
    }
    user = system.lookupUser(name);
    if (user === null) throw new PrivilegeError(`server.user: user "${name}" was created but cannot be found`);
    log.warn("privileges.user_created", { user: name, uid: user.uid, gid: user.gid, home: config.server.dataDir });
  }
  if (user.uid === 0) throw new PrivilegeError(`server.user: "${name}" is root (uid 0); the server does not keep running as root: name an unprivileged user`);
  const found = user;
  const owned = ownedDirectories(config);
  // The hand-over chowns the whole tree: a data_dir pointing at a system directory would give it away.
  const shared = owned.find((dir) => SYSTEM_DIRECTORIES.has(resolve(dir)));
  if (shared !== undefined) throw new PrivilegeError(`server.data_dir: ${shared} is a system directory; the server would hand all of it to user "${name}": use a directory of its own, e.g. /var/lib/mailroom`);
  for (const dir of owned) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    user: found,
    afterBind() {
      let changed = 0;
      for (const dir of owned) changed += chownTree(dir, found.uid, found.gid);
      system.switchTo(found);
      if (system.currentUid() === 0) throw new PrivilegeError("still running as root after the privilege drop; stopping");
      // Open files keep working, but every new message file needs the path: a parent closed to
      // the user (a data dir under /root, a 0700 temp dir) would fail each delivery later.
      for (const dir of owned) {
        try {
          accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
        } catch {
          throw new PrivilegeError(`server.data_dir: user "${found.name}" cannot reach ${dir} (a parent directory is closed to it); use a directory it can reach, e.g. /var/lib/mailroom`);
        }
      }
      log.info("privileges.dropped", { user: found.name, uid: found.uid, gid: found.gid, chowned: changed });
      warnUnreadable(config, log);
    },
  };
}

const SYSTEM_DIRECTORIES = new Set(["/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/spool", "/var/mail", "/var/tmp"]);

/** The directories the server writes: the data directory, and a DKIM key directory set outside it. */
function ownedDirectories(config: Config): string[] {
  const dirs = [config.server.dataDir];
  const dkim = config.outbound.dkimKeyDir;
  if (dkim !== null && !dkim.startsWith(config.server.dataDir + "/")) dirs.push(dkim);
  return dirs;
}

/** chown of every entry not yet owned by uid:gid (symbolic links themselves, never followed); returns how many changed. */
export function chownTree(root: string, uid: number, gid: number): number {
  let changed = 0;
  const visit = (path: string): void => {
    const stat = lstatSync(path);
    if (stat.uid !== uid || stat.gid !== gid) {
      if (stat.isSymbolicLink()) return;
      chownSync(path, uid, gid);
      changed++;
    }
    if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
  };
  visit(root);
  return changed;
}

/** Certificate files are the operator's: read at start as root, but a SIGHUP reload reads them as the user. */
function warnUnreadable(config: Config, log: Logger): void {
  for (const [key, file] of [["tls.cert_file", config.tls.certFile], ["tls.key_file", config.tls.keyFile]] as const) {
    if (file === null) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      log.warn("privileges.unreadable_after_drop", { key, file, hint: "a reload (SIGHUP) will fail: give the server user read access, e.g. through the ssl-cert group" });
    }
  }
}

/**
 * Admin commands (`mailroom user add`, `domain add`, ...) run as root would leave root-owned files
 * (DKIM keys, database journals) the server cannot read: when root, and the data directory is
 * already the server user's, they switch to that user first. Otherwise nothing changes.
 */
export function adminRunsAsServerUser(config: Config, system: PrivilegeSystem = realSystem): void {
  if (!system.isRoot()) return;
  const user = system.lookupUser(config.server.user ?? DEFAULT_SERVER_USER);
  if (user === null || user.uid === 0) return;
  let owner: number;
  try {
    owner = lstatSync(config.server.dataDir).uid;
  } catch {
    return;
  }
  if (owner === user.uid) system.switchTo(user);
}
