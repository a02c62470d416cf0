// The stored form of a MIME part tree (mime-tree.ts): compact text written once per message at
// delivery and read back for every FETCH of BODYSTRUCTURE, ENVELOPE-less sections and SEARCH.
//
// Plain JSON of MimePart objects spends ~350 octets per part on key names, default values and
// part numbers, and reading it back means parsing all of that plus a deep copy for the stored
// prefix. This form keeps only what cannot be derived:
//
//   [2, part]                                     the version, then the root
//   part = [headerStart, headerLength, gap, bodyLength, bodyLines, "type/subtype", params?,
//           fields?, children?, encapsulated?]
//
// where gap = bodyStart - headerEnd, params is the Content-Type parameter object (0 for none),
// fields holds the other content fields only where they differ from the RFC 2045 defaults
// (d disposition, i id, s description, e transfer encoding, l language, o location, m md5),
// children is the array of child parts and encapsulated is [envelope, part]. Trailing empty
// members are left out: a plain text leaf is about 40 octets. Part numbers are not stored; they
// follow from the position in the tree (RFC 9051 §6.4.5, the rules in mime-tree.ts).
//
// decodeStructure() also moves every offset past a prefix stored before the message, so the
// tree is built once per read instead of parsed and then copied. It reads the older plain-JSON
// rows too (they start with "{").

import type { Envelope } from "./envelope.js";
import type { ContentDisposition, MimePart } from "./mime-tree.js";

const VERSION = 2;

type EncodedFields = {
  d?: ContentDisposition;
  i?: string;
  s?: string;
  e?: string;
  l?: string[];
  o?: string;
  m?: string;
};

type EncodedPart = [number, number, number, number, number, string, ...unknown[]];

/** The compact text of a part tree (see the module comment). */
export function encodeStructure(root: MimePart): string {
  return JSON.stringify([VERSION, encodePart(root)]);
}

function encodePart(part: MimePart): EncodedPart {
  const encoded: EncodedPart = [
    part.headerStart,
    part.headerEnd - part.headerStart,
    part.bodyStart - part.headerEnd,
    part.bodyEnd - part.bodyStart,
    part.bodyLines,
    `${part.contentType.type}/${part.contentType.subtype}`,
  ];
  const params = part.contentType.params;
  const fields: EncodedFields = {};
  if (part.disposition !== null) fields.d = part.disposition;
  if (part.contentId !== null) fields.i = part.contentId;
  if (part.contentDescription !== null) fields.s = part.contentDescription;
  if (part.contentTransferEncoding !== "7bit") fields.e = part.contentTransferEncoding;
  if (part.contentLanguage !== null) fields.l = part.contentLanguage;
  if (part.contentLocation !== null) fields.o = part.contentLocation;
  if (part.contentMd5 !== null) fields.m = part.contentMd5;
  const tail: unknown[] = [
    Object.keys(params).length > 0 ? params : 0,
    Object.keys(fields).length > 0 ? fields : 0,
    part.children.length > 0 ? part.children.map(encodePart) : 0,
    part.encapsulated === null ? 0 : [part.encapsulated.envelope, encodePart(part.encapsulated.root)],
  ];
  while (tail.length > 0 && tail[tail.length - 1] === 0) tail.pop();
  encoded.push(...tail);
  return encoded;
}

/**
 * The part tree of a stored structure, with every offset moved by `shift` (the length of a prefix
 * stored before the message); the root's headerStart stays 0, the prefix joining its header.
 */
export function decodeStructure(text: string, shift = 0): MimePart {
  const value: unknown = JSON.parse(text);
  if (Array.isArray(value) && value[0] === VERSION) {
    const encodedRoot = value[1] as EncodedPart;
    const root = decodePart(encodedRoot, "", true, shift);
    if (encodedRoot[0] === 0) root.headerStart = 0;
    return root;
  }
  // A row written before this form: MimePart objects as they are, part numbers included.
  const root = value as MimePart;
  return shift === 0 ? root : shiftLegacy(root, shift, true);
}

function decodePart(encoded: EncodedPart, partNumber: string, isMessageRoot: boolean, shift: number): MimePart {
  const [headerStart, headerLength, gap, bodyLength, bodyLines, mediaType, params, rawFields, children, encapsulated] = encoded;
  const slash = mediaType.indexOf("/");
  const fields = (rawFields || {}) as EncodedFields;
  const headerEnd = headerStart + shift + headerLength;
  const part: MimePart = {
    partNumber,
    headerStart: headerStart + shift,
    headerEnd,
    bodyStart: headerEnd + gap,
    bodyEnd: headerEnd + gap + bodyLength,
    bodyLines,
    contentType: { type: mediaType.slice(0, slash), subtype: mediaType.slice(slash + 1), params: (params || {}) as Record<string, string> },
    disposition: fields.d ?? null,
    contentId: fields.i ?? null,
    contentDescription: fields.s ?? null,
    contentTransferEncoding: fields.e ?? "7bit",
    contentLanguage: fields.l ?? null,
    contentLocation: fields.o ?? null,
    contentMd5: fields.m ?? null,
    children: [],
    encapsulated: null,
  };
  if (Array.isArray(children)) {
    part.children = (children as EncodedPart[]).map((child, index) => decodePart(child, partNumber === "" ? String(index + 1) : `${partNumber}.${index + 1}`, false, shift));
  }
  if (Array.isArray(encapsulated)) {
    const [envelope, inner] = encapsulated as [Envelope, EncodedPart];
    // mime-tree.ts: the body of a message/rfc822 part that is itself a message root (the top
    // level, or directly encapsulated) is part "1" of it; otherwise it keeps the part's number.
    const innerNumber = isMessageRoot ? (partNumber === "" ? "1" : `${partNumber}.1`) : partNumber;
    part.encapsulated = { envelope, root: decodePart(inner, innerNumber, true, shift) };
  }
  return part;
}

/** Moves the offsets of a plain-JSON tree in place (it was just parsed: nobody else holds it). */
function shiftLegacy(part: MimePart, shift: number, isRoot: boolean): MimePart {
  if (!(isRoot && part.headerStart === 0)) part.headerStart += shift;
  part.headerEnd += shift;
  part.bodyStart += shift;
  part.bodyEnd += shift;
  for (const child of part.children) shiftLegacy(child, shift, false);
  if (part.encapsulated !== null) shiftLegacy(part.encapsulated.root, shift, false);
  return part;
}
