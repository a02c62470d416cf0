// Which session handler serves each listener protocol. A protocol whose engine is not built yet
// has no entry, so its listener is reported as skipped instead of being bound to something that
// would pretend to serve it.
import { createQuotaService } from "../delivery/quota-warning.js";
import { createTlsReportIntake, type TlsReportIntakeOptions } from "../delivery/tls-report.js";
import type { Authenticator } from "../auth/index.js";
import type { Config, ListenerProtocol } from "../config/index.js";
import type { SessionHandler } from "../net/index.js";
import type { TlsContextProvider } from "../net/tls-context.js";
import type { Logger } from "../observability/log.js";
import { createSmtpServer, type SendLimits, type SmtpRole } from "../smtp/index.js";
import { createImapServer } from "../imap/index.js";
import { createPop3Server, createPop3SharedState } from "../pop3/index.js";
import { dkimKeysOf, type ComposedStore } from "./compose.js";
import { createInboundResolver, createInboundVerifier } from "./inbound-verifier.js";
import { cipherKindOf } from "./listeners.js";
import { createSpamChecker } from "./spam-checker.js";
import { createIpMessageRate, createSharedIpMessageRate } from "../abuse/ip-rate.js";
import { createNetworkList } from "../net/index.js";
import { createSpamTrainer, withSpamTraining } from "../spam/index.js";
import { createBounceSink, createDeliveryReporter } from "../queue/index.js";
import { createSieveFilter, DEFAULT_SIEVE_FILTER_LIMITS } from "../delivery/sieve-filter.js";
import { createManageSieveServer } from "../managesieve/index.js";

export interface ProtocolDependencies {
  config: Config;
  store: ComposedStore;
  tls: TlsContextProvider;
  authenticator: Authenticator;
  log: Logger;
  /** Told of each spam verdict (metrics). */
  observeSpam?: (action: "accept" | "junk" | "reject" | "greylist" | "tempfail") => void;
  /** Outbound abuse limits shared by the submission listeners; absent: none. */
  sendLimits?: SendLimits | null;
  /** Told of each TLS-RPT report read (metrics). */
  tlsReportObserver?: TlsReportIntakeOptions["observe"];
}

const SMTP_ROLES: Partial<Record<ListenerProtocol, SmtpRole>> = { smtp: "mx", submission: "submission", submissions: "submissions" };

