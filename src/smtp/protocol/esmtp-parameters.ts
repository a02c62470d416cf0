// ESMTP parameters of MAIL FROM and RCPT TO (RFC 5321 §4.1.2 esmtp-param), typed per extension.
// The parser knows every parameter Mailroom implements; whether the extension was advertised on
// this listener is the session's question, not the grammar's.
import { parseMailbox, type EnvelopeMailbox } from "../../mail/address.js";
import { decodeUtf8AddrXtext, decodeXtext } from "./xtext.js";

export interface RawParameter {
  /** Upper-cased esmtp-keyword. */
  readonly keyword: string;
  readonly value: string | null;
}

export type BodyType = "7BIT" | "8BITMIME" | "BINARYMIME";

export type AuthParameter = { readonly kind: "null" } | { readonly kind: "mailbox"; readonly mailbox: EnvelopeMailbox };

export interface MailParameters {
  /** RFC 1870 §3: the declared message size in octets. */
  readonly size: number | null;
  /** RFC 6152 §2 (8BITMIME), RFC 3030 §3 (BINARYMIME). */
  readonly body: BodyType | null;
  /** RFC 6531 §3.4. */
  readonly smtputf8: boolean;
  /** RFC 3461 §4.3. */
  readonly ret: "FULL" | "HDRS" | null;
  /** RFC 3461 §4.4, xtext-decoded. */
  readonly envid: string | null;
  /** RFC 4954 §5: the original submitter, or `<>` when unknown. */
  readonly auth: AuthParameter | null;
  /** RFC 8689 §2: REQUIRETLS, the message must travel over authenticated TLS only. */
  readonly requireTls: boolean;
}

export interface Notify {
  readonly never: boolean;
  readonly success: boolean;
  readonly failure: boolean;
  readonly delay: boolean;
}

export interface OriginalRecipient {
  /** Lower-cased addr-type, e.g. "rfc822" or "utf-8" (RFC 6533). */
  readonly addrType: string;
  /** The decoded address. */
  readonly address: string;
}

export interface RcptParameters {
  /** RFC 3461 §4.1. */
  readonly notify: Notify | null;
  /** RFC 3461 §4.2. */
  readonly orcpt: OriginalRecipient | null;
}

export type ParameterErrorReason = "parameter-syntax" | "parameter-unrecognized" | "parameter-invalid" | "parameter-duplicate";

export interface ParameterError {
  readonly kind: "parameter-error";
  readonly reason: ParameterErrorReason;
  readonly keyword: string | null;
  readonly message: string;
}

// RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
// esmtp-value = 1*(%d33-60 / %d62-126), and RFC 6531 §3.3 adds UTF8-non-ascii.
const VALUE = /^[\x21-\x3c\x3e-\x7e]+$/;
const VALUE_UTF8 = /^[\x21-\x3c\x3e-\x7e\u0080-\u{10FFFF}]+$/u;
const MAX_PARAMETERS = 16;
// RFC 3461 §4.4 and §4.2: ENVID at most 100 characters, ORCPT at most 500.
const MAX_ENVID = 100;
const MAX_ORCPT = 500;

function paramError(reason: ParameterErrorReason, keyword: string | null, message: string): ParameterError {
  return { kind: "parameter-error", reason, keyword, message };
}

/** Splits the text after the path into keyword[=value] pairs. `text` has no leading space. */
export function tokenizeParameters(text: string): RawParameter[] | ParameterError {
  const parameters: RawParameter[] = [];
  // Several spaces between parameters are tolerated (clients do send them); none is ambiguous.
  for (const token of text.split(" ")) {
    if (token === "") continue;
    if (parameters.length === MAX_PARAMETERS) return paramError("parameter-syntax", null, "too many parameters");
    const equals = token.indexOf("=");
    const keyword = equals < 0 ? token : token.slice(0, equals);
    if (!KEYWORD.test(keyword)) return paramError("parameter-syntax", null, "malformed parameter keyword");
    parameters.push({ keyword: keyword.toUpperCase(), value: equals < 0 ? null : token.slice(equals + 1) });
  }
  return parameters;
}

type Checked<T> = T | ParameterError;

function isError(value: unknown): value is ParameterError {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "parameter-error";
}

function requireValue(parameter: RawParameter, utf8: boolean): Checked<string> {
  const { keyword, value } = parameter;
  if (value === null) return paramError("parameter-syntax", keyword, `${keyword} needs a value`);
  if (!(utf8 ? VALUE_UTF8 : VALUE).test(value)) return paramError("parameter-syntax", keyword, `malformed ${keyword} value`);
  return value;
}

function checkDuplicates(parameters: readonly RawParameter[]): ParameterError | null {
  const seen = new Set<string>();
  for (const { keyword } of parameters) {
    if (seen.has(keyword)) return paramError("parameter-duplicate", keyword, `${keyword} given twice`);
    seen.add(keyword);
  }
  return null;
}

