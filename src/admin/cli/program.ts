// `mailroom <noun> <verb>`: the command-line adapter over admin/operations. It parses arguments,
// calls one operation, prints the result, and maps failures to exit codes. No rule lives here.
// Where the operation runs (inside the running server, or in this process when none runs) is the
// environment's choice (openAdmin): the commands read the same either way.
import { Command, CommanderError, InvalidArgumentError } from "commander";
import type { Pop3Mode } from "../../store/index.js";
import { AdminError, type AdminOperations, type AccountView } from "../operations/index.js";
import { readPassword, type PasswordSource } from "./password-input.js";
import { addOutboundCommands } from "./outbound-commands.js";
import { addStoreCommands, progressPrinter } from "./store-commands.js";
import { addIndexCommands } from "./index-commands.js";
import { addImportCommands } from "./import-commands.js";
import { addTransferCommands } from "./transfer-commands.js";
import { addShareCommands } from "./share-commands.js";
import { addSieveCommands } from "./sieve-commands.js";
import { addAuthCommands } from "./auth-commands.js";
import { addBackupCommands, type BackupReaders } from "./backup-commands.js";
import { addAdminCommands } from "./admin-commands.js";

/** Exit codes, documented in the README. */
export const ExitCode = { ok: 0, failed: 1, usage: 2, config: 78 } as const;

export interface CliEnvironment extends PasswordSource {
  stdout: NodeJS.WritableStream;
  /**
   * Opens the store for administration, naming the command (`user add`) for whoever finds the
   * data dir busy; the CLI closes it when the command is done.
   */
  openAdmin(options: GlobalOptions, command: string): Promise<{ operations: AdminOperations; close(): Promise<void> }>;
  /** Runs the server until it is stopped. */
  serve(options: GlobalOptions): Promise<void>;
  /** Asks the running server how it is doing; throws when none runs on the data dir. */
  serverStatus(options: GlobalOptions, reset: boolean): Promise<ServerStatus>;
  /** Loads and validates the configuration, returning a one-paragraph summary; throws with a one-line message. */
  checkConfig(options: GlobalOptions): Promise<string>;
  renderDefaultConfig(): string;
  /** Parses "10G", "500M" or bytes; throws with a message on anything else. */
  parseSize(text: string): number;
  /** `mailroom store migrate`: brings the configured store's schema up to date; one line per fact. */
  migrateStore?(options: GlobalOptions): Promise<string[]>;
  /** `mailroom store copy`: an embedded store into an empty PostgreSQL database or back, verified; progress as store check's. */
  copyStore?(
    options: GlobalOptions,
    copy: { from: string; to: string; passwordEnv?: string; passwordFile?: string },
    onProgress: (progress: { phase: "accounts" | "messages" | "verify"; done: number; total: number | null }) => void,
  ): Promise<string[]>;
  /** `mailroom backup verify` and `mailroom restore`, given the global options. */
  backupReaders?(options: GlobalOptions): BackupReaders;
}

export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  /** Admin commands create a new, empty store only when asked. */
  init?: boolean;
}

export interface ServerStatus {
  pid: number;
  dataDir: string;
  uptimeSeconds: number;
  connections: number;
  eventLoop: { maxStallMs: number; p99StallMs: number };
}

export async function runCli(argv: string[], env: CliEnvironment): Promise<number> {
  const program = buildProgram(env);
  try {
    await program.parseAsync(argv, { from: "user" });
    return ExitCode.ok;
  } catch (err) {
    return reportFailure(err, env);
  }
}

