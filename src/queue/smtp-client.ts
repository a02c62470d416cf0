// The outbound SMTP client: one connection to one remote server, driven by the queue's delivery
// attempts. Greeting → EHLO (HELO when EHLO is refused) → STARTTLS when offered (RFC 3207) → EHLO
// again → AUTH PLAIN for smarthosts (RFC 4954) → transactions. The grammar (reply lines, xtext)
// comes from smtp/protocol; this file owns the socket, the deadlines and the pipelining.
import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls, rootCertificates, type TLSSocket } from "node:tls";
import { DotStuffer } from "../mail/dot-stuffing.js";
import { encodeXtext, ReplyParser, type SmtpReply } from "../smtp/protocol/index.js";

export type ClientTlsMode = "opportunistic" | "required" | "implicit" | "none";

export interface SmtpClientOptions {
  /** Address to connect to (an IP, or a name the OS resolves). */
  address: string;
  port: number;
  /** The server's host name: the TLS server name (SNI) and what logs and bounces name. */
  serverName: string;
  /** Our name in EHLO (RFC 5321 §4.1.1.1: our FQDN). */
  heloName: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  tls: ClientTlsMode;
  /** Verify the server certificate; opportunistic TLS to MX hosts does not (RFC 7435 §4). */
  verifyCertificate?: boolean;
  /** Extra trust anchors (PEM), e.g. a test CA, trusted beside the system's. */
  ca?: string | Buffer;
  auth?: { username: string; password: string } | null;
  /**
   * Authenticates the server once TLS is up, instead of (or beside) PKIX verification: DANE
   * (queue/dane.ts). Returns why the peer is refused, or null to go on.
   */
  verifyPeer?: (socket: TLSSocket) => string | null;
}

/** A failure before or outside a transaction; `temporary` says whether a retry may succeed. */
export class SmtpClientError extends Error {
  readonly temporary: boolean;
  readonly reply: SmtpReply | null;
  /** Our RFC 3463 status for a failure without a reply (e.g. 4.7.5 for a refused certificate), or null. */
  readonly status: string | null;
  constructor(message: string, temporary: boolean, reply: SmtpReply | null = null, status: string | null = null) {
    super(message);
    this.name = "SmtpClientError";
    this.temporary = temporary;
    this.reply = reply;
    this.status = status;
  }
}

/**
 * TLS could not be had with this server: STARTTLS missing or refused where TLS is required, the
 * handshake failed (`code`: OpenSSL's or Node's error code, e.g. CERT_HAS_EXPIRED), or the
 * handshake succeeded but `verifyPeer` (DANE) refused the server ("peer"). What follows (fall
 * back to plaintext, defer, a TLS-RPT failure type) is queue/tls-outcome.ts's call.
 */
export class TlsFailure extends SmtpClientError {
  readonly stage: "starttls" | "handshake" | "peer";
  readonly code: string | null;
  constructor(message: string, stage: "starttls" | "handshake" | "peer", code: string | null, reply: SmtpReply | null = null, status: string | null = null) {
    super(message, true, reply, status);
    this.name = "TlsFailure";
    this.stage = stage;
    this.code = code;
  }
}

export interface OutboundEnvelope {
  /** "" for the null reverse-path. */
  mailFrom: string;
  recipients: { address: string; notify: string[] | null; originalRecipient: string | null }[];
  envelopeId: string | null;
  ret: "FULL" | "HDRS" | null;
  /** BODY= to declare (null: none). */
  body: "8BITMIME" | "BINARYMIME" | null;
  smtputf8: boolean;
  size: number;
  /** RFC 8689 REQUIRETLS on MAIL FROM (the caller checked the server offers it). */
  requireTls?: boolean;
}

export interface TransactionReplies {
  mail: SmtpReply;
  /** One per envelope recipient, in order; absent when MAIL failed. */
  recipients: SmtpReply[];
  /** The reply after the message data, or null when no recipient was accepted. */
  data: SmtpReply | null;
}

