// The PostgreSQL schema as ordered, forward-only migrations, run by Mailroom itself (at start and
// by `mailroom store migrate`), never by hand. Several nodes may start at once against one
// database: the runner holds a session-level advisory lock, so one node migrates and the others
// wait and then find nothing left to do. Each migration runs in its own transaction (PostgreSQL
// DDL is transactional) and is recorded in schema_migrations; a database written by a newer
// Mailroom is refused rather than guessed at.
import type pg from "pg";
import { StoreError } from "../errors.js";

export interface PgMigration {
  version: number;
  description: string;
  sql: string;
}

/** pg_advisory_lock key of the migration runner: "mailroom" in ASCII. */
export const MIGRATION_LOCK_KEY = "7881702320830050157";

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    description: "domains, accounts, aliases, mailboxes, chunked message bytes, messages, change log, queue, sieve",
    sql: `
      -- Named counters that must never go backwards (the last UIDVALIDITY handed out).
      CREATE TABLE store_counters (name text PRIMARY KEY, value bigint NOT NULL);

      -- Times are epoch milliseconds (bigint), as in the SQLite backend.
      CREATE TABLE domains (
        id bigserial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        created_at bigint NOT NULL
      );

      -- address keeps the local part as given; address_key is the case-folded lookup key.
      CREATE TABLE accounts (
        id bigserial PRIMARY KEY,
        domain_id bigint NOT NULL REFERENCES domains(id),
        address text NOT NULL,
        address_key text NOT NULL UNIQUE,
        password_hash text NOT NULL,
        quota_bytes bigint,
        used_bytes bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
        pop3_mode text NOT NULL,
        pop3_mark_seen boolean NOT NULL,
        pop3_login_delay integer,
        pop3_expire_days integer,
        created_at bigint NOT NULL
      );
      CREATE INDEX accounts_domain ON accounts(domain_id);

      -- One row per (alias, target); address_key '@domain' is the domain's catch-all.
      CREATE TABLE aliases (
        address_key text NOT NULL,
        address text NOT NULL,
        domain_id bigint NOT NULL REFERENCES domains(id),
        target text NOT NULL,
        target_key text NOT NULL,
        position integer NOT NULL,
        PRIMARY KEY (address_key, target_key)
      );
      CREATE INDEX aliases_target ON aliases(target_key);
      CREATE INDEX aliases_domain ON aliases(domain_id);

      -- uid_next and highest_modseq are taken with UPDATE ... RETURNING inside the mutating
      -- transaction: the row lock orders every writer of a mailbox, on any node, so UIDs and
      -- modseqs become visible in the order they were handed out.
      CREATE TABLE mailboxes (
        id bigserial PRIMARY KEY,
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name text NOT NULL,
        special_use text,
        uid_validity bigint NOT NULL,
        uid_next bigint NOT NULL DEFAULT 1,
        highest_modseq bigint NOT NULL DEFAULT 1,
        first_recent_uid bigint NOT NULL DEFAULT 1,
        UNIQUE (account_id, name)
      );

      CREATE TABLE subscriptions (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name text NOT NULL,
        PRIMARY KEY (account_id, name)
      );

      -- The blob store (blob-store.ts): each unique message's bytes once, in chunks. hash is NULL
      -- while an upload is in progress; a row is named by its SHA-256 once complete.
      CREATE TABLE blob_contents (
        id bigserial PRIMARY KEY,
        hash text UNIQUE,
        size bigint NOT NULL,
        chunk_size integer NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE TABLE blob_chunks (
        content_id bigint NOT NULL REFERENCES blob_contents(id) ON DELETE CASCADE,
        seq integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (content_id, seq)
      );
      -- A staged message (MailStore.stageMessage) not yet delivered. The foreign key makes a
      -- concurrent removal of the bytes fail instead of leaving a pin to nothing.
      CREATE TABLE blob_pins (
        pin uuid PRIMARY KEY,
        hash text NOT NULL REFERENCES blob_contents(hash),
        created_at bigint NOT NULL
      );
      CREATE INDEX blob_pins_hash ON blob_pins(hash);

      -- What was derived once from a message's bytes at delivery, shared by every copy: the MIME
      -- structure and envelope (blob offsets), and the folded search text under a trigram index.
      -- text_head: characters of search_text that come from the top-level header (BODY skips them).
      CREATE TABLE blobs (
        id text PRIMARY KEY REFERENCES blob_contents(hash),
        size bigint NOT NULL,
        crlf_size bigint,
        text_head integer NOT NULL,
        structure text NOT NULL,
        envelope text NOT NULL,
        search_text text NOT NULL
      );
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
      CREATE INDEX blobs_search_text ON blobs USING gin (search_text gin_trgm_ops);

      CREATE TABLE messages (
        mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid bigint NOT NULL,
        modseq bigint NOT NULL,
        flags text[] NOT NULL,
        seen boolean NOT NULL,
        deleted boolean NOT NULL,
        internal_date bigint NOT NULL,
        size bigint NOT NULL,
        blob_id text NOT NULL REFERENCES blobs(id),
        prefix bytea,
        PRIMARY KEY (mailbox_id, uid)
      );
      CREATE INDEX messages_blob ON messages(blob_id);
      CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
      CREATE INDEX messages_unseen ON messages(mailbox_id, uid) WHERE NOT seen;

      -- The change log. 'expunged' rows are the tombstones QRESYNC VANISHED (EARLIER) needs;
      -- 'added'/'flags' rows of a message are pruned as newer ones supersede them.
      CREATE TABLE changes (
        id bigserial PRIMARY KEY,
        mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        modseq bigint NOT NULL,
        kind text NOT NULL CHECK (kind IN ('added', 'flags', 'expunged')),
        uid bigint NOT NULL,
        flags text[]
      );
      CREATE INDEX changes_mailbox_modseq ON changes(mailbox_id, modseq);
      CREATE INDEX changes_mailbox_uid ON changes(mailbox_id, uid);

      -- The outbound queue; lease_until = 0 means no worker holds the entry. An entry refers to
      -- its blob directly (queue.blob_id), which keeps the blob while the entry exists.
      CREATE TABLE queue (
        id bigserial PRIMARY KEY,
        mail_from text NOT NULL,
        submitted_by text,
        blob_id text NOT NULL REFERENCES blobs(id),
        prefix bytea,
        size bigint NOT NULL,
        envelope_id text,
        ret text CHECK (ret IN ('FULL', 'HDRS')),
        body_type text NOT NULL CHECK (body_type IN ('7BIT', '8BITMIME', 'BINARYMIME')),
        smtputf8 boolean NOT NULL,
        created_at bigint NOT NULL,
        next_attempt_at bigint NOT NULL,
        lease_until bigint NOT NULL DEFAULT 0,
        delay_warned boolean NOT NULL DEFAULT false
      );
      CREATE INDEX queue_due ON queue(next_attempt_at, id);
      CREATE INDEX queue_blob ON queue(blob_id);

      CREATE TABLE queue_recipients (
        queue_id bigint NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        position integer NOT NULL,
        address text NOT NULL,
        notify text,
        original_recipient text,
        state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'deferred')),
        attempts integer NOT NULL DEFAULT 0,
        last_result text,
        PRIMARY KEY (queue_id, position),
        UNIQUE (queue_id, address)
      );

      -- RFC 5804 §1.5: named scripts per account, at most one active.
      CREATE TABLE sieve_scripts (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name text NOT NULL,
        content text NOT NULL,
        active boolean NOT NULL DEFAULT false,
        updated_at bigint NOT NULL,
        PRIMARY KEY (account_id, name)
      );
      CREATE UNIQUE INDEX sieve_scripts_one_active ON sieve_scripts(account_id) WHERE active;
      -- RFC 5230 §4.2: the last vacation reply per (account, :handle, sender).
      CREATE TABLE sieve_vacation (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        handle text NOT NULL,
        sender text NOT NULL,
        replied_at bigint NOT NULL,
        PRIMARY KEY (account_id, handle, sender)
      );
    `,
  },
  {
    version: 2,
    description: "change notices too large for one NOTIFY payload",
    sql: `
      -- The cross-node change feed (change-feed.ts) sends each transaction's change batches with
      -- pg_notify; a payload over the 8000-byte NOTIFY limit is stored here and the notification
      -- names its row. Rows are read within seconds and removed after ten minutes.
      CREATE TABLE change_notices (
        id bigserial PRIMARY KEY,
        payload text NOT NULL,
        created_at bigint NOT NULL
      );
    `,
  },
  {
    version: 3,
    description: "POP3 maildrop leases shared by every node",
    sql: `
      -- RFC 1939 §8 maildrop lock across nodes (store/maildrop-leases.ts): one row per locked
      -- account, renewed by the holding session; expires_at is in the database's clock (epoch ms),
      -- so nodes with skewed clocks agree on when a dead holder's lease ends.
      CREATE TABLE maildrop_leases (
        account_id bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        holder text NOT NULL,
        expires_at bigint NOT NULL
      );
    `,
  },
  {
    version: 4,
    description: "spam classifier statistics per account and greylisting state",
    sql: `
      -- spam/bayes.ts: trained spam and ham messages holding each token (a 48-bit digest).
      CREATE TABLE spam_tokens (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        token bigint NOT NULL,
        spam integer NOT NULL DEFAULT 0,
        ham integer NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, token)
      );
      CREATE TABLE spam_totals (
        account_id bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        spam bigint NOT NULL DEFAULT 0,
        ham bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE spam_trained (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        message_key text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('spam', 'ham')),
        tokens bytea NOT NULL,
        trained_at bigint NOT NULL,
        PRIMARY KEY (account_id, message_key)
      );
      -- RFC 6647 greylisting, shared by every node.
      CREATE TABLE greylist_triplets (
        triplet text PRIMARY KEY,
        first_seen bigint NOT NULL,
        passed boolean NOT NULL DEFAULT false,
        last_seen bigint NOT NULL
      );
      CREATE INDEX greylist_triplets_last_seen ON greylist_triplets(last_seen);
      CREATE TABLE greylist_whitelist (
        sender text PRIMARY KEY,
        until bigint NOT NULL
      );
    `,
  },
  {
    version: 5,
    description: "Sieve duplicate tracking (RFC 7352) per account",
    sql: `
      -- The same table as SQLite's migration 14: a key per account until it expires.
      CREATE TABLE sieve_duplicates (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        key text NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (account_id, key)
      );
      CREATE INDEX sieve_duplicates_expiry ON sieve_duplicates(expires_at);
    `,
  },
  {
    version: 6,
    description: "tls_reports: TLS-RPT reports received for our domains (RFC 8460)",
    sql: `
      -- As SQLite's migration 15: one row per report (RFC 8460 §4.4: organization-name and
      -- report-id identify it; a report sent twice, by mail and by HTTPS or by two nodes, is stored
      -- once); its policies, with session counts and failure details, as JSON.
      CREATE TABLE tls_reports (
        organization text NOT NULL,
        report_id text NOT NULL,
        contact text,
        start_at bigint NOT NULL,
        end_at bigint NOT NULL,
        policies jsonb NOT NULL,
        received_at bigint NOT NULL,
        PRIMARY KEY (organization, report_id)
      );
      CREATE INDEX tls_reports_end ON tls_reports(end_at);
    `,
  },
  {
    version: 8,
    description: "mailroom migrate: per source folder the UIDVALIDITY and highest UID copied, and what each message became",
    sql: `
      -- The same tables as SQLite's migration 20 (store/migration-store.ts).
      CREATE TABLE migration_folders (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        source text NOT NULL,
        folder text NOT NULL,
        uid_validity bigint NOT NULL,
        last_uid bigint NOT NULL,
        mailbox text NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (account_id, source, folder)
      );
      CREATE TABLE migration_messages (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        source text NOT NULL,
        folder text NOT NULL,
        key text NOT NULL,
        mailbox_id bigint NOT NULL,
        uid bigint NOT NULL,
        PRIMARY KEY (account_id, source, folder, key)
      );
    `,
  },
  {
    version: 10,
    description: "auth throttling, per-IP message rates and per-node connection counts shared by every node",
    sql: `
      -- auth/shared-auth-throttle.ts: the address, account and address+account records of
      -- auth/auth-throttle.ts, one row per key, updated by atomic upserts (store/abuse-state-store.ts).
      CREATE TABLE auth_throttle (
        key text PRIMARY KEY,
        failures integer NOT NULL,
        window_start bigint NOT NULL,
        last_success_at bigint,
        updated_at bigint NOT NULL
      );
      CREATE INDEX auth_throttle_updated ON auth_throttle(updated_at);
      -- abuse/ip-rate.ts across nodes: MAIL attempts per client address per minute (epoch minute).
      CREATE TABLE ip_message_counts (
        ip text NOT NULL,
        minute bigint NOT NULL,
        attempts integer NOT NULL,
        PRIMARY KEY (ip, minute)
      );
      CREATE INDEX ip_message_counts_minute ON ip_message_counts(minute);
      -- limits.connections_per_ip across nodes: each node's open connections per client group,
      -- rewritten with a heartbeat every second; a node whose heartbeat is stale no longer counts.
      CREATE TABLE node_connections (
        node_id text PRIMARY KEY,
        counts jsonb NOT NULL,
        heartbeat bigint NOT NULL
      );
    `,
  },
  {
    version: 11,
    description: "quota: MESSAGE limit and usage counter per account, and the warning-sent flag (RFC 9208)",
    sql: `
      -- As SQLite's migration 24 (store/quota.ts).
      ALTER TABLE accounts ADD COLUMN quota_messages bigint;
      ALTER TABLE accounts ADD COLUMN used_messages bigint NOT NULL DEFAULT 0 CHECK (used_messages >= 0);
      ALTER TABLE accounts ADD COLUMN quota_warned boolean NOT NULL DEFAULT false;
      UPDATE accounts a SET used_messages = (SELECT count(*) FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.account_id = a.id);
    `,
  },
  {
    version: 12,
    description: "node state shared by every node: DKIM keys, ACME account/certificates/HTTP-01 answers, windowed counters, POP3 last logins",
    sql: `
      -- store/node-state-store.ts. DKIM keys (mail-auth/dkim-keys.ts): every key made for a domain
      -- stays (rotation keeps old selectors valid); active marks the ones that sign now.
      CREATE TABLE dkim_keys (
        domain text NOT NULL,
        selector text NOT NULL,
        algorithm text NOT NULL CHECK (algorithm IN ('ed25519-sha256', 'rsa-sha256')),
        private_key_pem text NOT NULL,
        active boolean NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (domain, selector)
      );
      -- net/acme.ts: one ACME account key for the cluster, one certificate per host name, the
      -- claim of the node ordering a name, and HTTP-01 answers any node can give.
      CREATE TABLE acme_account (
        id smallint PRIMARY KEY CHECK (id = 1),
        key_pem text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE TABLE acme_certificates (
        name text PRIMARY KEY,
        cert_pem text NOT NULL,
        key_pem text NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE TABLE acme_order_claims (
        name text PRIMARY KEY,
        holder text NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE TABLE acme_http_challenges (
        token text PRIMARY KEY,
        key_authorization text NOT NULL,
        expires_at bigint NOT NULL
      );
      -- Windowed counters (send limits, Sieve redirects per day): one row per key and time bucket.
      CREATE TABLE shared_counters (
        key text NOT NULL,
        bucket bigint NOT NULL,
        amount bigint NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (key, bucket)
      );
      CREATE INDEX shared_counters_expires ON shared_counters(expires_at);
      -- POP3 LOGIN-DELAY (RFC 2449 §6.5): each account's last login, in the database's clock.
      CREATE TABLE pop3_logins (
        account_id bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        at bigint NOT NULL
      );
    `,
  },
  {
    version: 13,
    description: "EMAILID, THREADID and save date per message, preview per blob, message-id to thread map (RFC 8474, 8514, 8970)",
    sql: `
      -- As SQLite's migration 28 (store/object-ids.ts): save_date NULL means INTERNALDATE, preview
      -- NULL means computed from the bytes when fetched; messages stored before get an EMAILID
      -- each and a thread of their own.
      ALTER TABLE messages ADD COLUMN email_id text;
      ALTER TABLE messages ADD COLUMN thread_id text;
      ALTER TABLE messages ADD COLUMN save_date bigint;
      ALTER TABLE blobs ADD COLUMN preview text;
      CREATE TABLE thread_keys (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        message_key text NOT NULL,
        thread_id text NOT NULL,
        PRIMARY KEY (account_id, message_key)
      );
      UPDATE messages SET email_id = 'E' || substr(md5(random()::text || mailbox_id::text || ':' || uid::text), 1, 24) WHERE email_id IS NULL;
      UPDATE messages SET thread_id = 'T' || substr(email_id, 2) WHERE thread_id IS NULL;
    `,
  },
  {
    version: 14,
    description: "IMAP METADATA entries per mailbox and server (RFC 5464)",
    sql: `
      -- As SQLite's migration 29 (store/metadata-store.ts).
      CREATE TABLE metadata_entries (
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        mailbox_id bigint REFERENCES mailboxes(id) ON DELETE CASCADE,
        name text NOT NULL,
        value bytea NOT NULL
      );
      CREATE UNIQUE INDEX metadata_entries_key ON metadata_entries (account_id, coalesce(mailbox_id, 0), name);
      CREATE INDEX metadata_entries_mailbox ON metadata_entries (mailbox_id);
    `,
  },
  {
    version: 15,
    description: "admin accounts, browser sessions and API tokens of the admin API and pages (store/web-auth-store.ts)",
    sql: `
      -- As SQLite's migration 30 (store/sqlite/web-auth.ts).
      CREATE TABLE IF NOT EXISTS admin_users (
        name text PRIMARY KEY,
        password_hash text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE TABLE IF NOT EXISTS web_sessions (
        id_hash text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('admin', 'account')),
        subject text NOT NULL,
        csrf_token text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX IF NOT EXISTS web_sessions_subject ON web_sessions(kind, subject);
      CREATE INDEX IF NOT EXISTS web_sessions_expiry ON web_sessions(expires_at);
      CREATE TABLE IF NOT EXISTS api_tokens (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        admin text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        created_at bigint NOT NULL,
        expires_at bigint,
        last_used_at bigint,
        UNIQUE (admin, name)
      );
    `,
  },
  {
    version: 16,
    description: "auth: SCRAM keys, app passwords, TOTP and lock-out state per account (issue 22)",
    sql: `
      -- As SQLite's migration 31 (store/auth-store.ts).
      CREATE TABLE IF NOT EXISTS account_auth (
        account_id bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        scram_salt text,
        scram_iterations integer,
        scram_keys text,
        scram_hash_tag text,
        app_passwords_only boolean NOT NULL DEFAULT false,
        totp text,
        lockout_notice_at bigint
      );
      CREATE TABLE IF NOT EXISTS app_passwords (
        id bigserial PRIMARY KEY,
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name text NOT NULL,
        protocols text NOT NULL,
        secret_hash text NOT NULL UNIQUE,
        scram_keys text,
        created_at bigint NOT NULL,
        last_used_at bigint,
        last_used_address text,
        UNIQUE (account_id, name)
      );
    `,
  },
  {
    version: 17,
    description: "ACME TLS-ALPN-01 answers any node can give (net/acme.ts)",
    sql: `
      -- The CA's validation connection may reach any node behind the balancer (RFC 8737 §3,
      -- docs/scale-out.md): the acmeIdentifier certificate of each pending name, as PEM.
      CREATE TABLE IF NOT EXISTS acme_alpn_challenges (
        name text PRIMARY KEY,
        cert_pem text NOT NULL,
        key_pem text NOT NULL,
        expires_at bigint NOT NULL
      );
    `,
  },
  {
    version: 19,
    description: "auth: admins' TOTP second factor and WebAuthn passkeys of admins and accounts (issue 22)",
    sql: `
      -- As SQLite's migration 34 (store/web-auth-store.ts).
      CREATE TABLE IF NOT EXISTS admin_auth (
        name text PRIMARY KEY REFERENCES admin_users(name) ON DELETE CASCADE,
        totp text
      );
      CREATE TABLE IF NOT EXISTS webauthn_credentials (
        id bigserial PRIMARY KEY,
        admin_name text REFERENCES admin_users(name) ON DELETE CASCADE,
        account_id bigint REFERENCES accounts(id) ON DELETE CASCADE,
        credential_id text NOT NULL UNIQUE,
        public_key text NOT NULL,
        sign_count bigint NOT NULL DEFAULT 0,
        transports text NOT NULL DEFAULT '',
        name text NOT NULL,
        created_at bigint NOT NULL,
        last_used_at bigint,
        CHECK ((admin_name IS NULL) <> (account_id IS NULL))
      );
      CREATE UNIQUE INDEX IF NOT EXISTS webauthn_admin_name ON webauthn_credentials(admin_name, name) WHERE admin_name IS NOT NULL;
      CREATE UNIQUE INDEX IF NOT EXISTS webauthn_account_name ON webauthn_credentials(account_id, name) WHERE account_id IS NOT NULL;
    `,
  },
  {
    version: 20,
    description: "admin dashboard: counts per minute of the last day and the recent delivery log (store/admin-history-store.ts)",
    sql: `
      -- As SQLite's migration 35 (store/sqlite/admin-history.ts). Every node adds to the same
      -- minute rows, so a minute's count is the cluster's total.
      CREATE TABLE IF NOT EXISTS admin_minute_counts (
        minute bigint NOT NULL,
        name text NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (minute, name)
      );
      CREATE TABLE IF NOT EXISTS admin_deliveries (
        id bigserial PRIMARY KEY,
        at bigint NOT NULL,
        event text NOT NULL CHECK (event IN ('accepted', 'delivered', 'deferred', 'failed')),
        queue_id bigint,
        sender text NOT NULL,
        recipients text NOT NULL,
        detail text NOT NULL,
        size bigint
      );
      CREATE INDEX IF NOT EXISTS admin_deliveries_at ON admin_deliveries(at, id);
    `,
  },
  {
    version: 22,
    description: "queue.require_tls (RFC 8689 REQUIRETLS) and tls_rpt_sessions: TLS-RPT counts to send (RFC 8460)",
    sql: `
      -- As SQLite's migration 37.
      ALTER TABLE queue ADD COLUMN IF NOT EXISTS require_tls boolean NOT NULL DEFAULT false;
      CREATE TABLE IF NOT EXISTS tls_rpt_sessions (
        day text NOT NULL,
        policy_domain text NOT NULL,
        policy_type text NOT NULL,
        policy_strings text NOT NULL,
        mx_host text NOT NULL,
        receiving_ip text NOT NULL,
        result_type text NOT NULL,
        sessions bigint NOT NULL,
        PRIMARY KEY (day, policy_domain, policy_type, mx_host, receiving_ip, result_type)
      );
    `,
  },
  {
    version: 23,
    description: "IMAP ACL (RFC 4314): rights per mailbox and grantee, and per-user \\Seen on shared mailboxes (store/acl-store.ts)",
    sql: `
      -- As SQLite's migration 38. IF NOT EXISTS: the migration tests rewind the history and migrate again.
      CREATE TABLE IF NOT EXISTS mailbox_acl (
        mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        -- NULL: the identifier "anyone" (RFC 4314 §2).
        grantee_id bigint REFERENCES accounts(id) ON DELETE CASCADE,
        rights text NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS mailbox_acl_key ON mailbox_acl (mailbox_id, coalesce(grantee_id, 0));
      CREATE INDEX IF NOT EXISTS mailbox_acl_grantee ON mailbox_acl (grantee_id);
      CREATE TABLE IF NOT EXISTS private_seen (
        mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        uid bigint NOT NULL,
        PRIMARY KEY (mailbox_id, account_id, uid)
      );
      CREATE INDEX IF NOT EXISTS private_seen_account ON private_seen (account_id);
    `,
  },
];

