// `mailroom queue list|show|retry|delete|flush`, `mailroom dkim rotate <domain>` and
// `mailroom dns <domain>`: thin adapters over admin/operations/outbound.
import { InvalidArgumentError, type Command } from "commander";
import type { QueuedMessage } from "../../store/index.js";
import { isHeld, QUEUE_STATUSES, type AdminOperations } from "../operations/index.js";

type WithAdmin = (action: (ops: AdminOperations) => Promise<void>) => Promise<void>;

function pageLimit(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > 1000) throw new InvalidArgumentError("expected a number from 1 to 1000");
  return Number(text);
}

function queueId(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new InvalidArgumentError("expected a queue id (a number, see mailroom queue list)");
  return Number(text);
}

/** One line per entry: what it waits for and why the last attempt failed. */
export function describeEntry(entry: QueuedMessage, now: Date): string[] {
  const open = entry.recipients.filter((r) => r.state === "pending" || r.state === "deferred");
  const waiting = entry.leasedUntil !== null && entry.leasedUntil > now ? "being delivered now" : isHeld(entry) ? "held (mailroom queue release)" : entry.nextAttemptAt <= now ? "due now" : `next attempt ${entry.nextAttemptAt.toISOString()}`;
  const lines = [`${entry.id}  ${entry.createdAt.toISOString()}  ${entry.size} octets  from <${entry.mailFrom}>  ${open.length}/${entry.recipients.length} to go, ${waiting}`];
  for (const r of entry.recipients) lines.push(`    ${r.state.padEnd(9)} <${r.address}>  attempts ${r.attempts}${r.lastResult ? `  last: ${r.lastResult}` : ""}`);
  return lines;
}

