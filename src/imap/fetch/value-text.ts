// A readable, deterministic text form of an ImapValue, for tests and logs: what the wire would
// show for atoms, numbers, NIL, lists and quoted strings, with literals written as {n} followed by
// their bytes (stream literals as {n}<stream>). Not the encoder: it never chooses between quoted
// and literal forms for the client, it only makes golden strings comparable.

import type { ImapValue } from "../protocol/response-value.js";

function quote(text: string): string {
  return `"${text.replace(/(["\\])/g, "\\$1")}"`;
}

export function valueText(value: ImapValue): string {
  switch (value.kind) {
    case "atom":
      return value.value;
    case "number":
      return String(value.value);
    case "nil":
      return "NIL";
    case "string": {
      const text = typeof value.value === "string" ? value.value : value.value.toString("latin1");
      return /[\r\n\0]/.test(text) ? `{${Buffer.byteLength(text)}}\r\n${text}` : quote(text);
    }
    case "literal": {
      const prefix = value.binary === true ? "~" : "";
      const body = Buffer.isBuffer(value.bytes) ? value.bytes.toString("latin1") : "<stream>";
      return `${prefix}{${value.size}}\r\n${body}`;
    }
    case "encoded":
      return value.text;
    case "list":
      return `(${value.items.map((item, i) => (i > 0 && i >= (value.adjacent ?? 0) ? " " : "") + valueText(item)).join("")})`;
  }
}
