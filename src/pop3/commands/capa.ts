// CAPA (RFC 2449 §5): what this session offers now. The list changes with the state and the link:
// STLS until TLS is up (RFC 2595 §4), USER and the SASL mechanisms only where a password may cross
// the link, and the account's EXPIRE and LOGIN-DELAY once the account is known (RFC 2449 §6.5,
// §6.7 allow per-user values, announced after login). UTF8 (RFC 6856) is not offered: it would
// need UTF-8 user names and LANG, which are not implemented.
import { advertisedMechanisms } from "../../auth/index.js";
import { ok } from "../protocol/index.js";
import type { Pop3CommandSpec, Pop3Context } from "./context.js";

export function advertisedSasl(context: Pop3Context): string[] {
  return advertisedMechanisms({ tls: context.tls, allowPlaintextWithoutTls: context.options.allowPlaintextAuth, scram: context.options.authenticator.supportsScram === true });
}

export function capabilities(context: Pop3Context): string[] {
  const lines = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
  if (context.state === "authorization") {
    if (context.plaintextAuthAllowed) lines.push("USER");
    const sasl = advertisedSasl(context);
    if (sasl.length > 0) lines.push(`SASL ${sasl.join(" ")}`);
    if (!context.tls && context.options.startTlsAvailable) lines.push("STLS");
  }
  const policy = context.account?.pop3;
  if (policy !== undefined) {
    // RFC 2449 §6.7: EXPIRE 0 means mail may not be left on the server.
    const expire = policy.mode === "delete-after-retrieve" ? 0 : policy.expireDays;
    if (expire !== null) lines.push(`EXPIRE ${expire}`);
    if (policy.loginDelaySeconds !== null) lines.push(`LOGIN-DELAY ${policy.loginDelaySeconds}`);
  }
  lines.push("IMPLEMENTATION Mailroom");
  return lines;
}

export const capa: Pop3CommandSpec<"CAPA"> = {
  states: ["authorization", "transaction"],
  run: (context) => context.replyLines(ok("capability list follows"), capabilities(context)),
};