function reportFailure(err: unknown, env: CliEnvironment): number {
  if (err instanceof CommanderError) {
    // Commander has already printed usage errors; --help and --version exit 0.
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (err instanceof AdminError) {
    env.stderr.write(`mailroom: ${err.message}\n`);
    return err.kind === "invalid-argument" ? ExitCode.usage : ExitCode.failed;
  }
  if (err instanceof Error && err.name === "ConfigError") {
    env.stderr.write(`${err.message}\n`);
    return ExitCode.config;
  }
  env.stderr.write(`mailroom: ${err instanceof Error ? err.message : String(err)}\n`);
  return ExitCode.failed;
}

function buildProgram(env: CliEnvironment): Command {
  const program = new Command("mailroom")
    .description("Mailroom mail server: SMTP, IMAP and POP3 over one store")
    .option("-c, --config <file>", "config file (default: $MAILROOM_CONFIG, else built-in defaults)")
    .option("-d, --data-dir <dir>", "data directory (default: $MAILROOM_DATA_DIR, else server.data_dir)")
    .option("--init", "let an admin command create a new, empty store where none exists (never needed with a running server)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => env.stdout.write(s), writeErr: (s) => env.stderr.write(s) })
    .showHelpAfterError();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const print = (line: string): void => {
    env.stdout.write(line + "\n");
  };
  // The command being run ("user add"), for the label a busy data dir shows to others.
  let running = "admin";
  program.hook("preAction", (_program, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c !== null && c !== program; c = c.parent) names.unshift(c.name());
    running = names.join(" ");
  });
  const withAdmin = async (action: (ops: AdminOperations) => Promise<void>) => {
    const admin = await env.openAdmin(globals(), running);
    try {
      await action(admin.operations);
    } finally {
      await admin.close();
    }
  };

  program.command("serve").description("run the server (what `npm start` does)").action(() => env.serve(globals()));
  program
    .command("status")
    .description("ask the running server for its PID, uptime, open connections and event-loop delay")
    .option("--reset", "start the event-loop figures afresh after reading them")
    .action(async (opts: { reset?: boolean }) => {
      const status = await env.serverStatus(globals(), opts.reset === true);
      print(`mailroom serve (pid ${status.pid}) on ${status.dataDir}: up ${status.uptimeSeconds} s, ${status.connections} connection(s)`);
      print(`event loop: longest stall ${status.eventLoop.maxStallMs} ms, 99th percentile ${status.eventLoop.p99StallMs} ms (since start or the last status --reset)`);
    });

  const config = program.command("config").description("check or print the configuration");
  config.command("check").description("validate the config file and print a summary").action(async () => print(await env.checkConfig(globals())));
  config.command("default").description("print a config file with every key at its default").action(() => {
    env.stdout.write(env.renderDefaultConfig());
  });

  const domain = program.command("domain").description("the domains this server receives mail for");
  domain.command("add <domain>").description("add a local domain").action((name: string) =>
    withAdmin(async (ops) => {
      const added = await ops.addDomain(name);
      print(`added domain ${added.name}`);
      if (added.dkimSelectors.length > 0) print(`DKIM keys: ${added.dkimSelectors.join(", ")} (publish them: mailroom dns ${added.name})`);
    }),
  );
  domain.command("list").description("list local domains").action(() =>
    withAdmin(async (ops) => (await ops.listDomains()).forEach((d) => print(d.name))),
  );
  domain.command("del <domain>").alias("delete").description("delete a domain that has no users or aliases left").action((name: string) =>
    withAdmin(async (ops) => {
      await ops.deleteDomain(name);
      print(`deleted domain ${name}`);
    }),
  );

  addUserCommands(program, env, withAdmin, print);
  addAliasCommands(program, withAdmin, print);
  addOutboundCommands(program, withAdmin, print);
  addStoreCommands(program, withAdmin, print, env.stderr);
  const migrate = env.migrateStore?.bind(env);
  if (migrate) {
    program.commands
      .find((c) => c.name() === "store")!
      .command("migrate")
      .description("create or upgrade the store's schema (PostgreSQL: safe while other nodes run or start; they wait for it)")
      .action(async () => (await migrate(globals())).forEach(print));
  }
  const copy = env.copyStore?.bind(env);
  if (copy) {
    program.commands
      .find((c) => c.name() === "store")!
      .command("copy")
      .description("copy the embedded store of a data dir into an empty PostgreSQL database, or a PostgreSQL database back into a new data dir (UIDs, flags, bytes kept), then verify counts and checksums")
      .requiredOption("--from <data-dir|url>", "the data dir holding the SQLite store (no server may run on it), or postgres://... (stop the nodes first)")
      .requiredOption("--to <url|data-dir>", "postgres://user@host:port/database (empty), or a data dir without a store")
      .option("--password-env <name>", "environment variable holding the database password")
      .option("--password-file <file>", "file whose first line is the database password")
      .action(async (opts: { from: string; to: string; passwordEnv?: string; passwordFile?: string }) => {
        const progress = progressPrinter(env.stderr, { accounts: "accounts", messages: "messages copied", verify: "messages verified" }, "done");
        const lines = await copy(globals(), opts, (p) => progress.update(p));
        progress.finish();
        lines.forEach(print);
      });
  }
  addIndexCommands(program, withAdmin, print, env.stderr);
  addImportCommands(program, withAdmin, print, env.stderr);
  addTransferCommands(program, withAdmin, print, env.stderr, env);
  addSieveCommands(program, withAdmin, print);
  addShareCommands(program, withAdmin, print);
  addAdminCommands(program, env, withAdmin, print);
  addAuthCommands(program, withAdmin, print);
  addBackupCommands(program, withAdmin, env.backupReaders ? { verify: (r, p) => env.backupReaders!(globals()).verify(r, p), restore: (r, p) => env.backupReaders!(globals()).restore(r, p) } : undefined, print, env.stderr);
  return program;
}

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

function addUserCommands(program: Command, env: CliEnvironment, withAdmin: WithAdmin, print: (line: string) => void): void {
  // Per-account limits (store/quota.ts): "default" follows config [quota], "none" (or 0) is unlimited.
  const quotaOption = (text: string): number | null => {
    if (text === "default") return null;
    if (text === "none" || text === "unlimited") return 0;
    try {
      return env.parseSize(text);
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
  };
  const messagesOption = (text: string): number | null => {
    if (text === "default") return null;
    if (text === "none" || text === "unlimited") return 0;
    if (!/^\d{1,15}$/.test(text)) throw new InvalidArgumentError('expected a number of messages, "none" or "default"');
    return Number(text);
  };
  const user = program.command("user").description("accounts: the address is also the login name");
  user
    .command("add <address>")
    .description("create an account with INBOX, Drafts, Sent, Trash, Junk and Archive; the password is prompted, or read from stdin")
    .option("-q, --quota <size>", 'storage quota, e.g. "2G", "none", or "default" ([quota] storage, the default)', quotaOption)
    .option("--messages <count>", 'message-count quota, "none", or "default" ([quota] messages, the default)', messagesOption)
    .action(async (address: string, opts: { quota?: number | null; messages?: number | null }) => {
      // Read before the store is opened: nobody waits on a data dir while a person types.
      const password = await readPassword(env, `Password for ${address}: `);
      await withAdmin(async (ops) => {
        const view = await ops.addUser({ address, password, quotaBytes: opts.quota ?? null });
        if (opts.messages !== undefined) await ops.setQuotaLimits(view.address, { messages: opts.messages });
        print(`added user ${view.address}`);
      });
    });
  user.command("passwd <address>").description("set a new password (prompted, or read from stdin)").action(async (address: string) => {
    const password = await readPassword(env, `New password for ${address}: `);
    await withAdmin(async (ops) => {
      await ops.setPassword(address, password);
      print(`password changed for ${address}`);
    });
  });
  user.command("del <address>").alias("delete").description("delete an account and all its mail; its open sessions end").action((address: string) =>
    withAdmin(async (ops) => {
      await ops.deleteUser(address);
      print(`deleted user ${address}`);
    }),
  );
  user.command("disable <address>").description("refuse the account's logins and end its open sessions; mail is still received").action((address: string) =>
    withAdmin(async (ops) => print(describeAccount(await ops.disableUser(address)))),
  );
  user.command("enable <address>").description("allow the account's logins again, with its password").action((address: string) =>
    withAdmin(async (ops) => print(describeAccount(await ops.enableUser(address)))),
  );
  user.command("show <address>").description("show one account: quota (storage, messages) and usage, POP3 policy").action((address: string) =>
    withAdmin(async (ops) => print(describeAccount(await ops.showUser(address)))),
  );
  user.command("list [domain]").description("list accounts with quota and usage").action((domain: string | undefined) =>
    withAdmin(async (ops) => (await ops.listUsers(domain)).forEach((v) => print(describeAccount(v)))),
  );
  user
    .command("quota <address> [size]")
    .description('set the account\'s quota (RFC 9208 STORAGE and MESSAGE): "5G", "500M", bytes; "none" = unlimited; "default" = config [quota]; without options, shows it')
    .option("--storage <size>", 'storage limit ("2G", "none", "default"); the same as [size]', quotaOption)
    .option("--messages <count>", 'message-count limit ("100000", "none", "default")', messagesOption)
    .action((address: string, size: string | undefined, opts: { storage?: number | null; messages?: number | null }) =>
      withAdmin(async (ops) => {
        const storage = opts.storage !== undefined ? opts.storage : size !== undefined ? quotaOption(size) : undefined;
        if (storage === undefined && opts.messages === undefined) {
          print(describeAccount(await ops.showUser(address)));
          return;
        }
        const limits = { ...(storage !== undefined ? { storageBytes: storage } : {}), ...(opts.messages !== undefined ? { messages: opts.messages } : {}) };
        print(describeAccount(await ops.setQuotaLimits(address, limits)));
      }),
    );
  user
    .command("pop3 <address>")
    .description("set the account's POP3 policy")
    .option("--mode <mode>", "keep | delete-after-retrieve", (v: string): Pop3Mode => {
      if (v !== "keep" && v !== "delete-after-retrieve") throw new InvalidArgumentError('expected "keep" or "delete-after-retrieve"');
      return v;
    })
    .option("--mark-seen <yes|no>", "whether RETR marks messages \\Seen for IMAP", (v: string): boolean => {
      if (v !== "yes" && v !== "no") throw new InvalidArgumentError('expected "yes" or "no"');
      return v === "yes";
    })
    // RFC 2449 §6.5 LOGIN-DELAY and §6.7 EXPIRE: advertised to the account's clients and enforced.
    .option("--login-delay <seconds|none>", "least time between two POP3 logins", (v: string) => wholeOrUnset(v, "none"))
    .option("--expire <days|never>", "days a retrieved message stays on the server (0: removed at QUIT)", (v: string) => wholeOrUnset(v, "never"))
    .action((address: string, opts: { mode?: Pop3Mode; markSeen?: boolean; loginDelay?: number | "unset"; expire?: number | "unset" }) =>
      withAdmin(async (ops) => {
        const policy = {
          ...(opts.mode ? { mode: opts.mode } : {}),
          ...(opts.markSeen !== undefined ? { markSeen: opts.markSeen } : {}),
          ...(opts.loginDelay !== undefined ? { loginDelaySeconds: opts.loginDelay === "unset" ? null : opts.loginDelay } : {}),
          ...(opts.expire !== undefined ? { expireDays: opts.expire === "unset" ? null : opts.expire } : {}),
        };
        print(describeAccount(await ops.setPop3Policy(address, policy)));
      }),
    );
}

function addAliasCommands(program: Command, withAdmin: WithAdmin, print: (line: string) => void): void {
  const alias = program.command("alias").description("addresses that deliver to accounts; @domain is the catch-all");
  alias.command("add <alias> <targets...>").description("deliver mail for <alias> to the target accounts").action((name: string, targets: string[]) =>
    withAdmin(async (ops) => {
      const result = await ops.addAlias(name, targets);
      print(`${result.address} -> ${result.targets.join(", ")}`);
    }),
  );
  alias.command("del <alias> [targets...]").alias("delete").description("delete an alias, or only some of its targets").action((name: string, targets: string[]) =>
    withAdmin(async (ops) => {
      await ops.deleteAlias(name, targets);
      print(targets.length ? `removed ${targets.join(", ")} from ${name}` : `deleted alias ${name}`);
    }),
  );
  alias.command("list [domain]").description("list aliases").action((domain: string | undefined) =>
    withAdmin(async (ops) => (await ops.listAliases(domain)).forEach((a) => print(`${a.address} -> ${a.targets.join(", ")}`))),
  );
}

/** A whole number, or "unset" for the word that clears the setting (commander turns a null into ""). */
function wholeOrUnset(text: string, noneWord: string): number | "unset" {
  if (text === noneWord) return "unset";
  if (!/^\d{1,9}$/.test(text)) throw new InvalidArgumentError(`expected a whole number or "${noneWord}"`);
  return Number(text);
}

function describeAccount(view: AccountView): string {
  const own = view.quotaSetting;
  const fromDefault = (value: number | null | undefined) => (own !== undefined && value === null ? " (default)" : "");
  const quota = (view.quotaBytes === null ? "unlimited" : formatBytes(view.quotaBytes)) + fromDefault(own?.storageBytes);
  const messages = `${view.usedMessages ?? 0} messages of ${view.quotaMessages == null ? "unlimited" : view.quotaMessages}${fromDefault(own?.messages)}`;
  const pop3 = [
    view.pop3.mode,
    ...(view.pop3.markSeen ? [] : ["(RETR leaves unseen)"]),
    ...(view.pop3.loginDelaySeconds !== null ? [`login-delay ${view.pop3.loginDelaySeconds}s`] : []),
    ...(view.pop3.expireDays !== null ? [`expire ${view.pop3.expireDays}d`] : []),
  ].join(" ");
  return `${view.address}  used ${formatBytes(view.usedBytes)} of ${quota}, ${messages}  pop3 ${pop3}${view.disabled ? "  disabled" : ""}`;
}

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