export interface MigrationReport {
  /** Schema version before the run. */
  from: number;
  to: number;
  applied: number[];
}

/**
 * Applies every migration newer than the database, each in its own transaction, while holding
 * the migration advisory lock (other nodes starting at the same moment wait on it).
 */
export async function migratePostgres(pool: pg.Pool, now: () => Date, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<MigrationReport> {
  const client = await pool.connect();
  let broken = false;
  // A connection lost while checked out emits 'error' (see database.ts transaction()).
  const lost = (): void => {
    broken = true;
  };
  client.on("error", lost);
  try {
    const encoding = (await client.query<{ encoding: string }>("SELECT current_setting('server_encoding') AS encoding")).rows[0]?.encoding;
    // Search text and names are any Unicode; SQL_ASCII or LATIN1 would corrupt or refuse them.
    if (encoding !== "UTF8") throw new StoreError("UNAVAILABLE", `the database's encoding is ${encoding}; Mailroom needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')`);
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, description text NOT NULL, applied_at bigint NOT NULL)`);
      const current = (await client.query<{ version: number | null }>("SELECT max(version) AS version FROM schema_migrations")).rows[0]?.version ?? 0;
      const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
      if (current > newest) throw new StoreError("UNAVAILABLE", `database schema version ${current} is newer than this Mailroom (${newest})`);
      const applied: number[] = [];
      for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
        if (migration.version <= current) continue;
        await client.query("BEGIN");
        try {
          await client.query(migration.sql);
          await client.query("INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)", [migration.version, migration.description, now().getTime()]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => (broken = true));
          throw err;
        }
        applied.push(migration.version);
      }
      return { from: current, to: Math.max(current, newest), applied };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => (broken = true));
    }
  } finally {
    client.removeListener("error", lost);
    client.release(broken ? true : undefined);
  }
}

/** The version the database is at (0 when Mailroom never migrated it). */
export async function schemaVersion(pool: pg.Pool): Promise<number> {
  const exists = (await pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t")).rows[0]?.t;
  if (!exists) return 0;
  return (await pool.query<{ version: number | null }>("SELECT max(version) AS version FROM schema_migrations")).rows[0]?.version ?? 0;
}