/** One reply as text for logs, bounces and `mailroom queue`: "550 5.1.1 No such user". */
export function replyText(reply: SmtpReply): string {
  return [String(reply.code), reply.enhanced, reply.lines.join(" ")].filter((part) => part !== null && part !== "").join(" ");
}

export class SmtpClient {
  #socket: Socket | TLSSocket;
  readonly #options: SmtpClientOptions;
  readonly #parser = new ReplyParser();
  #buffer = "";
  #replies: SmtpReply[] = [];
  #waiters: { resolve: (reply: SmtpReply) => void; reject: (error: Error) => void }[] = [];
  #failure: Error | null = null;
  /** EHLO keywords (upper case) → their parameters. */
  extensions = new Map<string, string>();
  secure = false;

  private constructor(socket: Socket | TLSSocket, options: SmtpClientOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#attach(socket);
  }

  /** Connects and runs the session up to the first transaction; closes the socket on failure. */
  static async open(options: SmtpClientOptions): Promise<SmtpClient> {
    const socket = await openSocket(options);
    const client = new SmtpClient(socket, options);
    client.secure = options.tls === "implicit";
    try {
      await client.#start();
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  async #start(): Promise<void> {
    // RFC 5321 §4.5.3.2.1: the greeting gets the connect deadline.
    const greeting = await this.#read(this.#options.connectTimeoutMs);
    if (greeting.code !== 220) throw new SmtpClientError(`greeting: ${replyText(greeting)}`, greeting.code < 500, greeting);
    await this.#hello();
    const wantTls = this.#options.tls === "opportunistic" || this.#options.tls === "required";
    if (wantTls && !this.secure && this.extensions.has("STARTTLS")) {
      const answer = await this.command("STARTTLS");
      if (answer.code === 220) {
        await this.#upgrade();
        // RFC 3207 §4.2: forget what was learned before TLS and ask again.
        await this.#hello();
      } else if (this.#options.tls === "required") {
        throw new TlsFailure(`STARTTLS refused: ${replyText(answer)}`, "starttls", null, answer);
      }
    }
    if (this.#options.tls === "required" && !this.secure) throw new TlsFailure("TLS required but the server does not offer STARTTLS", "starttls", null);
    if (this.#options.auth) await this.#authenticate(this.#options.auth);
  }

  async #hello(): Promise<void> {
    const ehlo = await this.command(`EHLO ${this.#options.heloName}`);
    this.extensions = new Map();
    if (ehlo.code === 250) {
      // RFC 5321 §4.1.1.1: the first line is the server's name, each further line an extension.
      for (const line of ehlo.lines.slice(1)) {
        const [keyword = "", ...params] = line.trim().split(/\s+/);
        if (keyword !== "") this.extensions.set(keyword.toUpperCase(), params.join(" "));
      }
      return;
    }
    // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; fall back to HELO.
    if (ehlo.code >= 500) {
      const helo = await this.command(`HELO ${this.#options.heloName}`);
      if (helo.code === 250) return;
      throw new SmtpClientError(`HELO: ${replyText(helo)}`, helo.code < 500, helo);
    }
    throw new SmtpClientError(`EHLO: ${replyText(ehlo)}`, true, ehlo);
  }

  async #upgrade(): Promise<void> {
    // RFC 3207 §5 / RFC 3207 §6: bytes that arrived after the 220 were not protected; a server that
    // sent them is not trusted with the session.
    if (this.#buffer !== "" || this.#replies.length > 0) throw new SmtpClientError("data after the STARTTLS reply", true);
    const plain = this.#socket as Socket;
    plain.removeAllListeners("data");
    const tls = connectTls({
      socket: plain,
      servername: isIpLiteral(this.#options.serverName) ? undefined : this.#options.serverName,
      rejectUnauthorized: this.#options.verifyCertificate ?? false,
      ...trustAnchors(this.#options.ca),
    });
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        tls.once("secureConnect", resolve);
        tls.once("error", reject);
      }),
      this.#options.commandTimeoutMs,
      "TLS handshake",
    ).catch((error: unknown) => {
      tls.destroy();
      const code = (error as { code?: unknown }).code;
      throw new TlsFailure(`TLS handshake with ${this.#options.serverName} failed: ${tlsFailureReason(error)}`, "handshake", typeof code === "string" ? code : null);
    });
    const refused = this.#options.verifyPeer?.(tls) ?? null;
    if (refused !== null) {
      // RFC 7672 §2.2: an unauthenticated server gets nothing, not even a QUIT over the session.
      tls.destroy();
      throw new TlsFailure(`${this.#options.serverName} not authenticated: ${refused}`, "peer", null, null, "4.7.5");
    }
    this.#socket = tls;
    this.#attach(tls);
    this.secure = true;
  }

  async #authenticate(auth: { username: string; password: string }): Promise<void> {
    const mechanisms = (this.extensions.get("AUTH") ?? "").toUpperCase().split(/\s+/);
    if (!mechanisms.includes("PLAIN")) throw new SmtpClientError("the relay does not offer AUTH PLAIN", false);
    if (!this.secure && this.#options.tls !== "none") throw new SmtpClientError("refusing to send a password without TLS", true);
    // RFC 4616 §2: authzid NUL authcid NUL passwd.
    const token = Buffer.from(`\0${auth.username}\0${auth.password}`, "utf8").toString("base64");
    const answer = await this.command(`AUTH PLAIN ${token}`);
    if (answer.code !== 235) throw new SmtpClientError(`AUTH: ${replyText(answer)}`, answer.code < 500, answer);
  }

  /** Sends one command line and reads its reply. */
  async command(line: string): Promise<SmtpReply> {
    this.#write(`${line}\r\n`);
    return this.#read(this.#options.commandTimeoutMs);
  }

  /**
   * One mail transaction. With PIPELINING (RFC 2920 §3.1) MAIL, every RCPT and DATA go in one
   * write and the replies are read in order; without it, one command at a time. The body is
   * dot-stuffed on the way out (RFC 5321 §4.5.2) and written with back-pressure.
   */
  async send(envelope: OutboundEnvelope, body: AsyncIterable<Buffer>): Promise<TransactionReplies> {
    const mailLine = `MAIL FROM:<${envelope.mailFrom}>${this.#mailParameters(envelope)}`;
    const rcptLines = envelope.recipients.map((r) => `RCPT TO:<${r.address}>${this.#rcptParameters(r)}`);
    let dataReply: SmtpReply;
    let mail: SmtpReply;
    const recipients: SmtpReply[] = [];
    if (this.extensions.has("PIPELINING")) {
      this.#write([mailLine, ...rcptLines, "DATA"].map((line) => `${line}\r\n`).join(""));
      mail = await this.#read(this.#options.commandTimeoutMs);
      for (let i = 0; i < rcptLines.length; i++) recipients.push(await this.#read(this.#options.commandTimeoutMs));
      dataReply = await this.#read(this.#options.commandTimeoutMs);
      if (mail.code >= 300) return { mail, recipients: [], data: null };
    } else {
      mail = await this.command(mailLine);
      if (mail.code >= 300) return { mail, recipients: [], data: null };
      for (const line of rcptLines) recipients.push(await this.command(line));
      if (!recipients.some((r) => r.code < 300)) {
        await this.command("RSET");
        return { mail, recipients, data: null };
      }
      dataReply = await this.command("DATA");
    }
    const accepted = recipients.some((r) => r.code < 300);
    if (dataReply.code !== 354) {
      if (accepted) return { mail, recipients, data: dataReply };
      return { mail, recipients, data: null };
    }
    if (!accepted) {
      // RFC 2920 §3.1: DATA was accepted although no recipient was; send an empty message's end.
      this.#write(".\r\n");
      await this.#read(this.#options.commandTimeoutMs);
      return { mail, recipients, data: null };
    }
    await this.#writeBody(body);
    // RFC 5321 §4.5.3.2.6: the final reply may take a while; 10 minutes is suggested.
    const data = await this.#read(Math.max(this.#options.commandTimeoutMs, 2 * this.#options.commandTimeoutMs));
    return { mail, recipients, data };
  }

  #mailParameters(envelope: OutboundEnvelope): string {
    const params: string[] = [];
    // RFC 1870 §6: declare the size when the server takes SIZE.
    if (this.extensions.has("SIZE")) params.push(`SIZE=${envelope.size}`);
    if (envelope.body !== null) params.push(`BODY=${envelope.body}`);
    if (envelope.smtputf8) params.push("SMTPUTF8");
    if (envelope.requireTls === true) params.push("REQUIRETLS");
    // RFC 3461 §4.3-4.4: RET and ENVID only to servers that offer DSN.
    if (this.extensions.has("DSN")) {
      if (envelope.ret !== null) params.push(`RET=${envelope.ret}`);
      if (envelope.envelopeId !== null) params.push(`ENVID=${encodeXtext(envelope.envelopeId)}`);
    }
    return params.length > 0 ? ` ${params.join(" ")}` : "";
  }

  #rcptParameters(recipient: OutboundEnvelope["recipients"][number]): string {
    if (!this.extensions.has("DSN")) return "";
    const params: string[] = [];
    if (recipient.notify !== null && recipient.notify.length > 0) params.push(`NOTIFY=${recipient.notify.join(",")}`);
    if (recipient.originalRecipient !== null) {
      // Stored as "addr-type;address" with the address decoded; RFC 3461 §4.2 wants it xtext-encoded.
      const semicolon = recipient.originalRecipient.indexOf(";");
      if (semicolon > 0) params.push(`ORCPT=${recipient.originalRecipient.slice(0, semicolon)};${encodeXtext(recipient.originalRecipient.slice(semicolon + 1))}`);
    }
    return params.length > 0 ? ` ${params.join(" ")}` : "";
  }

