// The extensions this engine implements, exactly: the ManageSieve SIEVE capability and the
// "require" check both read this list (RFC 5804 §1.7: advertise only what is supported).
export const SIEVE_EXTENSIONS: readonly string[] = [
  "fileinto",
  "reject",
  "ereject",
  "envelope",
  "encoded-character",
  "comparator-i;ascii-numeric",
  "imap4flags",
  "variables",
  "relational",
  "subaddress",
  "copy",
  "body",
  "mailbox",
  "vacation",
  "vacation-seconds",
  "date",
  "index",
  "environment",
  "spamtest",
  "spamtestplus",
  "virustest",
  "regex",
  "include",
  "duplicate",
  "editheader",
];

/** Extensions that bring another with them: RFC 5235 §3.2 spamtestplus extends spamtest. */
export const IMPLIED_EXTENSIONS: Readonly<Record<string, readonly string[]>> = { spamtestplus: ["spamtest"] };

/** Comparators every script may name without require (RFC 5228 §2.7.3). */
export const BUILTIN_COMPARATORS: readonly string[] = ["i;octet", "i;ascii-casemap"];
