// BODYSTRUCTURE and BODY (RFC 9051 §7.5.2, grammar §9 "body"), rendered from the MIME tree stored
// at delivery: no byte of the message is read.
//
//   body            = "(" (body-type-1part / body-type-mpart) ")"
//   body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]
//   body-type-basic = media-basic SP body-fields
//   body-type-msg   = media-message SP body-fields SP envelope SP body SP body-fld-lines
//   body-type-text  = media-text SP body-fields SP body-fld-lines
//   body-fields     = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets
//   body-ext-1part  = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
//   body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
//   body-ext-mpart  = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
//
// Choices, each one a thing clients (Thunderbird, Apple Mail, imapflow) parse without trouble:
// - Type, subtype, parameter names, the transfer encoding and the disposition type are sent in
//   upper case as in the RFC's own examples ("TEXT" "PLAIN" ("CHARSET" "us-ascii")); the store
//   keeps them lower-cased, and all of them are case-insensitive tokens. Values are sent as stored.
// - RFC 2231 parameters (name*0*=utf-8''...) were joined and decoded to UTF-8 at delivery. To a
//   client that enabled UTF8=ACCEPT or IMAP4rev2 (RFC 6855 §3, RFC 9051 §7.5.2) a value goes out
//   as a UTF-8 string under its base name. An IMAP4rev1 client cannot be sent 8-bit strings in
//   BODYSTRUCTURE, so a value that is not printable ASCII goes to it in the encoded form a MIME
//   header carries it in, RFC 2231 §4: `"FILENAME*" "utf-8''r%C3%A9sum%C3%A9.pdf"`, which every
//   RFC 2231 client decodes. The charset and language the message used were not kept at
//   delivery, so it is always utf-8 and no language; continuations are sent joined (Dovecot
//   sends the same joined `filename*` form).
// - When an extension field is absent it is NIL, and all four are always sent (md5/params, dsp,
//   lang, loc), so every BODYSTRUCTURE has the same shape.
// - A multipart with no parts (no boundary parameter, or no delimiter line in the body) would
//   break the grammar (1*body). It is sent with one empty text/plain part, as Dovecot does:
//   ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0). BODY[1] of it is an empty string.
// - A message/rfc822 part whose content was not parsed as a message (an encoded body, or past the
//   depth limit) still has the body-type-msg shape the grammar requires: an all-NIL envelope
//   and an empty text/plain body, with the part's real size and line count.

import type { MimePart } from "../../mail/mime-tree.js";
import { list, listWithAdjacent, NIL, nstr, num, str, type ImapValue } from "./response-value.js";
import { EMPTY_ENVELOPE, renderEnvelope } from "./envelope.js";

/** How the client reads strings: `utf8` once it enabled UTF8=ACCEPT or IMAP4rev2. */
export interface BodyStructureOptions {
  readonly utf8: boolean;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * RFC 2231 §4 extended-value of a decoded value: utf-8, no language, and every octet that is
 * not an attribute-char (§7: any CHAR but SP, CTLs, "*", "'", "%" and the RFC 2045 tspecials)
 * as %XX.
 */
export function rfc2231ExtendedValue(value: string): string {
  let out = "utf-8''";
  for (const byte of Buffer.from(value, "utf8")) {
    const char = String.fromCharCode(byte);
    const attributeChar = byte > 0x20 && byte < 0x7f && !"*'%()<>@,;:\\\"/[]?=".includes(char);
    out += attributeChar ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** body-fld-param: ("NAME" "value" ...) or NIL when there are none. */
function renderParams(params: Record<string, string>, options: BodyStructureOptions): ImapValue {
  const items: ImapValue[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (options.utf8 || PRINTABLE_ASCII.test(value)) items.push(str(name.toUpperCase()), str(value));
    else items.push(str(`${name.toUpperCase()}*`), str(rfc2231ExtendedValue(value)));
  }
  return items.length === 0 ? NIL : list(items);
}

/** body-fld-dsp: ("ATTACHMENT" params) or NIL (RFC 2183). */
function renderDisposition(part: MimePart, options: BodyStructureOptions): ImapValue {
  if (part.disposition === null) return NIL;
  return list([str(part.disposition.type.toUpperCase()), renderParams(part.disposition.params, options)]);
}

/** body-fld-lang: NIL, one string, or a list of strings (RFC 3066 tags). */
function renderLanguage(part: MimePart): ImapValue {
  const languages = part.contentLanguage;
  if (languages === null || languages.length === 0) return NIL;
  if (languages.length === 1) return str(languages[0] ?? "");
  return list(languages.map((language) => str(language)));
}

/** body-fields: params, id, description, encoding, octets of the body. */
function bodyFields(part: MimePart, options: BodyStructureOptions): ImapValue[] {
  return [
    renderParams(part.contentType.params, options),
    nstr(part.contentId),
    nstr(part.contentDescription),
    str(part.contentTransferEncoding.toUpperCase()),
    num(part.bodyEnd - part.bodyStart),
  ];
}

const isMessageType = (part: MimePart): boolean =>
  part.contentType.type === "message" && (part.contentType.subtype === "rfc822" || part.contentType.subtype === "global");

/** The body a multipart with no children is given (see the module comment). */
function emptyTextBody(): ImapValue {
  return list([str("TEXT"), str("PLAIN"), list([str("CHARSET"), str("us-ascii")]), NIL, NIL, str("7BIT"), num(0), num(0)]);
}

function renderPart(part: MimePart, extensible: boolean, options: BodyStructureOptions): ImapValue {
  const type = part.contentType;
  if (type.type === "multipart") {
    const children = part.children.map((child) => renderPart(child, extensible, options));
    if (children.length === 0) children.push(emptyTextBody());
    const items = [...children, str(type.subtype.toUpperCase())];
    // body-ext-mpart: the multipart's own parameters (boundary...) come first.
    if (extensible) items.push(renderParams(type.params, options), renderDisposition(part, options), renderLanguage(part), nstr(part.contentLocation));
    // body-type-mpart = 1*body SP media-subtype: no SP between the part bodies (RFC 9051 §9).
    return listWithAdjacent(items, children.length);
  }
  const items: ImapValue[] = [str(type.type.toUpperCase()), str(type.subtype.toUpperCase()), ...bodyFields(part, options)];
  if (isMessageType(part)) {
    // body-type-msg: envelope and body of the encapsulated message, then the line count.
    const inner = part.encapsulated;
    items.push(
      renderEnvelope(inner?.envelope ?? EMPTY_ENVELOPE),
      inner === null ? emptyTextBody() : renderPart(inner.root, extensible, options),
      num(part.bodyLines),
    );
  } else if (type.type === "text") {
    items.push(num(part.bodyLines));
  }
  if (extensible) items.push(nstr(part.contentMd5), renderDisposition(part, options), renderLanguage(part), nstr(part.contentLocation));
  return list(items);
}

/** FETCH BODYSTRUCTURE: the structure with extension data (RFC 9051 §7.5.2). */
export function renderBodyStructure(root: MimePart, options: BodyStructureOptions): ImapValue {
  return renderPart(root, true, options);
}

/** FETCH BODY: the non-extensible form, without extension data (RFC 9051 §7.5.2). */
export function renderBody(root: MimePart, options: BodyStructureOptions): ImapValue {
  return renderPart(root, false, options);
}

