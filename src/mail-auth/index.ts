// The public surface of mail-auth: sender authentication for inbound mail (SPF, DKIM, DMARC, ARC),
// DKIM signing for outbound mail, and the DNS resolver both use. Nothing outside this folder
// imports mailauth or anything past this file.
export type {
  DnsAnswer,
  DnsErrorCode,
  DnsFailure,
  DnsRecordType,
  DnsResolver,
  DnsTable,
  DnsTableEntry,
  MxRecord,
  CachingResolverOptions,
  SystemResolverOptions,
  TableResolverOptions,
} from "./dns-resolver.js";
export { DnsError, createCachingResolver, createSystemResolver, createTableResolver, isNegativeAnswer } from "./dns-resolver.js";
export type {
  ArcResult,
  AuthVerdict,
  DkimResult,
  DkimSignatureVerdict,
  DmarcPolicy,
  DmarcResult,
  SpfResult,
  VerifyInboundRequest,
} from "./verify-inbound.js";
export { verifyInbound } from "./verify-inbound.js";
export type { DmarcAction, DmarcActionOptions, DmarcFailureMode, SmtpRejection } from "./dmarc-action.js";
export { decideDmarcAction } from "./dmarc-action.js";
export type { DkimAlgorithm, SignOutboundOptions } from "./sign-outbound.js";
export { DkimSigningError, signOutbound } from "./sign-outbound.js";
export type { DkimKey, DkimKeySet } from "./dkim-keys.js";
export { dkimTxtRecord, generateDkimKeys, loadDkimKeys, signWithKeys, type DkimKeyLocation } from "./dkim-keys.js";
