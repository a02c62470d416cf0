// Commands valid in every state: CAPABILITY (RFC 5804 §2.4), NOOP (§2.13), LOGOUT (§2.3).
import { ok } from "../protocol/response.js";
import { expectArgs, type CommandSpec } from "./context.js";

export const capability: CommandSpec = {
  states: ["unauthenticated", "authenticated"],
  async run(context, args) {
    expectArgs(args, [], "CAPABILITY");
    await context.write(context.capabilities());
    return context.reply(ok("Capability completed"));
  },
};

export const noop: CommandSpec = {
  states: ["unauthenticated", "authenticated"],
  async run(context, args) {
    // RFC 5804 §2.13: an optional string comes back as the TAG response code.
    const [tag] = expectArgs(args, ["string"], "NOOP [tag]", 1);
    if (tag !== undefined) return context.reply(ok("Done", "TAG", tag.toString("utf8")));
    return context.reply(ok("Done"));
  },
};

export const logout: CommandSpec = {
  states: ["unauthenticated", "authenticated"],
  async run(context, args) {
    expectArgs(args, [], "LOGOUT");
    // RFC 5804 §2.3: the server answers OK, then closes the connection.
    return context.closeAfter(ok("Logout completed"));
  },
};

