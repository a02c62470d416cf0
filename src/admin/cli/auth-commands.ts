// `mailroom app-password add|list|revoke` and `mailroom user totp|app-passwords-only|unlock`:
// thin adapters over admin/operations/auth.ts (issue 22).
import type { Command } from "commander";
import type { AdminOperations } from "../operations/index.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

const when = (date: Date | null): string => (date === null ? "never" : new Date(date).toISOString());

export function addAuthCommands(program: Command, withAdmin: WithAdmin, print: (line: string) => void): void {
  const app = program.command("app-password").description("per-device passwords of an account (IMAP, POP3, SMTP, ManageSieve), revocable one by one");
  app
    .command("add <address> <name>")
    .description("make a new app password; it is shown once, here")
    .option("--protocols <list>", "comma-separated protocols it may log in to (imap,pop3,smtp,managesieve); default all")
    .action((address: string, name: string, opts: { protocols?: string }) =>
      withAdmin(async (ops) => {
        const protocols = opts.protocols?.split(",").map((p) => p.trim()).filter((p) => p !== "");
        const created = await ops.auth.addAppPassword(address, name, protocols);
        print(`app password ${created.name} for ${address} (${created.protocols.join(", ")}):`);
        print(created.password);
        print("it is not shown again; store it in the client now");
      }),
    );
  app.command("list <address>").description("list an account's app passwords, with their last use").action((address: string) =>
    withAdmin(async (ops) => {
      const list = await ops.auth.listAppPasswords(address);
      if (list.length === 0) print("no app passwords");
      for (const a of list) print(`${a.name}  protocols=${a.protocols.join(",")}  created=${when(a.createdAt)}  last-used=${when(a.lastUsedAt)}${a.lastUsedAddress ? ` from ${a.lastUsedAddress}` : ""}`);
    }),
  );
  app
    .command("revoke <address> <name>")
    .alias("del")
    .description("delete an app password at once; open sessions that logged in with it end")
    .action((address: string, name: string) =>
      withAdmin(async (ops) => {
        const result = await ops.auth.revokeAppPassword(address, name);
        print(`revoked ${result.name}; ${result.sessionsEnded} open session${result.sessionsEnded === 1 ? "" : "s"} ended`);
      }),
    );

  const user = program.commands.find((c) => c.name() === "user");
  if (!user) return;
  user
    .command("app-passwords-only <address> <on|off>")
    .description("refuse the main password over IMAP, POP3, SMTP and ManageSieve (app passwords only)")
    .action((address: string, value: string) =>
      withAdmin(async (ops) => {
        if (value !== "on" && value !== "off") throw new Error("say on or off");
        const result = await ops.auth.setAppPasswordsOnly(address, value === "on");
        const ended = result.appPasswordsOnly ? `; ${result.sessionsEnded} open session${result.sessionsEnded === 1 ? "" : "s"} with the main password ended` : "";
        print(`${result.address}: app passwords only ${result.appPasswordsOnly ? "on" : "off"}${ended}`);
      }),
    );
  user.command("unlock <address>").description("lift a lock-out after failed logins (the failures counted against the account are forgotten)").action((address: string) =>
    withAdmin(async (ops) => print(`${(await ops.auth.unlockUser(address)).address} unlocked`)),
  );
  const totp = user.command("totp").description("the second factor (TOTP, RFC 6238) for the web pages");
  totp.command("enable <address>").description("start enrollment: prints the secret, an otpauth URI and recovery codes (shown once)").action((address: string) =>
    withAdmin(async (ops) => {
      const e = await ops.auth.totpEnable(address);
      print(`secret: ${e.secret}`);
      print(`uri: ${e.uri}`);
      print("recovery codes (each works once; shown only now):");
      for (const code of e.recoveryCodes) print(`  ${code}`);
      print(`confirm with a code from the app: mailroom user totp confirm ${address} <code>`);
    }),
  );
  totp.command("confirm <address> <code>").description("finish enrollment with a first code from the app").action((address: string, code: string) =>
    withAdmin(async (ops) => {
      if (!(await ops.auth.totpConfirm(address, code))) throw new Error("the code does not match (check the device's clock), or TOTP is not being enrolled");
      print(`${address}: TOTP on`);
    }),
  );
  totp.command("disable <address>").description("turn the second factor off").action((address: string) =>
    withAdmin(async (ops) => {
      await ops.auth.totpDisable(address);
      print(`${address}: TOTP off`);
    }),
  );
  totp.command("status <address>").description("whether TOTP is on, and how many recovery codes are left").action((address: string) =>
    withAdmin(async (ops) => {
      const s = await ops.auth.totpStatus(address);
      print(s.enabled ? `${address}: TOTP ${s.confirmed ? "on" : "enrolling (not confirmed)"}, ${s.recoveryCodesLeft} recovery codes left, since ${when(s.createdAt)}` : `${address}: TOTP off`);
    }),
  );
}