/** Types the parameters of MAIL FROM. `utf8`: SMTPUTF8 applies to this transaction. */
export function parseMailParameters(parameters: readonly RawParameter[], utf8: boolean): Checked<MailParameters> {
  const duplicate = checkDuplicates(parameters);
  if (duplicate) return duplicate;
  let size: number | null = null;
  let body: BodyType | null = null;
  let smtputf8 = false;
  let ret: "FULL" | "HDRS" | null = null;
  let envid: string | null = null;
  let auth: AuthParameter | null = null;
  let requireTls = false;
  for (const parameter of parameters) {
    if (parameter.keyword === "REQUIRETLS") {
      // RFC 8689 §2: REQUIRETLS takes no value.
      if (parameter.value !== null) return paramError("parameter-invalid", "REQUIRETLS", "REQUIRETLS takes no value");
      requireTls = true;
      continue;
    }
    if (parameter.keyword === "SMTPUTF8") {
      // RFC 6531 §3.4: SMTPUTF8 takes no value.
      if (parameter.value !== null) return paramError("parameter-invalid", "SMTPUTF8", "SMTPUTF8 takes no value");
      smtputf8 = true;
      continue;
    }
    const value = requireValue(parameter, utf8);
    if (isError(value)) {
      return KNOWN_MAIL.has(parameter.keyword) ? value : paramError("parameter-unrecognized", parameter.keyword, `${parameter.keyword} not recognised`);
    }
    switch (parameter.keyword) {
      case "SIZE": {
        const parsed = parseSize(value);
        if (parsed === null) return paramError("parameter-invalid", "SIZE", "SIZE must be a number of octets");
        size = parsed;
        break;
      }
      case "BODY": {
        const upper = value.toUpperCase();
        if (upper !== "7BIT" && upper !== "8BITMIME" && upper !== "BINARYMIME") return paramError("parameter-invalid", "BODY", "BODY must be 7BIT, 8BITMIME or BINARYMIME");
        body = upper;
        break;
      }
      case "RET": {
        const upper = value.toUpperCase();
        if (upper !== "FULL" && upper !== "HDRS") return paramError("parameter-invalid", "RET", "RET must be FULL or HDRS");
        ret = upper;
        break;
      }
      case "ENVID": {
        const decoded = value.length <= MAX_ENVID ? decodeXtext(value, utf8) : null;
        if (decoded === null) return paramError("parameter-invalid", "ENVID", "ENVID must be xtext of at most 100 characters");
        envid = decoded;
        break;
      }
      case "AUTH": {
        const parsed = parseAuthParameter(value, utf8);
        if (parsed === null) return paramError("parameter-invalid", "AUTH", "AUTH must be <> or an xtext mailbox");
        auth = parsed;
        break;
      }
      default:
        return paramError("parameter-unrecognized", parameter.keyword, `${parameter.keyword} not recognised`);
    }
  }
  return { size, body, smtputf8, ret, envid, auth, requireTls };
}

const KNOWN_MAIL = new Set(["SIZE", "BODY", "RET", "ENVID", "AUTH"]);

// RFC 1870 §3: size-value ::= 1*20DIGIT. Only values a double holds exactly are accepted, so
// 99999999999999999999 is refused instead of silently rounded.
function parseSize(value: string): number | null {
  if (!/^[0-9]{1,20}$/.test(value)) return null;
  const size = Number(value);
  return Number.isSafeInteger(size) ? size : null;
}

// RFC 4954 §5: "AUTH=" xtext, whose decoded value is "<>" or an addr-spec.
function parseAuthParameter(value: string, utf8: boolean): AuthParameter | null {
  const decoded = decodeXtext(value, utf8);
  if (decoded === null) return null;
  if (decoded === "<>") return { kind: "null" };
  const mailbox = parseMailbox(decoded, { smtputf8: utf8 });
  return mailbox.kind === "mailbox" ? { kind: "mailbox", mailbox } : null;
}

/** Types the parameters of RCPT TO. `utf8`: SMTPUTF8 applies to this transaction. */
export function parseRcptParameters(parameters: readonly RawParameter[], utf8: boolean): Checked<RcptParameters> {
  const duplicate = checkDuplicates(parameters);
  if (duplicate) return duplicate;
  let notify: Notify | null = null;
  let orcpt: OriginalRecipient | null = null;
  for (const parameter of parameters) {
    if (parameter.keyword !== "NOTIFY" && parameter.keyword !== "ORCPT") {
      return paramError("parameter-unrecognized", parameter.keyword, `${parameter.keyword} not recognised`);
    }
    const value = requireValue(parameter, utf8);
    if (isError(value)) return value;
    if (parameter.keyword === "NOTIFY") {
      notify = parseNotify(value);
      if (notify === null) return paramError("parameter-invalid", "NOTIFY", "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY");
    } else {
      orcpt = parseOrcpt(value, utf8);
      if (orcpt === null) return paramError("parameter-invalid", "ORCPT", "ORCPT must be addr-type;xtext of at most 500 characters");
    }
  }
  return { notify, orcpt };
}

// RFC 3461 §4.1: notify-esmtp-value = "NEVER" / 1#notify-list-element, each element at most once.
function parseNotify(value: string): Notify | null {
  const elements = value.toUpperCase().split(",");
  if (elements.length === 1 && elements[0] === "NEVER") return { never: true, success: false, failure: false, delay: false };
  const seen = new Set<string>();
  for (const element of elements) {
    if ((element !== "SUCCESS" && element !== "FAILURE" && element !== "DELAY") || seen.has(element)) return null;
    seen.add(element);
  }
  return { never: false, success: seen.has("SUCCESS"), failure: seen.has("FAILURE"), delay: seen.has("DELAY") };
}

// RFC 3461 §4.2: original-recipient-address = addr-type ";" xtext, addr-type an atom; RFC 6533 §3
// gives the "utf-8" type its own escapes.
function parseOrcpt(value: string, utf8: boolean): OriginalRecipient | null {
  const semicolon = value.indexOf(";");
  if (value.length > MAX_ORCPT || semicolon < 1) return null;
  const addrType = value.slice(0, semicolon).toLowerCase();
  if (!/^[a-z0-9!#$%&'*+\-/=?^_`{|}~]+$/.test(addrType)) return null;
  const encoded = value.slice(semicolon + 1);
  const address = addrType === "utf-8" ? decodeUtf8AddrXtext(encoded, utf8) : decodeXtext(encoded, utf8);
  if (address === null || address === "") return null;
  return { addrType, address };
}
