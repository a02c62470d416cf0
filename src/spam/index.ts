export { DEFAULT_SCORES, createSpamScanner, iprevResultText, spamHeaderFields } from "./scanner.js";
export type { SpamScanInput, SpamScanner, SpamSettings, SpamTest, SpamVerdict } from "./scanner.js";
export { queryDnsList, reversedAddress } from "./dns-lists.js";
export { checkIprev } from "./iprev.js";
export type { IprevResult } from "./iprev.js";