export function addOutboundCommands(program: Command, withAdmin: WithAdmin, print: (line: string) => void): void {
  const queue = program.command("queue").description("outbound mail waiting for delivery to other servers");
  queue
    .command("list")
    .description("list queued messages, oldest first, with each recipient's state and last result; one page at a time")
    .option("--limit <n>", "entries per page (1-1000)", pageLimit, 50)
    .option("--after <cursor>", "the page after this cursor (printed at the end of the page before)")
    .option("--status <status>", `only ${QUEUE_STATUSES.join(", ")} messages`)
    .option("--domain <domain>", "only messages with a recipient waiting in this domain")
    .option("--to <address>", "only messages with this recipient waiting")
    .action((options: { limit: number; after?: string; status?: string; domain?: string; to?: string }) =>
      withAdmin(async (ops) => {
        const page = await ops.outbound.queuePage({ limit: options.limit, after: options.after, status: options.status, domain: options.domain, to: options.to });
        const filtered = options.status !== undefined || options.domain !== undefined || options.to !== undefined;
        if (page.entries.length === 0) print(options.after !== undefined ? "no more queued messages" : filtered ? "no queued message matches" : "the queue is empty");
        const now = new Date();
        for (const entry of page.entries) describeEntry(entry, now).forEach(print);
        if (page.next !== null) print(`more: mailroom queue list --after ${page.next}${options.limit !== 50 ? ` --limit ${options.limit}` : ""}${options.status ? ` --status ${options.status}` : ""}${options.domain ? ` --domain ${options.domain}` : ""}${options.to ? ` --to ${options.to}` : ""}`);
      }),
    );
  queue.command("show <id>").description("show one queued message").action((id: string) =>
    withAdmin(async (ops) => {
      const entry = await ops.outbound.showQueued(queueId(id));
      describeEntry(entry, new Date()).forEach(print);
      print(`    envelope id ${entry.envelopeId ?? "-"}, RET ${entry.ret ?? "-"}, body ${entry.bodyType}${entry.smtputf8 ? ", SMTPUTF8" : ""}, submitted by ${entry.submittedBy ?? "-"}`);
    }),
  );
  queue.command("retry <id>").description("attempt a queued message now").action((id: string) =>
    withAdmin(async (ops) => {
      await ops.outbound.retryQueued(queueId(id));
      print(`queued message ${id} is due now`);
    }),
  );
  queue.command("delete <id>").alias("del").description("remove a queued message without delivering it (no bounce is sent)").action((id: string) =>
    withAdmin(async (ops) => {
      await ops.outbound.deleteQueued(queueId(id));
      print(`deleted queued message ${id}`);
    }),
  );
  queue.command("hold <id>").description("keep a queued message from being attempted until `queue release`").action((id: string) =>
    withAdmin(async (ops) => {
      await ops.outbound.holdQueued(queueId(id));
      print(`queued message ${id} is held`);
    }),
  );
  queue.command("release <id>").description("end the hold of a queued message: it is attempted now").action((id: string) =>
    withAdmin(async (ops) => {
      await ops.outbound.releaseQueued(queueId(id));
      print(`queued message ${id} is released and due now`);
    }),
  );
  queue
    .command("bounce <id>")
    .description("return a queued message to its sender now with a delivery status notification (needs the running server)")
    .option("--reason <text>", "a short reason quoted in the notification")
    .action((id: string, opts: { reason?: string }) =>
      withAdmin(async (ops) => {
        await ops.outbound.bounceQueued(queueId(id), opts.reason);
        print(`queued message ${id} was returned to its sender`);
      }),
    );
  queue.command("flush").description("attempt every queued message now").action(() =>
    withAdmin(async (ops) => print(`${await ops.outbound.flushQueue()} queued message(s) are due now`)),
  );

  const dkim = program.command("dkim").description("DKIM signing keys of local domains");
  dkim.command("rotate <domain>").description("make new Ed25519 and RSA keys under new selectors and sign with them").action((domain: string) =>
    withAdmin(async (ops) => {
      const selectors = await ops.outbound.rotateDkim(domain);
      print(`signing with ${selectors.join(", ")}; publish the new records (mailroom dns ${domain}) and keep the old ones until mail signed with them is delivered`);
    }),
  );

  program
    .command("tls-reports")
    .description("TLS-RPT reports (RFC 8460) other servers sent to postmaster: sessions to our MX hosts that succeeded and failed, per domain, then per report")
    .option("--days <n>", "how far back, in days", (text: string) => {
      if (!/^\d{1,4}$/.test(text) || Number(text) < 1) throw new InvalidArgumentError("expected a number of days from 1 to 3660");
      return Number(text);
    }, 30)
    .action((options: { days: number }) =>
      withAdmin(async (ops) => {
        (await ops.tlsReports(options.days)).forEach(print);
      }),
    );

  const acme = program.command("acme").description("the running server's ACME certificates ([acme])");
  acme.command("status").description("each name: certificate serial, expiry and renewal time, or the last error and next attempt").action(() =>
    withAdmin(async (ops) => (await ops.acmeStatus()).forEach(print)),
  );
  acme.command("renew <name>").description("order a new certificate for the name now").action((name: string) =>
    withAdmin(async (ops) => print(await ops.acmeRenew(name))),
  );
  acme.command("revoke <name>").description("revoke the name's certificate at the CA (RFC 8555 §7.6), delete it and order a replacement").action((name: string) =>
    withAdmin(async (ops) => print(await ops.acmeRevoke(name))),
  );

  program
    .command("tls")
    .description("the running server's TLS certificates")
    .command("status")
    .description("each served certificate: subject, key, expiry and days left; with [acme], each name's renewal state")
    .action(() =>
      withAdmin(async (ops) => {
        const status = await ops.tlsStatus();
        for (const c of status.certificates) print(`${c.subject}: ${c.keyType}, valid until ${c.validTo.toISOString()} (${c.daysLeft} days)${c.selfSigned ? ", self-signed" : ""}, ${c.certFile}`);
        for (const a of status.acme ?? []) print(`acme ${a.name}: ${a.serial === null ? "no certificate" : `serial ${a.serial}, renewal from ${a.renewAt?.toISOString() ?? "-"}`}${a.lastError ? `; last error: ${a.lastError}` : ""}`);
      }),
    );

  const dns = program
    .command("dns")
    .argument("<domain>")
    .description("print the DNS records to publish for a domain (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, SRV); `dns check <domain>` compares them with the live DNS")
    .action((domain: string) =>
      withAdmin(async (ops) => {
        (await ops.outbound.dnsRecords(domain)).trimEnd().split("\n").forEach(print);
      }),
    );
  dns
    .command("check <domain>")
    .description("ask the live DNS (outbound.dns_servers, else the system's) for every recommended record and the host's PTR: ok, missing, differs or error, one line each; exits 1 when any is not ok")
    .action((domain: string) =>
      withAdmin(async (ops) => {
        const result = await ops.outbound.dnsCheck(domain);
        result.lines.forEach(print);
        if (result.problems > 0) throw new Error(`${result.problems} of ${result.lines.length} checks are not ok`);
      }),
    );
}
