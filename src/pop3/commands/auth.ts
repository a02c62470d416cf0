// AUTHORIZATION state: USER/PASS (RFC 1939 §7), AUTH (RFC 5034, over the shared SASL layer of
// auth/), APOP (refused), STLS (RFC 2595 §4) and how a successful login becomes a session: the
// LOGIN-DELAY check (RFC 2449 §6.5), the maildrop lock (RFC 1939 §8, [IN-USE]) and the snapshot.
//
// APOP is not offered: it needs the password in a reversible form to compute the digest, and the
// store keeps only argon2id hashes. A client sending it gets -ERR and may use USER/PASS or AUTH
// under TLS instead.
import { createMechanism, findMechanism, mechanismPermitted, SaslExchange, type AuthResult, type SaslExchangeStep } from "../../auth/index.js";
import { Maildrop } from "../maildrop.js";
import { encodeContinuation, err, ok } from "../protocol/index.js";
import { advertisedSasl } from "./capa.js";
import type { Pop3CommandSpec, Pop3Context } from "./context.js";

const PLAINTEXT_REFUSED = "plaintext authentication is disabled on an unencrypted connection; use STLS";

export const user: Pop3CommandSpec<"USER"> = {
  states: ["authorization"],
  async run(context, command) {
    // RFC 2449 §6.2: USER may be unavailable; RFC 3206 §5 [AUTH] tells the client not to retry it.
    if (!context.plaintextAuthAllowed) return context.reply(err(PLAINTEXT_REFUSED, "AUTH"));
    context.pendingUser = command.name;
    // The same answer for every name, so USER does not reveal which accounts exist.
    return context.reply(ok("send PASS"));
  },
};

export const pass: Pop3CommandSpec<"PASS"> = {
  states: ["authorization"],
  async run(context, command) {
    const username = context.pendingUser;
    context.pendingUser = null;
    if (!context.plaintextAuthAllowed) return context.reply(err(PLAINTEXT_REFUSED, "AUTH"));
    if (username === null) return context.reply(err("USER first"));
    const { options } = context;
    // auth/authenticator.ts applies the shared failure throttle and delay.
    const result = await options.authenticator.authenticate({ username, password: command.password, remoteAddress: options.remoteAddress, protocol: "pop3", tls: context.tls });
    return completeLogin(context, result);
  },
};

export const apop: Pop3CommandSpec<"APOP"> = {
  states: ["authorization"],
  run: (context) => context.reply(err("APOP is not supported; use USER/PASS or AUTH")),
};

export const auth: Pop3CommandSpec<"AUTH"> = {
  states: ["authorization"],
  async run(context, command) {
    // Without a mechanism: the list, as many servers do before RFC 5034 (CAPA SASL is the standard way).
    if (command.mechanism === null) return context.replyLines(ok("SASL mechanisms follow"), advertisedSasl(context));
    const descriptor = findMechanism(command.mechanism);
    if (descriptor === null) return context.reply(err("unsupported authentication mechanism"));
    const { authenticator } = context.options;
    if (!mechanismPermitted(descriptor, { tls: context.tls, allowPlaintextWithoutTls: context.options.allowPlaintextAuth, scram: authenticator.supportsScram === true })) {
      if (!descriptor.plaintext) return context.reply(err("unsupported authentication mechanism"));
      return context.reply(err(PLAINTEXT_REFUSED, "AUTH"));
    }
    const saslContext = authenticator.saslContext?.({ remoteAddress: context.options.remoteAddress, protocol: "pop3", tls: context.tls }, context.options.transport.channelBindings?.() ?? null);
    const mechanism = createMechanism(command.mechanism, undefined, saslContext);
    if (mechanism === null) return context.reply(err("unsupported authentication mechanism"));
    const exchange = new SaslExchange(mechanism);
    return saslStep(context, exchange, await exchange.begin(command.initialResponse));
  },
};

/** A client line answering a SASL challenge. */
export async function continueSasl(context: Pop3Context, exchange: SaslExchange, line: string): Promise<void> {
  return saslStep(context, exchange, await exchange.continue(line));
}

async function saslStep(context: Pop3Context, exchange: SaslExchange, step: SaslExchangeStep): Promise<void> {
  switch (step.kind) {
    case "challenge":
      context.awaitSaslResponse(exchange);
      return context.write(encodeContinuation(step.line));
    case "cancelled":
      // RFC 5034 §4: "*" cancels; the server answers -ERR.
      return context.reply(err("authentication cancelled"));
    case "malformed":
      return context.reply(err("malformed authentication response"));
    case "failed":
      return context.reply(err("authentication failed", "AUTH"));
    case "done": {
      const { options } = context;
      const result = await options.authenticator.authenticateSasl(step.credentials, { remoteAddress: options.remoteAddress, protocol: "pop3", tls: context.tls });
      return completeLogin(context, result);
    }
  }
}

/** Credentials checked: refuse (RFC 3206 codes), or lock the maildrop and enter TRANSACTION. */
async function completeLogin(context: Pop3Context, result: AuthResult): Promise<void> {
  // auth/authenticator.ts: invalid → [AUTH]; throttled or backend trouble → [SYS/TEMP].
  if (!result.ok) {
    if (result.reason === "invalid-credentials") return context.reply(err("authentication failed", "AUTH"));
    return context.reply(err("authentication temporarily unavailable, try again later", "SYS/TEMP"));
  }
  const { options } = context;
  const account = result.account;
  const now = options.clock().getTime();
  // RFC 2449 §6.5/§8.1.2: checked after the password, so it tells nothing to someone without it.
  const wait = await options.shared.logins.wait(account.id, account.pop3.loginDelaySeconds, now);
  if (wait > 0) return context.reply(err(`login again in ${Math.ceil(wait / 1000)} seconds`, "LOGIN-DELAY"));
  if (!(await options.shared.locks.acquire(account.id, options.id))) return context.reply(err("maildrop is in use by another session", "IN-USE"));
  let maildrop: Maildrop | null;
  try {
    maildrop = await Maildrop.open(options.store, account, options.shared.sizes);
  } catch (error) {
    options.shared.locks.release(account.id, options.id);
    throw error;
  }
  if (maildrop === null) {
    options.shared.locks.release(account.id, options.id);
    return context.reply(err("no INBOX for this account", "SYS/PERM"));
  }
  try {
    await options.shared.logins.note(account.id, now);
  } catch (error) {
    // Shared store unreachable: the maildrop is refused like any store failure, and unlocked.
    options.shared.locks.release(account.id, options.id);
    throw error;
  }
  context.enterTransaction(account, maildrop);
  options.log.info("pop3.login", { session: options.id, account: account.address, messages: maildrop.count });
  return context.reply(ok(`maildrop has ${maildrop.count} message${maildrop.count === 1 ? "" : "s"}`));
}

export const stls: Pop3CommandSpec<"STLS"> = {
  states: ["authorization"],
  async run(context) {
    // RFC 2595 §4: only in AUTHORIZATION, only once, and only with a certificate.
    if (context.tls) return context.reply(err("already using TLS"));
    if (!context.options.startTlsAvailable) return context.reply(err("STLS is not available"));
    return context.startTls();
  },
};
