// Every client-controlled size and time has a key here: line lengths, literal and message sizes,
// recipient counts, connection counts and the idle and deadline timers. Sizes are bytes, times
// are milliseconds. The defaults follow the RFC minimums cited beside each key.

import { DEFAULT_MIME_MAX_DEPTH, DEFAULT_MIME_MAX_PARTS } from "../mail/mime-tree.js";
import { duration, integer, computedKey, key, size, type SectionSpec } from "./value-kinds.js";

export interface Limits {
  smtpLineLength: number;
  smtpTextLineLength: number;
  maxMessageSize: number;
  maxRecipients: number;
  maxSmtpErrors: number;
  imapLineLength: number;
  imapLiteralSize: number;
  pop3LineLength: number;
  connectionsPerIp: number;
  connectionsTotal: number;
  smtpIdle: number;
  smtpCommandDeadline: number;
  smtpTransactionDeadline: number;
  imapIdle: number;
  imapUnauthenticatedIdle: number;
  pop3Idle: number;
  pop3UnauthenticatedIdle: number;
  pop3CommandDeadline: number;
  tlsHandshakeTimeout: number;
  proxyProtocolTimeout: number;
  mimeMaxDepth: number;
  mimeMaxParts: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const LIMITS_SPEC: SectionSpec<Limits> = {
  // RFC 5321 §4.5.3.1.4: a command line is at least 512 octets including CRLF; less would break clients.
  smtpLineLength: key(size({ min: 512, max: MiB }), 512, "longest SMTP command line, CRLF included (RFC 5321 §4.5.3.1.4: at least 512)"),
  // RFC 5321 §4.5.3.1.6: a text line is at least 1000 octets including CRLF.
  smtpTextLineLength: key(size({ min: 1000, max: MiB }), 1000, "longest line inside an SMTP message body, CRLF included (RFC 5321 §4.5.3.1.6: at least 1000)"),
  maxMessageSize: key(size({ min: 1024, max: 4 * GiB }), 50 * MiB, "largest message accepted (SMTP SIZE, RFC 1870)"),
  // RFC 5321 §4.5.3.1.8: servers must buffer at least 100 recipients; fewer is allowed but non-conforming.
  maxRecipients: key(integer({ min: 1, max: 100_000 }), 100, "most RCPT TO per SMTP transaction (RFC 5321 §4.5.3.1.8: at least 100)"),
  maxSmtpErrors: key(integer({ min: 1, max: 1000 }), 10, "SMTP errors a client may cause before it is disconnected"),
  imapLineLength: key(size({ min: 1000, max: 16 * MiB }), 64 * 1024, "longest IMAP command line outside literals"),
  // RFC 7889 APPENDLIMIT: a literal is a message being appended, so it shares the message limit by default.
  imapLiteralSize: computedKey(
    size({ min: 1024, max: 4 * GiB }),
    (_context, earlier) => earlier.maxMessageSize ?? 50 * MiB,
    "max_message_size",
    "largest IMAP literal, the APPENDLIMIT (RFC 7889)",
  ),
  // RFC 2449 §4: a command line is at most 255 octets including CRLF.
  pop3LineLength: key(size({ min: 255, max: MiB }), 255, "longest POP3 command line, CRLF included (RFC 2449 §4: 255)"),
  connectionsPerIp: key(integer({ min: 1, max: 1_000_000 }), 20, "concurrent connections from one IP address (IPv6: one /64)"),
  connectionsTotal: key(integer({ min: 1, max: 1_000_000 }), 5000, "concurrent connections over all listeners"),
  // RFC 5321 §4.5.3.2.7: the server should wait at least 5 minutes for the next command.
  smtpIdle: key(duration({ minMs: 1000 }), 5 * MINUTE, "SMTP idle time before the session is closed (RFC 5321 §4.5.3.2.7: at least 5m)"),
  smtpCommandDeadline: key(duration({ minMs: 1000 }), 5 * MINUTE, "time a client has to finish sending one SMTP command line"),
  smtpTransactionDeadline: key(duration({ minMs: 1000 }), 30 * MINUTE, "time from MAIL FROM to the end of the message data"),
  // RFC 9051 §5.4: the autologout timer is at least 30 minutes once authenticated.
  imapIdle: key(duration({ minMs: 1000 }), 30 * MINUTE, "IMAP idle time of an authenticated session (RFC 9051 §5.4: at least 30m)"),
  imapUnauthenticatedIdle: key(duration({ minMs: 1000 }), MINUTE, "IMAP idle time before login"),
  // RFC 1939 §3: the inactivity autologout timer is at least 10 minutes.
  pop3Idle: key(duration({ minMs: 1000 }), 10 * MINUTE, "POP3 idle time of a logged-in session (RFC 1939 §3: at least 10m)"),
  // RFC 1939 §3's ten minutes are for a session in TRANSACTION; before login nothing is at stake for
  // the client, so the wait is as short as IMAP's.
  pop3UnauthenticatedIdle: key(duration({ minMs: 1000 }), MINUTE, "POP3 idle time before login"),
  pop3CommandDeadline: key(duration({ minMs: 1000 }), MINUTE, "time a client has to finish sending one POP3 command line (at most 255 octets)"),
  tlsHandshakeTimeout: key(duration({ minMs: 100, maxMs: HOUR }), 10_000, "time a client has to complete a TLS handshake"),
  proxyProtocolTimeout: key(duration({ minMs: 100, maxMs: 10 * MINUTE }), 5000, "time a load balancer in server.proxy_protocol_trusted has to send its PROXY protocol header"),
  // The MIME tree stored for every message (mail/mime-tree.ts, where the defaults are argued):
  // past these the rest is kept as one opaque leaf; the message itself is never refused.
  mimeMaxDepth: key(integer({ min: 2, max: 100 }), DEFAULT_MIME_MAX_DEPTH, "nesting depth of MIME multiparts and attached messages parsed; deeper ones are one opaque part"),
  mimeMaxParts: key(integer({ min: 10, max: 10_000 }), DEFAULT_MIME_MAX_PARTS, "MIME parts parsed per message; the part that reaches it holds the rest of the message as one opaque part"),
};