export function buildProtocolHandlers(deps: ProtocolDependencies): Partial<Record<ListenerProtocol, SessionHandler>> {
  const { config, store, tls, authenticator, log } = deps;
  const inboundResolver = createInboundResolver(config.outbound.dnsServers);
  const verifier = createInboundVerifier({ accounts: store.accounts, resolver: inboundResolver, policy: config.inbound, log: log.child({ component: "mail-auth" }) });
  const spamLog = log.child({ component: "spam" });
  const spam = createSpamChecker({ settings: config.spam, resolver: inboundResolver, log: spamLog, tokens: store.spam ?? null, greylist: store.greylist ?? null, ...(deps.observeSpam ? { observe: deps.observeSpam } : {}) });
  // Users train their classifier by moving mail into and out of Junk, from any IMAP client.
  const trainer = config.spam.enabled && config.spam.bayes && store.spam ? createSpamTrainer({ mail: store.mail, tokens: store.spam, log: spamLog }) : null;
  const imapStore = trainer ? withSpamTraining(store.mail, trainer) : store.mail;
  // Connection stage of port 25: the early-talker pause and the per-address message rate, both
  // skipped for the exempt networks (the machine itself, the office).
  const exempt = createNetworkList(config.spam.exemptNetworks);
  const greetPause = (clientIp: string) => (config.spam.enabled && !exempt.contains(clientIp) ? config.spam.greetPause : 0);
  // With a shared store (several nodes) the hourly count lives in it, so it holds across nodes.
  const rate = store.abuseState
    ? createSharedIpMessageRate(store.abuseState, config.spam.ipMessagesPerHour, (error) => spamLog.warn("smtp.ip_rate_unavailable", { error }))
    : createIpMessageRate(config.spam.ipMessagesPerHour);
  const ipMessageRate = rate ? { admit: (ip: string, now?: Date) => exempt.contains(ip) || rate.admit(ip, now), get tracked() { return rate.tracked; } } : null;
  const handlers: Partial<Record<ListenerProtocol, SessionHandler>> = {};
  // What every protocol server is given alike.
  const common = {
    store: store.mail,
    authenticator,
    tls: tls.forKind("client"),
    limits: config.limits,
    allowPlaintextAuth: config.tls.allowPlaintextAuth,
    allowPlaintextAuthOnLoopback: config.tls.allowPlaintextAuthOnLoopback,
    hostname: config.server.hostname,
  };
  const bounces = createBounceSink({ mail: store.mail, accounts: store.accounts, queue: store.queue, log: log.child({ component: "dsn" }) });
  const deliveryReports = createDeliveryReporter({ bounces, reportingMta: config.server.hostname });
  // RFC 9208 usage for GETQUOTA and the one-time usage warning ([quota] warning_percent).
  const quota = createQuotaService({ accounts: store.accounts, mail: store.mail, warningPercent: config.quota.warningPercent, hostname: config.server.hostname, log: log.child({ component: "quota" }) });
  const sc = config.sieve;
  const sieve = store.sieve
    ? createSieveFilter({
        scripts: store.sieve,
        mail: store.mail,
        queue: store.queue,
        hostname: config.server.hostname,
        dkimKeyDir: dkimKeysOf(config, store),
        sharedCounters: store.nodeState ?? null,
        log: log.child({ component: "sieve" }),
        limits: {
          ...DEFAULT_SIEVE_FILTER_LIMITS,
          maxActions: sc.maxActions,
          maxRedirects: sc.maxRedirects,
          maxRedirectsPerDay: sc.maxRedirectsPerDay,
          maxNesting: sc.maxNesting,
          maxVariableBytes: sc.maxVariableBytes,
          maxMessageBytes: sc.maxMessageBytes,
          vacationMinSeconds: Math.floor(sc.vacationMinPeriod / 1000),
          vacationMaxSeconds: Math.floor(sc.vacationMaxPeriod / 1000),
          vacationDefaultSeconds: Math.floor(sc.vacationDefaultPeriod / 1000),
          maxRegexStates: sc.maxRegexStates,
          maxRegexSteps: sc.maxRegexSteps,
          maxIncludeDepth: sc.maxIncludeDepth,
          duplicateDefaultSeconds: Math.floor(sc.duplicateDefaultPeriod / 1000),
          duplicateMaxSeconds: Math.floor(sc.duplicateMaxPeriod / 1000),
          maxAddedHeaderBytes: sc.editheaderMaxHeaderBytes,
          maxHeaderEdits: sc.editheaderMaxEdits,
        },
      })
    : null;
  const tlsReports = store.tlsReports
    ? createTlsReportIntake({ store: store.tlsReports, maxBytes: config.inbound.tlsReportMaxSize, log: log.child({ component: "tlsrpt" }), ...(deps.tlsReportObserver ? { observe: deps.tlsReportObserver } : {}) })
    : null;
  for (const [protocol, role] of Object.entries(SMTP_ROLES) as [ListenerProtocol, SmtpRole][]) {
    handlers[protocol] = createSmtpServer({
      ...common,
      // STARTTLS on 25 and 587 uses the cipher policy of its listener kind, as implicit TLS does.
      tls: tls.forKind(cipherKindOf(protocol)),
      role,
      accounts: store.accounts,
      queue: store.queue,
      deliveryReports,
      quota,
      sieve,
      verifier: role === "mx" ? verifier : null,
      spam: role === "mx" ? spam : null,
      ...(role === "mx" ? { greetPause, ipMessageRate } : {}),
      sendLimits: role === "mx" ? null : (deps.sendLimits ?? null),
      tlsReports: role === "mx" ? tlsReports : null,
      log: log.child({ component: role }),
    });
  }
  // IMAP: 143 (STARTTLS) and 993 (implicit TLS).
  for (const protocol of ["imap", "imaps"] as const) {
    handlers[protocol] = createImapServer({
      ...common,
      store: imapStore,
      log: log.child({ component: protocol }),
      implicitTls: protocol === "imaps",
      searchLimits: { maxDepth: config.imap.searchMaxDepth, maxKeys: config.imap.searchMaxKeys, maxUpdateContexts: config.imap.searchMaxUpdateContexts },
      metadataLimits: { maxEntrySize: config.imap.metadataMaxEntrySize, maxEntriesPerMailbox: config.imap.metadataMaxEntries, maxAccountBytes: config.imap.metadataMaxAccountSize },
      ...(config.imap.messageLimit > 0 ? { messageLimit: config.imap.messageLimit } : {}),
      ...(config.imap.quotaAdmins.length > 0 ? { quotaAdmin: { admins: new Set(config.imap.quotaAdmins.map((a) => a.toLowerCase())), accounts: store.accounts } } : {}),
      quota,
    });
  }
  // POP3: 110 (STLS) and 995 (implicit TLS) share one lock table, so a maildrop is locked across both.
  // With a store shared by several nodes the lock is also a lease in the store (cluster-wide).
  const pop3Shared = createPop3SharedState(store.maildropLeases ?? null, store.nodeState ?? null);
  for (const protocol of ["pop3", "pop3s"] as const) {
    handlers[protocol] = createPop3Server({ ...common, log: log.child({ component: protocol }), implicitTls: protocol === "pop3s", shared: pop3Shared });
  }
  // ManageSieve (RFC 5804) on 4190: edits the scripts the filter above runs; needs a store with scripts.
  if (store.sieve) {
    handlers.managesieve = createManageSieveServer({
      scripts: store.sieve,
      authenticator,
      tls: common.tls,
      limits: {
        ...config.managesieve,
        maxScriptBytes: sc.maxScriptBytes,
        maxScripts: sc.maxScripts,
        maxNesting: sc.maxNesting,
        maxRedirects: sc.maxRedirects,
        tlsHandshakeTimeout: config.limits.tlsHandshakeTimeout,
      },
      allowPlaintextAuth: config.tls.allowPlaintextAuth,
      allowPlaintextAuthOnLoopback: config.tls.allowPlaintextAuthOnLoopback,
      hostname: config.server.hostname,
      log: log.child({ component: "managesieve" }),
    });
  }
  return handlers;
}
