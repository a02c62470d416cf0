// RFC 9051 §6.2.2 AUTHENTICATE over the shared SASL layer (auth/): mechanisms, base64 and limits
// live there; this module frames challenges as `+ <base64>` and words the outcomes. RFC 4959
// SASL-IR: the initial response may follow the mechanism name ("=" for an empty one).
import { createMechanism, findMechanism, mechanismPermitted, SaslExchange, type SaslExchangeStep } from "../../auth/index.js";
import { ImapError, type CommandContext, type ImapCommand } from "./command.js";
import { completeLogin } from "./login.js";

interface AuthenticateArgs {
  mechanism: string;
  initialResponse: string | null;
}

export const authenticateCommand: ImapCommand<AuthenticateArgs> = {
  names: ["AUTHENTICATE"],
  uid: false,
  states: ["not-authenticated"],
  sequenceUse: "none",
  parse: (args) => {
    const mechanism = args.atom().toUpperCase();
    let initialResponse: string | null = null;
    if (args.takeChar(" ")) initialResponse = args.takeWhile(/[A-Za-z0-9+/=]/);
    args.end();
    return { mechanism, initialResponse };
  },
  run: async (ctx, { mechanism, initialResponse }) => {
    const descriptor = findMechanism(mechanism);
    if (descriptor === null) throw ImapError.no(null, "unsupported authentication mechanism");
    const link = ctx.session.authLink();
    if (!mechanismPermitted(descriptor, { tls: link.tls, allowPlaintextWithoutTls: link.allowPlaintextAuth, scram: link.saslContext !== undefined })) {
      if (!descriptor.plaintext) throw ImapError.no(null, "unsupported authentication mechanism");
      throw ImapError.no("PRIVACYREQUIRED", "this mechanism needs TLS; use STARTTLS first");
    }
    const instance = createMechanism(mechanism, undefined, link.saslContext?.());
    if (instance === null) throw ImapError.no(null, "unsupported authentication mechanism");
    const exchange = new SaslExchange(instance);
    let step = await exchange.begin(initialResponse);
    while (step.kind === "challenge") step = await exchange.continue(await nextResponse(ctx, step.line));
    await finish(ctx, step);
  },
};

async function nextResponse(ctx: CommandContext, challenge: string): Promise<string> {
  await ctx.continuation(challenge);
  const line = await ctx.session.readLine();
  if (line === null) throw ImapError.bad(null, "connection closed during authentication");
  return line.toString("latin1");
}

async function finish(ctx: CommandContext, step: Exclude<SaslExchangeStep, { kind: "challenge" }>): Promise<void> {
  switch (step.kind) {
    case "cancelled":
      // RFC 9051 §6.2.2: "*" cancels with BAD.
      throw ImapError.bad(null, "authentication cancelled");
    case "malformed":
      throw ImapError.bad(null, "invalid authentication response");
    case "failed":
      throw ImapError.no("AUTHENTICATIONFAILED", "invalid credentials");
    case "done":
      return completeLogin(ctx, await ctx.session.authenticate(step.credentials));
  }
}
