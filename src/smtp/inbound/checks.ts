// Policy as an ordered list of small named checks (the Haraka plugin shape, ARCHITECTURE §5): each
// returns accept, reject(reply), tempfail(reply) or fileInto(folder, reason). The first reject or
// tempfail ends the run; fileInto verdicts are remembered and the run goes on, so a later check
// can still refuse a message an earlier one only wanted filed away. The name of the deciding
// check is returned for the log line, which is how an operator learns why mail was refused.
import type { LocalFolder } from "../../delivery/deliver-local.js";
import type { SmtpReply } from "../protocol/index.js";

export type CheckVerdict =
  | { readonly kind: "accept" }
  | { readonly kind: "reject"; readonly reply: SmtpReply }
  | { readonly kind: "tempfail"; readonly reply: SmtpReply }
  | { readonly kind: "fileInto"; readonly folder: LocalFolder; readonly reason: string };

export interface Check<Input> {
  readonly name: string;
  run(input: Input): CheckVerdict | Promise<CheckVerdict>;
}

export type ChecksOutcome =
  | { readonly kind: "accept"; readonly folder: LocalFolder; readonly filedBy: string | null; readonly reason: string | null }
  | { readonly kind: "reject" | "tempfail"; readonly reply: SmtpReply; readonly check: string };

export const ACCEPT: CheckVerdict = Object.freeze({ kind: "accept" });

export function reject(answer: SmtpReply): CheckVerdict {
  return { kind: "reject", reply: answer };
}

export function tempfail(answer: SmtpReply): CheckVerdict {
  return { kind: "tempfail", reply: answer };
}

export async function runChecks<Input>(checks: readonly Check<Input>[], input: Input): Promise<ChecksOutcome> {
  let folder: LocalFolder = "inbox";
  let filedBy: string | null = null;
  let reason: string | null = null;
  for (const check of checks) {
    const verdict = await check.run(input);
    switch (verdict.kind) {
      case "accept":
        break;
      case "reject":
      case "tempfail":
        return { kind: verdict.kind, reply: verdict.reply, check: check.name };
      case "fileInto":
        folder = verdict.folder;
        filedBy = check.name;
        reason = verdict.reason;
        break;
    }
  }
  return { kind: "accept", folder, filedBy, reason };
}
