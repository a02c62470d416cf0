// Replies the session needs beyond smtp/protocol's named codes, kept here with their reasons.
// (smtp/protocol is owned elsewhere; these may move there.)
import type { ReplyCode } from "../protocol/index.js";

function code(code: number, enhanced: string, text: string): ReplyCode {
  return Object.freeze({ code, enhanced, text });
}

export const SessionReplies = Object.freeze({
  /**
   * RFC 5321 §4.5.3.1.6: text lines are at most 1000 octets with CRLF. A longer line cannot be
   * relayed intact (a later hop would have to break it and change the message and its DKIM
   * signature), so the message is refused whole; X.6.0 other media error, 554 transaction failed.
   */
  TextLineTooLong: code(554, "5.6.0", "Message contains a line longer than 998 octets (RFC 5321 4.5.3.1.6)"),
  /** RFC 3030 §3: BODY=BINARYMIME must be sent with BDAT. */
  BinaryNeedsBdat: code(503, "5.5.1", "BODY=BINARYMIME requires BDAT"),
  /** RFC 3030 §2: a transaction uses DATA or BDAT, never both. */
  DataBdatMixed: code(503, "5.5.1", "DATA and BDAT cannot be mixed in one transaction"),
  /** Submission belongs on 587/465 (RFC 6409, RFC 8314); port 25 offers no AUTH. */
  AuthNotOffered: code(502, "5.5.1", "AUTH is not offered here; use the submission port"),
  /** RFC 4954 §4: a "*" response cancels the exchange and gets 501. */
  AuthCancelled: code(501, "5.0.0", "Authentication cancelled"),
  /** RFC 4954 §4: a response that is not base64. */
  AuthMalformed: code(501, "5.5.2", "Cannot decode authentication response"),
  AlreadyAuthenticated: code(503, "5.5.1", "Already authenticated"),
  AlreadyTls: code(503, "5.5.1", "TLS already active"),
  TlsNotOffered: code(502, "5.5.1", "STARTTLS not offered here"),
  /** RFC 5321 §4.1.4: a session starts with EHLO or HELO. */
  HelloFirst: code(503, "5.5.1", "Send EHLO or HELO first"),
  NestedMail: code(503, "5.5.1", "Sender already given"),
  NeedMail: code(503, "5.5.1", "Need MAIL before RCPT"),
  NeedRcpt: code(503, "5.5.1", "Need RCPT before DATA"),
  /** RFC 5321 §2.3.8: a command line ends with CRLF only. */
  BareLfInCommand: code(500, "5.5.2", "Command line must end with CRLF"),
  /** RFC 1870 §6.2: SIZE larger than we accept is refused at MAIL. */
  DeclaredTooBig: code(552, "5.3.4", "Declared message size exceeds the maximum"),
  /** RFC 5321 §4.1.1.11: a parameter of an extension that was not advertised. */
  ParameterNotOffered: code(555, "5.5.4", "Parameter of an extension not offered"),
  ExpnRefused: code(502, "5.5.1", "EXPN is not available"),
} satisfies Record<string, ReplyCode>);
