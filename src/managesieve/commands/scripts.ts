// Script management (RFC 5804 §2.5-§2.12): HAVESPACE, PUTSCRIPT, CHECKSCRIPT, LISTSCRIPTS,
// SETACTIVE, GETSCRIPT, DELETESCRIPT, RENAMESCRIPT, over the backend-neutral SieveStore. A script
// is compiled by the same compiler delivery runs (src/sieve/) before it is stored, so an error
// names its line and column; the limits are sieve.max_script_bytes and sieve.max_scripts.
import { isUtf8 } from "node:buffer";
import { compileScript } from "../../sieve/compile.js";
import { SieveSyntaxError } from "../../sieve/errors.js";
import { isStoreError } from "../../store/index.js";
import { encodeString, no, ok } from "../protocol/response.js";
import { expectArgs, ManageSieveError, type CommandSpec, type ManageSieveContext } from "./context.js";

/**
 * RFC 5804 §1.6: a script name is UTF-8 (Net-Unicode), not empty, without control characters
 * (U+0000-U+001F, U+007F-U+009F) or line/paragraph separators (U+2028, U+2029); its length is
 * bounded like a quoted string (managesieve.max_quoted_bytes).
 */
export function scriptName(context: ManageSieveContext, bytes: Buffer): string {
  if (bytes.length === 0) throw new ManageSieveError(no("a script name cannot be empty"));
  if (bytes.length > context.options.limits.maxQuotedBytes) throw new ManageSieveError(no(`script name longer than ${context.options.limits.maxQuotedBytes} octets`));
  if (!isUtf8(bytes)) throw new ManageSieveError(no("script name is not UTF-8"));
  const name = bytes.toString("utf8");
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) throw new ManageSieveError(no("script name contains a control character"));
  return name;
}

function account(context: ManageSieveContext) {
  if (context.account === null) throw new ManageSieveError(no("authenticate first"));
  return context.account;
}

/** Size and syntax, as PUTSCRIPT and CHECKSCRIPT check them; the NO names line:column. */
function checkContent(context: ManageSieveContext, bytes: Buffer): string {
  const { limits } = context.options;
  if (bytes.length > limits.maxScriptBytes) throw new ManageSieveError(no(`script of ${bytes.length} octets is larger than ${limits.maxScriptBytes}`, "QUOTA/MAXSIZE"));
  if (!isUtf8(bytes)) throw new ManageSieveError(no("script is not UTF-8 (RFC 5228 §2.2)"));
  const content = bytes.toString("utf8");
  try {
    compileScript(content, { maxNesting: limits.maxNesting, maxListItems: 1024 });
  } catch (error) {
    if (error instanceof SieveSyntaxError) throw new ManageSieveError(no(error.message));
    throw error;
  }
  return content;
}

/** Store refusals as ManageSieve response codes (RFC 5804 §1.3). */
async function storeCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isStoreError(error, "NONEXISTENT")) throw new ManageSieveError(no("there is no script by that name", "NONEXISTENT"));
    if (isStoreError(error, "ALREADYEXISTS")) throw new ManageSieveError(no("a script by that name already exists", "ALREADYEXISTS"));
    if (isStoreError(error, "INVALID")) throw new ManageSieveError(no(error instanceof Error ? error.message : "invalid"));
    if (isStoreError(error, "UNAVAILABLE") || isStoreError(error, "NOSPACE")) throw new ManageSieveError(no("the server cannot store this now, try again later", "TRYLATER"));
    throw error;
  }
}

export const havespace: CommandSpec = {
  states: ["authenticated"],
  async run(context, args) {
    const [nameBytes, size] = expectArgs(args, ["string", "number"], "HAVESPACE <name> <size>");
    const name = scriptName(context, nameBytes!);
    const { limits } = context.options;
    if (size! > limits.maxScriptBytes) return context.reply(no(`scripts may be at most ${limits.maxScriptBytes} octets`, "QUOTA/MAXSIZE"));
    const scripts = await context.options.scripts.listSieveScripts(account(context).id);
    if (!scripts.some((s) => s.name === name) && scripts.length >= limits.maxScripts) return context.reply(no(`at most ${limits.maxScripts} scripts per account`, "QUOTA/MAXSCRIPTS"));
    return context.reply(ok("Putscript would succeed"));
  },
};

