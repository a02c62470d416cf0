// `mailroom admin add|list|passwd|del`, `mailroom admin totp enable|confirm|disable|status` and
// `mailroom admin token add|list|del`: the accounts of the
// admin API and pages (http/admin-api.ts), thin adapters over admin/operations/web-admins.ts.
import { InvalidArgumentError, type Command } from "commander";
import { renderUnicodeCompact } from "uqr";
import type { AdminOperations } from "../operations/index.js";
import { readPassword, type PasswordSource } from "./password-input.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

export function addAdminCommands(program: Command, env: PasswordSource, withAdmin: WithAdmin, print: (line: string) => void): void {
  const admin = program.command("admin").description("accounts of the admin API (/api/v1) and pages (/admin); not mail accounts");
  admin.command("add <name>").description("create an admin (the first one included); the password is prompted, or read from stdin").action(async (name: string) => {
    const password = await readPassword(env, `Password for admin ${name}: `);
    await withAdmin(async (ops) => {
      const added = await ops.admins.addAdmin(name, password);
      print(`added admin ${added.name}; sign in at https://<server.hostname>/admin`);
    });
  });
  admin.command("list").description("list admins").action(() =>
    withAdmin(async (ops) => (await ops.admins.listAdmins()).forEach((a) => print(`${a.name}  since ${a.createdAt.toISOString()}`))),
  );
  admin.command("passwd <name>").description("set an admin's password (prompted, or read from stdin); their browsers are signed out").action(async (name: string) => {
    const password = await readPassword(env, `New password for admin ${name}: `);
    await withAdmin(async (ops) => {
      await ops.admins.setAdminPassword(name, password);
      print(`password changed for admin ${name}`);
    });
  });
  admin.command("del <name>").alias("delete").description("delete an admin with their sessions and API tokens").action((name: string) =>
    withAdmin(async (ops) => {
      await ops.admins.deleteAdmin(name);
      print(`deleted admin ${name}`);
    }),
  );
  const totp = admin.command("totp").description("the admin's second factor at sign-in (TOTP, RFC 6238, with recovery codes)");
  totp.command("enable <name>").description("start enrollment: prints a QR code, the secret, the otpauth URI and recovery codes (shown once)").action((name: string) =>
    withAdmin(async (ops) => {
      const e = await ops.admins.totpEnable(name);
      // The QR code in the terminal (two rows per line), for the authenticator app's camera.
      print(renderUnicodeCompact(e.uri, { ecc: "M", border: 2 }));
      print(`secret: ${e.secret}`);
      print(`uri: ${e.uri}`);
      print("recovery codes (each works once; shown only now):");
      for (const code of e.recoveryCodes) print(`  ${code}`);
      print(`confirm with a code from the app: mailroom admin totp confirm ${name} <code>`);
    }),
  );
  totp.command("confirm <name> <code>").description("finish enrollment with a first code from the app; sign-in asks for codes from then on").action((name: string, code: string) =>
    withAdmin(async (ops) => {
      if (!(await ops.admins.totpConfirm(name, code))) throw new Error("the code does not match (check the device's clock), or TOTP is not being enrolled");
      print(`admin ${name}: TOTP on`);
    }),
  );
  totp.command("disable <name>").description("turn the admin's second factor off (a lost device: enable again afterwards)").action((name: string) =>
    withAdmin(async (ops) => {
      await ops.admins.totpDisable(name);
      print(`admin ${name}: TOTP off`);
    }),
  );
  totp.command("status <name>").description("whether TOTP is on, and how many recovery codes are left").action((name: string) =>
    withAdmin(async (ops) => {
      const s = await ops.admins.totpStatus(name);
      print(s.enabled ? `admin ${name}: TOTP ${s.confirmed ? "on" : "enrolling (not confirmed)"}, ${s.recoveryCodesLeft} recovery codes left, since ${new Date(s.createdAt).toISOString()}` : `admin ${name}: TOTP off`);
    }),
  );
  const token = admin.command("token").description("API tokens for scripts (Authorization: Bearer <token>)");
  token
    .command("add <admin> <name>")
    .description("make a token acting as <admin>; it is printed once")
    .option("--days <n>", "days it stays valid (0: no expiry)", (text: string) => {
      if (!/^\d{1,4}$/.test(text)) throw new InvalidArgumentError("expected a number of days");
      return Number(text);
    }, 365)
    .action((owner: string, name: string, opts: { days: number }) =>
      withAdmin(async (ops) => {
        const made = await ops.admins.createApiToken(owner, name, opts.days);
        print(made.token);
      }),
    );
  token.command("list").description("list tokens: id, admin, name, expiry, last use").action(() =>
    withAdmin(async (ops) => {
      for (const t of await ops.admins.listApiTokens()) print(`${t.id}  ${t.admin}  ${t.name}  expires ${t.expiresAt?.toISOString() ?? "never"}  last used ${t.lastUsedAt?.toISOString() ?? "never"}`);
    }),
  );
  token.command("del <id>").alias("delete").description("revoke a token").action((id: string) =>
    withAdmin(async (ops) => {
      if (!/^\d{1,15}$/.test(id)) throw new InvalidArgumentError("expected a token id (mailroom admin token list)");
      await ops.admins.deleteApiToken(Number(id));
      print(`deleted token ${id}`);
    }),
  );
}
