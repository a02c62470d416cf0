// The octet count RETR sends lives in mail/ (the store counts it at delivery); POP3 re-exports it
// so its own code and tests keep one import path.
export { SentOctetCounter, sentOctets } from "../../mail/sent-octets.js";
