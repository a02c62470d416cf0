// `mailroom admin add|list|passwd|del` and `mailroom admin token add|list|del`: the accounts of the
// admin API and pages (http/admin-api.ts), thin adapters over admin/operations/web-admins.ts.
import { InvalidArgumentError, type Command } from "commander";
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
