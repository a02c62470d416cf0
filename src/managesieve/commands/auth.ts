// Authentication: STARTTLS (RFC 5804 §2.2), AUTHENTICATE over the shared SASL layer of auth/
// (§2.1), UNAUTHENTICATE (§2.14.1). Passwords only under TLS unless tls.allow_plaintext_auth
// says otherwise, as for IMAP and POP3 (RFC 8314 §3); ENCRYPT-NEEDED tells the client why.
import { createMechanism, findMechanism, mechanismPermitted, SaslExchange, type SaslExchangeStep } from "../../auth/index.js";
import { encodeChallenge, no, ok } from "../protocol/response.js";
import { expectArgs, type CommandSpec, type ManageSieveContext } from "./context.js";

export const starttls: CommandSpec = {
  states: ["unauthenticated"],
  async run(context, args) {
    expectArgs(args, [], "STARTTLS");
    if (context.tls) return context.reply(no("TLS is already active"));
    if (!context.options.startTlsAvailable) return context.reply(no("STARTTLS is not available"));
    return context.startTls();
  },
};

export const authenticate: CommandSpec = {
  states: ["unauthenticated"],
  async run(context, args) {
    const [name, initial] = expectArgs(args, ["string", "string"], 'AUTHENTICATE "mechanism" ["initial response"]', 1);
    const mechanismName = name!.toString("utf8");
    const descriptor = findMechanism(mechanismName);
    if (descriptor === null) return context.reply(no(`unsupported SASL mechanism ${JSON.stringify(mechanismName.slice(0, 40))}`));
    const { authenticator } = context.options;
    if (!mechanismPermitted(descriptor, { tls: context.tls, allowPlaintextWithoutTls: context.options.allowPlaintextAuth, scram: authenticator.supportsScram === true })) {
      if (!descriptor.plaintext) return context.reply(no("unsupported SASL mechanism"));
      return context.reply(no("plaintext authentication needs TLS: issue STARTTLS first", "ENCRYPT-NEEDED"));
    }
    const saslContext = authenticator.saslContext?.({ remoteAddress: context.options.remoteAddress, protocol: "managesieve", tls: context.tls }, context.options.transport.channelBindings?.() ?? null);
    const mechanism = createMechanism(mechanismName, undefined, saslContext);
    if (mechanism === null) return context.reply(no("unsupported SASL mechanism"));
    const exchange = new SaslExchange(mechanism);
    // RFC 5804 §2.1: an empty initial response is an empty string ("" , no "=" as in IMAP).
    const first = initial === undefined ? null : initial.length === 0 ? "=" : initial.toString("latin1");
    return saslStep(context, exchange, await exchange.begin(first));
  },
};

/** The client's string answering a challenge ("*" cancels, RFC 5804 §2.1). */
export async function continueSasl(context: ManageSieveContext, exchange: SaslExchange, response: string): Promise<void> {
  return saslStep(context, exchange, await exchange.continue(response));
}

async function saslStep(context: ManageSieveContext, exchange: SaslExchange, step: SaslExchangeStep): Promise<void> {
  switch (step.kind) {
    case "challenge":
      context.awaitSaslResponse(exchange);
      return context.write(encodeChallenge(step.line));
    case "cancelled":
      return context.authenticationFailed(no("authentication cancelled"));
    case "malformed":
      return context.authenticationFailed(no("malformed authentication response"));
    case "failed":
      return context.authenticationFailed(no("authentication failed"));
    case "done": {
      const { options } = context;
      const result = await options.authenticator.authenticateSasl(step.credentials, { remoteAddress: options.remoteAddress, protocol: "managesieve", tls: context.tls });
      if (!result.ok) {
        // auth/authenticator.ts: throttled or backend trouble is temporary (RFC 5804 §1.3 TRYLATER).
        if (result.reason === "invalid-credentials") return context.authenticationFailed(no("authentication failed"));
        return context.authenticationFailed(no("authentication temporarily unavailable, try again later", "TRYLATER"));
      }
      context.login(result.account);
      options.log.info("managesieve.login", { session: options.id, account: result.account.address });
      return context.reply(ok("Logged in"));
    }
  }
}

export const unauthenticate: CommandSpec = {
  states: ["authenticated"],
  async run(context, args) {
    expectArgs(args, [], "UNAUTHENTICATE");
    context.logout();
    return context.reply(ok("Unauthenticate completed"));
  },
};

