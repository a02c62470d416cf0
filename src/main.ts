// Process entry: `mailroom <command>`. Parses argv through the CLI, and for `serve` loads the
// config, composes the server, prints the banner and traps signals. The CLI itself holds no rule;
// this file only wires the real implementations into it.
import { resolve } from "node:path";
import { checkConfigFiles, loadConfig, renderDefaultConfig, type Config } from "./config/index.js";
import { size } from "./config/value-kinds.js";
import { createJsonLogger } from "./observability/log.js";
import { runCli, type GlobalOptions, type ServerStatus } from "./admin/cli/program.js";
import { copyStore, migrateStore, startServer } from "./server/compose.js";
import { askServerStatus, openAdminAccess } from "./server/admin-access.js";
import { adminCommandPrefix, renderBanner } from "./server/banner.js";
import { trapSignals } from "./server/shutdown.js";
import { restoreBackup, verifyBackup } from "./server/backup.js";
import { adminRunsAsServerUser, planPrivilegeDrop } from "./server/privileges.js";

async function configFor(options: GlobalOptions): Promise<Config> {
  const env = { ...process.env };
  if (options.dataDir) env.MAILROOM_DATA_DIR = options.dataDir;
  return loadConfig({ path: options.config, env, cwd: process.cwd() });
}

/** Where the data dir came from, in the words of the option that set it. */
function dataDirSource(options: GlobalOptions, config: Config): string {
  if (options.dataDir) return "--data-dir";
  if (process.env.MAILROOM_DATA_DIR) return "$MAILROOM_DATA_DIR";
  return config.sourceFile ? `server.data_dir of ${config.sourceFile} (or its default, ./data in ${process.cwd()})` : `the default, ./data in ${process.cwd()}`;
}

export async function main(argv: string[]): Promise<void> {
  const code = await runCli(argv, {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    // The config file's size syntax, so `user quota x 2G` reads like `max_message_size = "2G"`.
    parseSize: (text) => size().parse(/^\d+$/.test(text) ? Number(text) : text),
    renderDefaultConfig,
    async checkConfig(options) {
      const config = await configFor(options);
      const listeners = config.listeners.map((l) => `${l.protocol}:${l.port}`).join(" ");
      const warnings = await checkConfigFiles(config);
      return `config ok: ${config.sourceFile ?? "no file, built-in defaults"}\n  data_dir ${config.server.dataDir}\n  listeners ${listeners}${warnings.map((w) => `\n${w}`).join("")}`;
    },
    async openAdmin(options, command) {
      const config = await configFor(options);
      const log = createJsonLogger({ level: "warn" });
      // As root, become the server user first (privileges.ts): the socket and the lock are its.
      adminRunsAsServerUser(config);
      return openAdminAccess(config, log, { command, init: options.init === true, dataDirSource: dataDirSource(options, config) });
    },
    async migrateStore(options) {
      return migrateStore(await configFor(options), createJsonLogger({ level: "warn" }));
    },
    async copyStore(options, copy, onProgress) {
      const config = await configFor(options);
      return copyStore(config, createJsonLogger({ level: "warn" }), { from: isUrl(copy.from) ? copy.from : resolve(copy.from), to: isUrl(copy.to) ? copy.to : resolve(copy.to), passwordEnv: copy.passwordEnv ?? null, passwordFile: copy.passwordFile ?? null }, onProgress);
    },
    backupReaders: (options) => ({
      verify: (request, onProgress) => verifyBackup(request, onProgress),
      async restore(request, onProgress) {
        const config = await configFor(options);
        return restoreBackup(config, createJsonLogger({ level: "warn" }), request, onProgress);
      },
    }),
    async serverStatus(options, reset) {
      return (await askServerStatus(await configFor(options), reset)) as ServerStatus;
    },
    async serve(options) {
      const config = await configFor(options);
      const log = createJsonLogger({ level: config.server.logLevel });
      const server = await startServer(config, log, planPrivilegeDrop(config, log));
      trapSignals(server, log);
      // What an operator types to administer this server: the options that find its data dir
      // from any shell, not the environment this one happened to have.
      const bareDataDir = (await loadConfig({ path: config.sourceFile ?? undefined, env: {}, cwd: process.cwd() }).catch(() => null))?.server.dataDir;
      const prefix = adminCommandPrefix({ configFile: config.sourceFile, dataDir: config.server.dataDir, dataDirWithoutOverrides: bareDataDir ?? null, cwd: resolve(process.cwd()) });
      process.stdout.write(await renderBanner(server, prefix));
      // The listeners keep the process alive; the signal handlers end it.
      await new Promise<never>(() => {});
    },
  });
  if (code !== 0) process.exitCode = code;
}

/** `store copy` takes a postgres:// URL on one side and a data dir (a path) on the other. */
function isUrl(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
}