export const putscript: CommandSpec = {
  states: ["authenticated"],
  async run(context, args) {
    const [nameBytes, contentBytes] = expectArgs(args, ["string", "string"], "PUTSCRIPT <name> <script>");
    const name = scriptName(context, nameBytes!);
    const content = checkContent(context, contentBytes!);
    const { id } = account(context);
    const { limits, scripts } = context.options;
    try {
      await storeCall(() => scripts.putSieveScript(id, name, content, limits.maxScripts));
    } catch (error) {
      // The store's only CANNOT for a put is the script count (sieve-store.ts).
      if (isStoreError(error, "CANNOT")) return context.reply(no(`at most ${limits.maxScripts} scripts per account`, "QUOTA/MAXSCRIPTS"));
      throw error;
    }
    context.options.log.info("managesieve.putscript", { session: context.options.id, account: context.account?.address, script: name, size: contentBytes!.length });
    return context.reply(ok("Putscript completed"));
  },
};

export const checkscript: CommandSpec = {
  states: ["authenticated"],
  async run(context, args) {
    const [contentBytes] = expectArgs(args, ["string"], "CHECKSCRIPT <script>");
    checkContent(context, contentBytes!);
    return context.reply(ok("Script is valid"));
  },
};

export const listscripts: CommandSpec = {
  states: ["authenticated"],
  async run(context, args) {
    expectArgs(args, [], "LISTSCRIPTS");
    const scripts = await context.options.scripts.listSieveScripts(account(context).id);
    const lines = scripts.map((s) => Buffer.concat([encodeString(s.name), Buffer.from(s.active ? " ACTIVE\r\n" : "\r\n", "latin1")]));
    if (lines.length > 0) await context.write(Buffer.concat(lines));
    return context.reply(ok("Listscripts completed"));
  },
};

export const setactive: CommandSpec = {
  states: ["authenticated"],
  async run(context, args) {
    const [nameBytes] = expectArgs(args, ["string"], "SETACTIVE <name>");
    // RFC 5804 §2.8: the empty name deactivates whichever script is active.
    const name = nameBytes!.length === 0 ? null : scriptName(context, nameBytes!);
    const { id } = account(context);
    if (name !== null) {
      // A script stored before a compiler change could no longer compile: activating it would
      // only make every delivery fall back to INBOX, so say so now (RFC 5804 §2.8 allows NO).
      const script = await context.options.scripts.getSieveScript(id, name);
      if (script === null) return context.reply(no("there is no script by that name", "NONEXISTENT"));
      checkContent(context, Buffer.from(script.content, "utf8"));
    }
    await storeCall(() => context.options.scripts.setActiveSieveScript(id, name));
    return context.reply(ok(name === null ? "No script is active" : "Setactive completed"));
  },
};

export const getscript: CommandSpec = {
  states: ["authenticated"],
  async run(context, args) {
    const [nameBytes] = expectArgs(args, ["string"], "GETSCRIPT <name>");
    const name = scriptName(context, nameBytes!);
    const script = await context.options.scripts.getSieveScript(account(context).id, name);
    if (script === null) return context.reply(no("there is no script by that name", "NONEXISTENT"));
    // RFC 5804 §2.9: the script as a string (always a literal here), CRLF, then OK.
    const bytes = Buffer.from(script.content, "utf8");
    await context.write(Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`, "latin1"), bytes, Buffer.from("\r\n", "latin1")]));
    return context.reply(ok("Getscript completed"));
  },
};

export const deletescript: CommandSpec = {
  states: ["authenticated"],
  async run(context, args) {
    const [nameBytes] = expectArgs(args, ["string"], "DELETESCRIPT <name>");
    const name = scriptName(context, nameBytes!);
    try {
      await storeCall(() => context.options.scripts.deleteSieveScript(account(context).id, name));
    } catch (error) {
      // RFC 5804 §2.10: the active script cannot be deleted: NO (ACTIVE).
      if (isStoreError(error, "CANNOT")) return context.reply(no("the active script cannot be deleted; deactivate it first", "ACTIVE"));
      throw error;
    }
    return context.reply(ok("Deletescript completed"));
  },
};

export const renamescript: CommandSpec = {
  states: ["authenticated"],
  async run(context, args) {
    const [fromBytes, toBytes] = expectArgs(args, ["string", "string"], "RENAMESCRIPT <old name> <new name>");
    const from = scriptName(context, fromBytes!);
    const to = scriptName(context, toBytes!);
    await storeCall(() => context.options.scripts.renameSieveScript(account(context).id, from, to));
    return context.reply(ok("Renamescript completed"));
  },
};
