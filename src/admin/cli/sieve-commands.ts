// `mailroom sieve put|get|list|activate|check`: thin adapters over admin/operations/sieve.ts.
// `check` only compiles a file (no store, no server) and prints the error with its line:column.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { checkSieveScript, type AdminOperations } from "../operations/index.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

/** Compile-only limits for `check`: the config defaults (the server enforces its own config on put). */
const CHECK_MAX_BYTES = 10 * 1024 * 1024;
const CHECK_MAX_NESTING = 32;

export function addSieveCommands(program: Command, withAdmin: WithAdmin, print: (line: string) => void): void {
  const sieve = program.command("sieve").description("an account's Sieve filter scripts (RFC 5228)");
  sieve
    .command("put <user> <name> <file>")
    .description("store (or replace) a script after compiling it; --activate makes it the active one")
    .option("--activate", "make it the account's active script")
    .action((user: string, name: string, file: string, opts: { activate?: boolean }) =>
      withAdmin(async (ops) => {
        const content = await readFile(file, "utf8");
        const info = await ops.sieve.put(user, name, content);
        if (opts.activate) await ops.sieve.activate(user, name);
        print(`stored ${info.name} (${info.size} bytes)${opts.activate || info.active ? ", active" : ""}`);
      }),
    );
  sieve.command("get <user> <name>").description("print a script").action((user: string, name: string) =>
    withAdmin(async (ops) => {
      const script = await ops.sieve.get(user, name);
      process.stdout.write(script.content.endsWith("\n") ? script.content : `${script.content}\n`);
    }),
  );
  sieve.command("list <user>").description("list an account's scripts; the active one is marked").action((user: string) =>
    withAdmin(async (ops) => {
      const list = await ops.sieve.list(user);
      if (list.length === 0) print("no scripts");
      for (const s of list) print(`${s.active ? "*" : " "} ${s.name}  ${s.size} bytes`);
    }),
  );
  sieve
    .command("activate <user> [name]")
    .description("make a script the active one; without a name, deactivate every script")
    .action((user: string, name: string | undefined) =>
      withAdmin(async (ops) => {
        await ops.sieve.activate(user, name ?? null);
        print(name ? `${name} is active` : "no script is active");
      }),
    );
  sieve.command("check <file>").description("compile a script and report the first error with its line:column").action(async (file: string) => {
    checkSieveScript(await readFile(file, "utf8"), CHECK_MAX_BYTES, CHECK_MAX_NESTING);
    print(`${file}: ok`);
  });
}
