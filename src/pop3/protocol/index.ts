// The public surface of pop3/protocol: command grammar, response encoding, and the two byte-level
// rules of POP3 message transfer (octet counts as sent, TOP's line cut). Pure.
export { MAX_POP3_NUMBER, parsePop3Command, type ParseOptions, type Pop3Command, type Pop3Keyword, type Pop3SyntaxError } from "./command.js";
export { encodeContinuation, encodeMultiline, encodeResponse, err, MAX_RESPONSE_LINE_OCTETS, multilineTerminator, ok, type Pop3Response, type Pop3ResponseCode } from "./response.js";
export { SentOctetCounter, sentOctets } from "./sent-octets.js";
export { TopLimiter } from "./top-lines.js";
