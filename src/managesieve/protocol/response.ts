// ManageSieve responses (RFC 5804 §1.2, §4): "OK" / "NO" / "BYE", an optional response code in
// parentheses, an optional human-readable string; capability lines ("NAME" "value"); strings sent
// quoted when they can be, as a literal ({n} CRLF octets) otherwise. Pure encoders: text from
// anywhere (a script's error, a client-chosen name) cannot end a response early or forge another.
import { isUtf8 } from "node:buffer";

export type ResponseCode =
  | "AUTH-TOO-WEAK"
  | "ENCRYPT-NEEDED"
  | "QUOTA"
  | "QUOTA/MAXSCRIPTS"
  | "QUOTA/MAXSIZE"
  | "SASL"
  | "TRANSITION-NEEDED"
  | "TRYLATER"
  | "ACTIVE"
  | "NONEXISTENT"
  | "ALREADYEXISTS"
  | "WARNINGS"
  | "TAG";

export interface Response {
  readonly status: "OK" | "NO" | "BYE";
  readonly code: ResponseCode | null;
  /** The code's argument: SASL's final server data, TAG's string (RFC 5804 §1.3). */
  readonly codeArgument?: string;
  readonly text: string;
}

export const ok = (text: string, code: ResponseCode | null = null, codeArgument?: string): Response => ({ status: "OK", code, text, ...(codeArgument !== undefined ? { codeArgument } : {}) });
export const no = (text: string, code: ResponseCode | null = null): Response => ({ status: "NO", code, text });
export const bye = (text: string, code: ResponseCode | null = null): Response => ({ status: "BYE", code, text });

/** Quoted when short and free of CR, LF and NUL; a literal otherwise (RFC 5804 §4 string). */
export function encodeString(value: string | Buffer): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  // Escaping can double the length: the quoted form must stay within RFC 5804's 1024 octets.
  if (bytes.length <= 512 && !bytes.includes(0x0d) && !bytes.includes(0x0a) && !bytes.includes(0x00) && isUtf8(bytes)) {
    return Buffer.from(`"${bytes.toString("utf8").replace(/[\\"]/g, (c) => `\\${c}`)}"`, "utf8");
  }
  return Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`, "latin1"), bytes]);
}

export function encodeResponse(response: Response): Buffer {
  const parts: Buffer[] = [Buffer.from(response.status, "latin1")];
  if (response.code !== null) {
    parts.push(Buffer.from(` (${response.code}`, "latin1"));
    if (response.codeArgument !== undefined) parts.push(Buffer.from(" ", "latin1"), encodeString(response.codeArgument));
    parts.push(Buffer.from(")", "latin1"));
  }
  if (response.text !== "") parts.push(Buffer.from(" ", "latin1"), encodeString(response.text));
  parts.push(Buffer.from("\r\n", "latin1"));
  return Buffer.concat(parts);
}

/** RFC 5804 §1.7: one capability per line, its name and (for most) a value, both strings. */
export function encodeCapabilities(capabilities: readonly (readonly [string, string | null])[]): Buffer {
  return Buffer.concat(
    capabilities.map(([name, value]) => Buffer.concat([encodeString(name), ...(value === null ? [] : [Buffer.from(" ", "latin1"), encodeString(value)]), Buffer.from("\r\n", "latin1")])),
  );
}

/** RFC 5804 §2.1: a SASL challenge is a string of base64 on its own line. */
export function encodeChallenge(base64: string): Buffer {
  return Buffer.concat([encodeString(base64), Buffer.from("\r\n", "latin1")]);
}
