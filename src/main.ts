// Process entry: `mailroom <command>`. Parses argv through the CLI, and for `serve` loads the
// config, composes the server, prints the banner and traps signals. The CLI itself holds no rule;
// this file only wires the real implementations into it.
import { checkConfigFiles, loadConfig, renderDefaultConfig, type Config } from "./config/index.js";
import { size } from "./config/value-kinds.js";
import { createJsonLogger } from "./observability/log.js";
import { runCli, type GlobalOptions } from "./admin/cli/program.js";
import { createAdmin, openStore, startServer } from "./server/compose.js";
import { renderBanner } from "./server/banner.js";
import { trapSignals } from "./server/shutdown.js";
import { adminRunsAsServerUser, planPrivilegeDrop } from "./server/privileges.js";

async function configFor(options: GlobalOptions): Promise<Config> {
  const env = { ...process.env };
  if (options.dataDir) env.MAILROOM_DATA_DIR = options.dataDir;
  return loadConfig({ path: options.config, env, cwd: process.cwd() });
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
    async openAdmin(options) {
      const config = await configFor(options);
      const log = createJsonLogger({ level: "warn" });
      adminRunsAsServerUser(config);
      const store = await openStore(config, log);
      return { operations: createAdmin(config, store), close: () => store.close() };
    },
    async serve(options) {
      const config = await configFor(options);
      const log = createJsonLogger({ level: config.server.logLevel });
      const server = await startServer(config, log, planPrivilegeDrop(config, log));
      trapSignals(server, log);
      process.stdout.write(await renderBanner(server));
      // The listeners keep the process alive; the signal handlers end it.
      await new Promise<never>(() => {});
    },
  });
  if (code !== 0) process.exitCode = code;
}
