// The public surface of the store: interfaces and domain types only. Nothing outside store/
// imports a backend; server/compose.ts is the one exception.
export * from "./types.js";
export * from "./changes.js";
export * from "./errors.js";
export type * from "./mail-store.js";
export type * from "./account-store.js";
export type * from "./queue-store.js";
export type * from "./maintenance.js";
export { InProcessChangeFeed } from "./change-feed.js";
export type * from "./sieve-store.js";
export type * from "./spam-store.js";
export type * from "./greylist-store.js";
export type * from "./auth-store.js";
export { EMPTY_ACCOUNT_AUTH } from "./auth-store.js";
export type * from "./migration-store.js";
export type * from "./maildrop-leases.js";
export type * from "./tls-report-store.js";
export type * from "./tls-rpt-session-store.js";
export type * from "./web-auth-store.js";
export type * from "./abuse-state-store.js";
export type * from "./node-state-store.js";
export type * from "./copy-target.js";
export type * from "./backup/types.js";
export * from "./quota.js";
export { mailboxObjectId, OBJECT_ID, previewFromText, previewOf, PREVIEW_CHARACTERS } from "./object-ids.js";
export * from "./metadata-store.js";
