// Every reply the Mailroom SMTP server sends, by name: RFC 5321 §4.2 code, RFC 3463 enhanced code
// (IANA "SMTP Enhanced Status Codes" registry) and default text. Sessions say
// `reply(ReplyCodes.MailboxUnavailable)` rather than spelling numbers, so a code is chosen once.
import type { SmtpSyntaxError } from "./command.js";
import type { SmtpReply } from "./reply.js";

export interface ReplyCode {
  readonly code: number;
  /** Null only where RFC 2034 §3 exempts the reply: the greeting, EHLO/HELO, 354 and 334. */
  readonly enhanced: string | null;
  readonly text: string;
}

function code(code: number, enhanced: string | null, text: string): ReplyCode {
  return Object.freeze({ code, enhanced, text });
}

export const ReplyCodes = Object.freeze({
  // --- 2xx: success
  /** RFC 5321 §4.1.1.10 (NOOP, RSET), §4.1.1.4 (message accepted): X.0.0 other/undefined success. */
  Ok: code(250, "2.0.0", "Ok"),
  /** RFC 5321 §4.1.1.2; X.1.0 other address status. */
  SenderOk: code(250, "2.1.0", "Sender ok"),
  /** RFC 5321 §4.1.1.3; X.1.5 destination address valid. */
  RecipientOk: code(250, "2.1.5", "Recipient ok"),
  /** RFC 5321 §4.1.1.10 QUIT. */
  Bye: code(221, "2.0.0", "Bye"),
  /** RFC 3207 §4: the reply to STARTTLS before the handshake. */
  ReadyToStartTls: code(220, "2.0.0", "Ready to start TLS"),
  /** RFC 4954 §6. */
  AuthSucceeded: code(235, "2.7.0", "Authentication successful"),
  /** RFC 5321 §3.5.3: VRFY is not answered, but mail will be tried; X.5.0 other protocol status. */
  CannotVerify: code(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"),
  /** RFC 5321 §4.1.1.8 HELP. */
  HelpMessage: code(214, "2.0.0", "See https://www.rfc-editor.org/rfc/rfc5321"),

  // --- 3xx: intermediate (no enhanced codes: RFC 3463 §3.1 has classes 2, 4 and 5 only)
  /** RFC 5321 §4.1.1.4 / §4.2.2. */
  StartMailInput: code(354, null, "End data with <CR><LF>.<CR><LF>"),
  /** RFC 4954 §4: a SASL challenge; the text is the base64 challenge. */
  AuthContinue: code(334, null, ""),

  // --- 4xx: temporary failure
  /** RFC 5321 §3.8 / §4.2.3: shutting down; X.3.2 system not accepting network messages. */
  ServiceClosing: code(421, "4.3.2", "Service shutting down, closing transmission channel"),
  /** RFC 5321 §4.3.2 lets a server drop a client that keeps failing; X.7.0 security/policy. */
  TooManyErrors: code(421, "4.7.0", "Too many errors, closing transmission channel"),
  /** RFC 5321 §3.8: refused at connect, over the per-IP or total connection limit; X.7.0 policy. */
  TooManyConnections: code(421, "4.7.0", "Too many connections, try again later"),
  /** RFC 5321 §4.5.3.2: idle timeout; X.4.2 bad connection. */
  Timeout: code(421, "4.4.2", "Timeout exceeded, closing transmission channel"),
  /** RFC 5321 §4.2.3 451; X.3.0 other mail system status. */
  LocalError: code(451, "4.3.0", "Local error in processing, try again later"),
  /** RFC 5321 §4.2.3 452; X.3.1 mail system full. */
  InsufficientStorage: code(452, "4.3.1", "Insufficient system storage"),
  /** RFC 5321 §4.5.3.1.10: 452 for recipients over the limit; X.5.3 too many recipients. */
  TooManyRecipients: code(452, "4.5.3", "Too many recipients"),
  /** X.2.2 mailbox full, while the quota may still free up. */
  QuotaFullTemporary: code(452, "4.2.2", "Mailbox full, try again later"),
  /** RFC 4954 §6. */
  AuthTemporaryFailure: code(454, "4.7.0", "Temporary authentication failure"),
  /** RFC 3207 §4. */
  TlsNotAvailable: code(454, "4.7.0", "TLS not available due to temporary reason"),

  // --- 5xx: permanent failure
  /** RFC 5321 §4.2.4 500; X.5.1 invalid command. */
  CommandUnrecognized: code(500, "5.5.1", "Command unrecognized"),
  /** RFC 5321 §4.2.4 500 "Syntax error, command unrecognized"; X.5.2: a line no command can be read from. */
  CommandSyntaxError: code(500, "5.5.2", "Syntax error"),
  /** RFC 5321 §4.5.3.1.4: 500 "Line too long"; X.5.2 syntax error. */
  LineTooLong: code(500, "5.5.2", "Line too long"),
  /** RFC 5321 §2.3.8: a command line ends with CRLF only. */
  BareLfInCommand: code(500, "5.5.2", "Command line must end with CRLF"),
  /** RFC 5321 §4.2.4 501; X.5.4 invalid command arguments. */
  SyntaxError: code(501, "5.5.4", "Syntax error in parameters or arguments"),
  /** X.1.7 bad sender's mailbox address syntax. */
  BadSenderAddress: code(501, "5.1.7", "Bad sender address syntax"),
  /** X.1.3 bad destination mailbox address syntax. */
  BadRecipientAddress: code(501, "5.1.3", "Bad recipient address syntax"),
  /** RFC 5321 §4.2.4 502; X.5.1. */
  NotImplemented: code(502, "5.5.1", "Command not implemented"),
  /** RFC 5321 §4.2.4 503; X.5.1. */
  BadSequence: code(503, "5.5.1", "Bad sequence of commands"),
  /** RFC 5321 §4.1.4: a session starts with EHLO or HELO. */
  HelloFirst: code(503, "5.5.1", "Send EHLO or HELO first"),
  /** RFC 5321 §4.1.4: MAIL inside a transaction (503 bad sequence). */
  NestedMail: code(503, "5.5.1", "Sender already given"),
  /** RFC 5321 §4.1.4: RCPT before MAIL. */
  NeedMail: code(503, "5.5.1", "Need MAIL before RCPT"),
  /** RFC 3030 §3: BODY=BINARYMIME must be sent with BDAT. */
  BinaryNeedsBdat: code(503, "5.5.1", "BODY=BINARYMIME requires BDAT"),
  /** RFC 3030 §2: a transaction uses DATA or BDAT, never both. */
  DataBdatMixed: code(503, "5.5.1", "DATA and BDAT cannot be mixed in one transaction"),
  /** RFC 4954 §4: AUTH after a successful AUTH. */
  AlreadyAuthenticated: code(503, "5.5.1", "Already authenticated"),
  /** RFC 3207 §4.2: STARTTLS once TLS is on. */
  AlreadyTls: code(503, "5.5.1", "TLS already active"),
  /** STARTTLS where no certificate is configured, or on the implicit-TLS listener (RFC 8314 §3). */
  TlsNotOffered: code(502, "5.5.1", "STARTTLS not offered here"),
  /** Submission belongs on 587/465 (RFC 6409, RFC 8314); port 25 offers no AUTH. */
  AuthNotOffered: code(502, "5.5.1", "AUTH is not offered here; use the submission port"),
  /** RFC 5321 §3.5.3: EXPN may be disabled; it would list an alias's members to anyone. */
  ExpnRefused: code(502, "5.5.1", "EXPN is not available"),
  /** RFC 4954 §4: a "*" response cancels the exchange and gets 501. */
  AuthCancelled: code(501, "5.0.0", "Authentication cancelled"),
  /** RFC 4954 §4: a response that is not base64. */
  AuthMalformed: code(501, "5.5.2", "Cannot decode authentication response"),
  /** RFC 4954 §4. */
  AuthMechanismUnknown: code(504, "5.5.4", "Unrecognized authentication mechanism"),
  /** RFC 4954 §6. */
  AuthRequired: code(530, "5.7.0", "Authentication required"),
  /** RFC 3207 §4: "530 Must issue a STARTTLS command first". */
  StartTlsRequired: code(530, "5.7.0", "Must issue a STARTTLS command first"),
  /** RFC 8689 §4.1 with RFC 3207 §4's 530: REQUIRETLS needs a TLS session; X.7.10 "encryption needed" (RFC 5248). */
  RequireTlsWithoutTls: code(530, "5.7.10", "REQUIRETLS needs TLS: issue STARTTLS first"),
  /** RFC 4954 §6. */
  AuthFailed: code(535, "5.7.8", "Authentication credentials invalid"),
  /** RFC 4954 §6: the mechanism needs TLS. */
  EncryptionRequired: code(538, "5.7.11", "Encryption required for requested authentication mechanism"),
  /** RFC 5321 §4.2.4 550; X.1.1 bad destination mailbox address. */
  MailboxUnavailable: code(550, "5.1.1", "Mailbox unavailable"),
  /**
   * X.7.1 delivery not authorized. Postfix answers 554 5.7.1 "Relay access denied"; we answer 550,
   * the RFC 5321 §4.2.4 code for "not taken: mailbox unavailable … command rejected for policy
   * reasons", which is what RCPT rejections are made of.
   */
  RelayDenied: code(550, "5.7.1", "Relay access denied"),
  /**
   * RFC 7372 §3.4 X.7.26 multiple authentication checks failed: a message failing DMARC (RFC
   * 7489 §6.6.4) under a reject policy; see smtp/inbound/message-checks.ts.
   */
  AuthenticationChecksFailed: code(550, "5.7.26", "Multiple authentication checks failed"),
  /** RFC 1870 §6.3 / RFC 5321 §4.2.4 552; X.3.4 message too big for system. */
  MessageTooBig: code(552, "5.3.4", "Message size exceeds fixed maximum message size"),
  /** RFC 1870 §6.2: SIZE larger than we accept is refused at MAIL. */
  DeclaredTooBig: code(552, "5.3.4", "Declared message size exceeds the maximum"),
  /** X.2.2 mailbox full, and it will stay full. */
  QuotaFullPermanent: code(552, "5.2.2", "Mailbox full"),
  /** Submission with a From/MAIL FROM the account does not own; X.7.1 not authorized. */
  SenderNotOwned: code(553, "5.7.1", "Sender address not owned by authenticated user"),
  /** RFC 6531 §3.7.4.1 / RFC 6533 §4: X.6.7 non-ASCII addresses not permitted. */
  NonAsciiAddressNotPermitted: code(553, "5.6.7", "Non-ASCII address requires SMTPUTF8"),
  /** RFC 5321 §3.3: DATA with every recipient refused. */
  NoValidRecipients: code(554, "5.5.1", "No valid recipients"),
  /**
   * A DATA body with a bare CR or LF (RFC 5321 §2.3.8 allows CRLF only): the SMTP smuggling defence.
   * No enhanced code is registered for this; X.5.2 (syntax error) names the fault, as Postfix's
   * bare-newline check does, and 554 is the RFC 5321 §4.3.2 "transaction failed" reply to DATA.
   */
  BareLineEnding: code(554, "5.5.2", "Message contains bare CR or LF line endings"),
  /**
   * RFC 5321 §4.5.3.1.6: text lines are at most 1000 octets with CRLF. A longer line cannot be
   * relayed intact (a later hop would have to break it and change the message and its DKIM
   * signature), so the message is refused whole; X.6.0 other media error, 554 transaction failed.
   */
  TextLineTooLong: code(554, "5.6.0", "Message contains a line longer than 998 octets (RFC 5321 4.5.3.1.6)"),
  /** RFC 5321 §4.1.1.11: a parameter of an extension that was not advertised. */
  ParameterNotOffered: code(555, "5.5.4", "Parameter of an extension not offered"),
  /** RFC 5321 §4.1.1.11 / §4.2.4 555; X.5.4. */
  ParamNotRecognized: code(555, "5.5.4", "MAIL FROM/RCPT TO parameters not recognized or not implemented"),
} satisfies Record<string, ReplyCode>);

export type ReplyName = keyof typeof ReplyCodes;

/** Builds a reply from a named code; without `lines` the default text is used. */
export function reply(replyCode: ReplyCode, ...lines: string[]): SmtpReply {
  return { code: replyCode.code, enhanced: replyCode.enhanced, lines: lines.length > 0 ? lines : [replyCode.text] };
}

/** RFC 5321 §4.2 greeting: "220 <domain> ESMTP <text>" (no enhanced code: RFC 2034 §3). */
export function greetingReply(hostname: string, text: string): SmtpReply {
  return { code: 220, enhanced: null, lines: [`${hostname} ESMTP ${text}`.trimEnd()] };
}

/** RFC 5321 §3.1: refusing service at connect ("554 <domain> No SMTP service here"). */
export function noServiceReply(hostname: string, text = "No SMTP service here"): SmtpReply {
  return { code: 554, enhanced: null, lines: [`${hostname} ${text}`] };
}

/**
 * RFC 5321 §4.1.1.1 ehlo-ok-rsp: the first line is "<domain> [greeting]", then one ehlo-line per
 * extension ("SIZE 10240000", "AUTH PLAIN LOGIN"). No enhanced codes (RFC 2034 §3).
 */
export function ehloReply(hostname: string, greeting: string, extensions: readonly string[]): SmtpReply {
  return { code: 250, enhanced: null, lines: [`${hostname} ${greeting}`.trimEnd(), ...extensions] };
}

/** RFC 5321 §4.1.1.1: the HELO reply is one line, and advertises nothing. */
export function heloReply(hostname: string, greeting: string): SmtpReply {
  return { code: 250, enhanced: null, lines: [`${hostname} ${greeting}`.trimEnd()] };
}

/**
 * The one mapping from a command-grammar error to its reply, so every session answers alike.
 * RFC 5321 §4.2.4 / §4.1.1.11: unknown verb 500, bad arguments 501, unknown parameters 555.
 */
export function replyForSyntaxError(error: SmtpSyntaxError): SmtpReply {
  switch (error.reason) {
    case "line-too-long":
      return reply(ReplyCodes.LineTooLong);
    case "control-character":
    case "invalid-utf8":
      return reply(ReplyCodes.CommandSyntaxError);
    case "unrecognized":
      return reply(ReplyCodes.CommandUnrecognized);
    case "parameter-unrecognized":
      return reply(ReplyCodes.ParamNotRecognized);
    case "address":
      if (error.address?.reason === "utf8-not-permitted") return reply(ReplyCodes.NonAsciiAddressNotPermitted);
      return reply(error.verb === "MAIL" ? ReplyCodes.BadSenderAddress : ReplyCodes.BadRecipientAddress, `Bad address syntax: ${error.message}`);
    case "syntax":
    case "parameter-syntax":
    case "parameter-invalid":
    case "parameter-duplicate":
      return reply(ReplyCodes.SyntaxError, error.message);
  }
}
