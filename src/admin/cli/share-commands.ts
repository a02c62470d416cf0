// `mailroom share <owner> <mailbox> <grantee|anyone> <rights>`, `mailroom share list [owner]`,
// `mailroom unshare <owner> <mailbox> <grantee|anyone>`: thin adapters over
// admin/operations/shares.ts (RFC 4314 rights on an account's mailbox). Rights that start with
// "-" (take away) follow `--`, as for any command-line argument that looks like an option.
import type { Command } from "commander";
import type { AdminOperations, ShareRow } from "../operations/index.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

const row = (r: ShareRow): string => `${r.owner}  ${r.mailbox}  ${r.grantee}  ${r.rights === "" ? "(none)" : r.rights}`;

export function addShareCommands(program: Command, withAdmin: WithAdmin, print: (line: string) => void): void {
  const share = program
    .command("share")
    .description("give another account (or anyone) RFC 4314 rights on a mailbox, seen by them as Shared/<owner>/<mailbox>")
    .argument("[owner]", "the account whose mailbox is shared")
    .argument("[mailbox]", "the mailbox, e.g. INBOX or Projects/2026")
    .argument("[grantee]", 'an account address, or "anyone" (every account of this server)')
    .argument("[rights]", 'RFC 4314 letters lrswipkxtea (c = k, d = xte), "+letters" to add, "-letters" after -- to take away, or "all"')
    .action((owner: string | undefined, mailbox: string | undefined, grantee: string | undefined, rights: string | undefined) =>
      withAdmin(async (ops) => {
        if (owner === undefined || mailbox === undefined || grantee === undefined || rights === undefined) {
          share.help({ error: true });
          return;
        }
        const result = await ops.shares.share(owner, mailbox, grantee, rights);
        print(result.rights === "" ? `${result.grantee} has no rights on ${result.owner} ${result.mailbox}` : `${result.grantee} has ${result.rights} on ${result.owner} ${result.mailbox}`);
      }),
    );
  share
    .command("list [owner]")
    .description("list shared mailboxes (owner, mailbox, grantee, rights): of one account, or of every account")
    .action((owner: string | undefined) =>
      withAdmin(async (ops) => {
        const rows = await ops.shares.list(owner);
        if (rows.length === 0) print("nothing is shared");
        for (const r of rows) print(row(r));
      }),
    );
  program
    .command("unshare <owner> <mailbox> <grantee>")
    .description("take every right of a grantee (an account address or anyone) on the owner's mailbox")
    .action((owner: string, mailbox: string, grantee: string) =>
      withAdmin(async (ops) => {
        await ops.shares.unshare(owner, mailbox, grantee);
        print(`${grantee} has no rights on ${owner} ${mailbox}`);
      }),
    );
}
