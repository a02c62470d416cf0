// `mailroom sieve put|get|list|activate`: an account's Sieve scripts (issue 18). A script is
// compiled before it is stored, so a stored script that fails to compile can only come from an
// older version; the limits are the config keys sieve.max_script_bytes and sieve.max_scripts.
import { compileScript } from "../../sieve/compile.js";
import { SieveSyntaxError } from "../../sieve/errors.js";
import { isStoreError, type Account, type SieveScript, type SieveScriptInfo, type SieveStore } from "../../store/index.js";
import { AdminError } from "./validation.js";

export interface SieveAdminDependencies {
  scripts: SieveStore;
  maxScriptBytes: number;
  maxScripts: number;
  maxNesting: number;
}

/** Compiles a script; the error names line:column. */
export function checkSieveScript(content: string, maxScriptBytes: number, maxNesting: number): void {
  if (Buffer.byteLength(content, "utf8") > maxScriptBytes) throw new AdminError("invalid-argument", `the script is larger than ${maxScriptBytes} bytes (sieve.max_script_bytes)`);
  try {
    compileScript(content, { maxNesting, maxListItems: 1024 });
  } catch (error) {
    if (error instanceof SieveSyntaxError) throw new AdminError("invalid-argument", error.message);
    throw error;
  }
}

export function createSieveOperations(deps: SieveAdminDependencies, requireAccount: (address: string) => Promise<Account>) {
  const wrap = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (isStoreError(error, "NONEXISTENT")) throw new AdminError("not-found", error.message);
      if (isStoreError(error, "CANNOT") || isStoreError(error, "ALREADYEXISTS")) throw new AdminError("conflict", error.message);
      if (isStoreError(error, "INVALID")) throw new AdminError("invalid-argument", error.message);
      throw error;
    }
  };
  return {
    async put(address: string, name: string, content: string): Promise<SieveScriptInfo> {
      const account = await requireAccount(address);
      checkSieveScript(content, deps.maxScriptBytes, deps.maxNesting);
      await wrap(() => deps.scripts.putSieveScript(account.id, name, content, deps.maxScripts));
      const stored = await deps.scripts.getSieveScript(account.id, name);
      return { name, active: stored?.active ?? false, size: stored?.size ?? 0 };
    },
    async get(address: string, name: string): Promise<SieveScript> {
      const account = await requireAccount(address);
      const script = await deps.scripts.getSieveScript(account.id, name);
      if (!script) throw new AdminError("not-found", `no script ${name} for ${account.address}`);
      return script;
    },
    async list(address: string): Promise<SieveScriptInfo[]> {
      const account = await requireAccount(address);
      return deps.scripts.listSieveScripts(account.id);
    },
    /** null deactivates every script of the account. */
    async activate(address: string, name: string | null): Promise<void> {
      const account = await requireAccount(address);
      await wrap(() => deps.scripts.setActiveSieveScript(account.id, name));
    },
  };
}

export type SieveOperations = ReturnType<typeof createSieveOperations>;
