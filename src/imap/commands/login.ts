// RFC 9051 §6.2.3 LOGIN: a plaintext password, so refused without TLS unless the operator allows
// plaintext authentication (then LOGINDISABLED is advertised, RFC 9051 §6.2.3, RFC 8314 §3).
import { findMechanism, mechanismPermitted } from "../../auth/index.js";
import { ImapError, type CommandContext, type ImapCommand } from "./command.js";

interface LoginArgs {
  username: string;
  password: string;
}

export const loginCommand: ImapCommand<LoginArgs> = {
  names: ["LOGIN"],
  uid: false,
  states: ["not-authenticated"],
  sequenceUse: "none",
  parse: (args) => {
    const username = args.astring();
    args.space();
    const password = args.astring();
    args.end();
    return { username, password };
  },
  run: async (ctx, { username, password }) => {
    const link = ctx.session.authLink();
    // LOGIN is the PLAIN mechanism in other clothes: the same link rule applies.
    const plain = findMechanism("PLAIN");
    if (plain === null || !mechanismPermitted(plain, { tls: link.tls, allowPlaintextWithoutTls: link.allowPlaintextAuth })) {
      throw ImapError.no("PRIVACYREQUIRED", "LOGIN is disabled without TLS; use STARTTLS first");
    }
    await completeLogin(ctx, await ctx.session.authenticate({ kind: "password", authcid: username, authzid: null, password }));
  },
};

/** The tagged reply of a login attempt, shared with AUTHENTICATE (RFC 5530 codes). */
export async function completeLogin(ctx: CommandContext, outcome: "ok" | "invalid" | "unavailable"): Promise<void> {
  if (outcome === "invalid") throw ImapError.no("AUTHENTICATIONFAILED", "invalid credentials");
  if (outcome === "unavailable") throw ImapError.no("UNAVAILABLE", "authentication is temporarily unavailable");
  // RFC 9051 §6.2.3: the capabilities change after login; say so in the tagged OK.
  ctx.complete({ code: `CAPABILITY ${ctx.session.capabilities().join(" ")}`, text: "Logged in" });
}