  async #writeBody(body: AsyncIterable<Buffer>): Promise<void> {
    const stuffer = new DotStuffer();
    for await (const chunk of body) {
      for (const part of stuffer.push(chunk)) await this.#writeWithBackPressure(part);
    }
    await this.#writeWithBackPressure(stuffer.end());
  }

  async #writeWithBackPressure(bytes: Buffer): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#socket.write(bytes)) return;
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.#socket.off("close", onClose);
          resolve();
        };
        const onClose = () => {
          this.#socket.off("drain", onDrain);
          reject(this.#failure ?? new SmtpClientError("connection closed while sending", true));
        };
        this.#socket.once("drain", onDrain);
        this.#socket.once("close", onClose);
      }),
      this.#options.commandTimeoutMs,
      "sending the message",
    );
  }

  /** RSET between transactions on a reused connection. */
  async reset(): Promise<boolean> {
    const answer = await this.command("RSET");
    return answer.code === 250;
  }

  /** QUIT politely (RFC 5321 §4.1.1.10), then close whatever the server says. */
  async quit(): Promise<void> {
    try {
      if (!this.#failure) await this.command("QUIT").catch(() => undefined);
    } finally {
      this.close();
    }
  }

  close(): void {
    this.#socket.destroy();
  }

  /** The negotiated TLS version ("TLSv1.3"), or null on a plaintext session. */
  get tlsProtocol(): string | null {
    return this.secure && "getProtocol" in this.#socket ? (this.#socket as TLSSocket).getProtocol() : null;
  }

  get usable(): boolean {
    return this.#failure === null;
  }

  #write(text: string): void {
    if (this.#failure) throw this.#failure;
    this.#socket.write(text);
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => this.#receive(chunk));
    socket.on("error", (error: Error) => this.#fail(new SmtpClientError(`connection error: ${error.message}`, true)));
    socket.on("close", () => this.#fail(new SmtpClientError("connection closed by the server", true)));
  }

  #receive(chunk: string): void {
    this.#buffer += chunk;
    for (;;) {
      const end = this.#buffer.indexOf("\n");
      if (end < 0) break;
      const line = this.#buffer.slice(0, end).replace(/\r$/, "");
      this.#buffer = this.#buffer.slice(end + 1);
      const step = this.#parser.push(Buffer.from(line, "latin1").toString("utf8"));
      if (step === null) continue;
      if ("kind" in step) {
        this.#fail(new SmtpClientError(`the server does not speak SMTP: ${step.message}`, true));
        this.#socket.destroy();
        return;
      }
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(step);
      else this.#replies.push(step);
    }
    if (this.#buffer.length > 64 * 1024) {
      this.#fail(new SmtpClientError("reply line too long", true));
      this.#socket.destroy();
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure);
  }

  #read(timeoutMs: number): Promise<SmtpReply> {
    const ready = this.#replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<SmtpReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        // A late reply would pair with the wrong command: the connection is done.
        this.#fail(new SmtpClientError(`no reply within ${timeoutMs} ms`, true));
        this.#socket.destroy();
        reject(this.#failure!);
      }, timeoutMs);
      const waiter = {
        resolve: (reply: SmtpReply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}

/** Extra anchors are trusted beside the system's, not instead of them (node's `ca` replaces). */
function trustAnchors(ca: string | Buffer | undefined): { ca?: (string | Buffer)[] } {
  return ca === undefined ? {} : { ca: [...rootCertificates, ca] };
}

function isIpLiteral(name: string): boolean {
  return /^[0-9.]+$/.test(name) || name.includes(":");
}

function openSocket(options: SmtpClientOptions): Promise<Socket | TLSSocket> {
  const where = `${options.serverName} [${options.address}]:${options.port}`;
  return new Promise<Socket | TLSSocket>((resolve, reject) => {
    const socket =
      options.tls === "implicit"
        ? connectTls({
            host: options.address,
            port: options.port,
            servername: isIpLiteral(options.serverName) ? undefined : options.serverName,
            rejectUnauthorized: options.verifyCertificate ?? true,
            ...trustAnchors(options.ca),
          })
        : connectTcp({ host: options.address, port: options.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SmtpClientError(`connect to ${where}: no answer within ${options.connectTimeoutMs} ms`, true));
    }, options.connectTimeoutMs);
    socket.once(options.tls === "implicit" ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new SmtpClientError(`connect to ${where}: ${options.tls === "implicit" ? tlsFailureReason(error) : oneLine(error.message)}`, true));
    });
  });
}

/**
 * One line of text for results, logs and bounces: a diagnostic is stored as a recipient's last
 * result and quoted in a DSN's Diagnostic-Code, where a line break would start a new field.
 */
export function oneLine(text: string, maxLength = 300): string {
  const flat = text.replace(/[\x00-\x1f\x7f]+/g, " ").replace(/ {2,}/g, " ").trim();
  return flat.length > maxLength ? `${flat.slice(0, maxLength - 1)}…` : flat;
}

/**
 * Why a TLS handshake failed, in words. OpenSSL's errors arrive as Node errors whose message is
 * the raw error queue ("C0...:error:0A00010B:SSL routines:ssl3_get_record:wrong version
 * number:../ssl/record/ssl3_record.c:354:" and a line break); the reason and code fields say the
 * same thing readably. Certificate failures (self-signed, expired, wrong name) are already plain.
 */
export function tlsFailureReason(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error));
  const { reason, code } = error as Error & { reason?: unknown; code?: unknown };
  if (typeof reason === "string" && reason !== "") return oneLine(typeof code === "string" ? `${reason} (${code})` : reason);
  if (/:error:[0-9A-F]+:/.test(error.message)) {
    // An OpenSSL queue without the fields: keep the reason of its first entry.
    const fields = error.message.split(":");
    return oneLine(fields[fields.indexOf("error") + 4] ?? "TLS error");
  }
  return oneLine(error.message);
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SmtpClientError(`${what}: no answer within ${ms} ms`, true)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
