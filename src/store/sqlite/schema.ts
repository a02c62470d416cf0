// The SQLite schema as an ordered list of forward-only migrations. Each runs once, in its own
// transaction, and is recorded in schema_migrations; a database written by a newer version than
// this code knows is refused rather than guessed at.
import type Database from "better-sqlite3";
import type { Envelope } from "../../mail/envelope.js";
import { headerSearchEntry } from "../../mail/header-search.js";
import { decodeStructure } from "../../mail/stored-structure.js";
import { encodeImapItems } from "../imap-items.js";
import { StoreError } from "../errors.js";

export interface Migration {
  version: number;
  description: string;
  sql: string;
  /** Steps that depend on the schema found (run after `sql`, in the same transaction). */
  run?: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "domains, accounts, aliases, mailboxes, subscriptions, blobs, messages, change log",
    sql: `
      -- Named counters that must never go backwards (the last UIDVALIDITY handed out).
      CREATE TABLE store_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

      CREATE TABLE domains (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );

      -- address keeps the local part as given; address_key is the case-folded lookup key.
      CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id),
        address TEXT NOT NULL,
        address_key TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        quota_bytes INTEGER,
        used_bytes INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
        pop3_mode TEXT NOT NULL,
        pop3_mark_seen INTEGER NOT NULL,
        pop3_login_delay INTEGER,
        pop3_expire_days INTEGER,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX accounts_domain ON accounts(domain_id);

      -- One row per (alias, target); address_key '@domain' is the domain's catch-all.
      CREATE TABLE aliases (
        address_key TEXT NOT NULL,
        address TEXT NOT NULL,
        domain_id INTEGER NOT NULL REFERENCES domains(id),
        target TEXT NOT NULL,
        target_key TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (address_key, target_key)
      ) WITHOUT ROWID;
      CREATE INDEX aliases_target ON aliases(target_key);
      CREATE INDEX aliases_domain ON aliases(domain_id);

      CREATE TABLE mailboxes (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        special_use TEXT,
        uid_validity INTEGER NOT NULL,
        uid_next INTEGER NOT NULL DEFAULT 1,
        highest_modseq INTEGER NOT NULL DEFAULT 1,
        UNIQUE (account_id, name)
      );

      CREATE TABLE subscriptions (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        PRIMARY KEY (account_id, name)
      ) WITHOUT ROWID;

      -- What was derived once from the raw bytes at delivery; offsets are blob offsets.
      CREATE TABLE blobs (
        id TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        structure TEXT NOT NULL,
        envelope TEXT NOT NULL,
        search_text TEXT NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE messages (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        flags TEXT NOT NULL,
        seen INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        internal_date INTEGER NOT NULL,
        size INTEGER NOT NULL,
        blob_id TEXT NOT NULL REFERENCES blobs(id),
        prefix BLOB,
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;
      CREATE INDEX messages_blob ON messages(blob_id);
      CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);

      -- The change log. 'expunged' rows are the tombstones QRESYNC VANISHED (EARLIER) needs;
      -- 'added'/'flags' rows of a message are pruned as newer ones supersede them.
      CREATE TABLE changes (
        id INTEGER PRIMARY KEY,
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        modseq INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('added', 'flags', 'expunged')),
        uid INTEGER NOT NULL,
        flags TEXT
      );
      CREATE INDEX changes_mailbox_modseq ON changes(mailbox_id, modseq);
      CREATE INDEX changes_mailbox_uid ON changes(mailbox_id, uid);
    `,
  },
  {
    version: 2,
    description: "blob holds: references to blobs from outside mailboxes (the outbound queue)",
    sql: `
      -- A blob is garbage only when no message row and no hold refers to it. The outbound queue
      -- (QueueStore) inserts a hold while an entry needs the bytes and deletes it when done.
      CREATE TABLE blob_holds (
        blob_id TEXT NOT NULL REFERENCES blobs(id),
        holder TEXT NOT NULL,
        PRIMARY KEY (blob_id, holder)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description: "outbound queue: entries, recipients, leases",
    sql: `
      -- One row per submitted message (QueueStore). Its blob is held by a blob_holds row with
      -- holder 'queue:<id>'; prefix is the trace header block sent before the blob. Times are
      -- epoch ms; lease_until = 0 means no worker holds the entry.
      CREATE TABLE queue (
        id INTEGER PRIMARY KEY,
        mail_from TEXT NOT NULL,
        submitted_by TEXT,
        blob_id TEXT NOT NULL REFERENCES blobs(id),
        prefix BLOB,
        size INTEGER NOT NULL,
        envelope_id TEXT,
        ret TEXT CHECK (ret IN ('FULL', 'HDRS')),
        body_type TEXT NOT NULL CHECK (body_type IN ('7BIT', '8BITMIME', 'BINARYMIME')),
        smtputf8 INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        lease_until INTEGER NOT NULL DEFAULT 0
      );
      -- leaseDue scans due entries in this order.
      CREATE INDEX queue_due ON queue(next_attempt_at, id);

      -- RFC 3461 per-recipient parameters and the state of each recipient; notify is a JSON array.
      CREATE TABLE queue_recipients (
        queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        address TEXT NOT NULL,
        notify TEXT,
        original_recipient TEXT,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'deferred')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_result TEXT,
        PRIMARY KEY (queue_id, position),
        UNIQUE (queue_id, address)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    description: "outbound queue: whether the sender was told of the delay",
    sql: `
      -- Set once the RFC 3464 "delayed" DSN went out, so the warning is sent once per entry.
      ALTER TABLE queue ADD COLUMN delay_warned INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 5,
    description: "mailboxes: first recent UID (IMAP4rev1 \\Recent)",
    sql: `
      -- RFC 3501 §2.3.2: messages with uid >= first_recent_uid are recent to the next session
      -- that claims them (MailStore.claimRecent moves it to uid_next). Messages already stored
      -- when this column appears are not recent to anyone.
      ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;
      UPDATE mailboxes SET first_recent_uid = uid_next;
    `,
  },
  {
    version: 6,
    description: "blobs: octets with CRLF line ends (POP3 STAT/LIST without reading the message)",
    sql: `
      -- Counted at delivery in the same pass as the MIME tree (mail/sent-octets.ts): the blob's
      -- octets once every line end is CRLF and the last line is ended. NULL for blobs stored
      -- before this column: MailStore.getCrlfSizes answers null and POP3 counts them by reading.
      ALTER TABLE blobs ADD COLUMN crlf_size INTEGER;
    `,
  },
  {
    version: 7,
    description: "outbound queue: ids never reused (AUTOINCREMENT)",
    sql: `
      -- A plain INTEGER PRIMARY KEY hands out max(id) + 1, so once the newest entry completes its
      -- id comes back, and log lines and bounces of different messages share a queue id. SQLite
      -- adds AUTOINCREMENT only by rebuilding the table. foreign_keys is on and cannot be turned off
      -- inside this transaction, so the child is moved out of the way first: renaming queue then
      -- carries its reference along, and both old tables go once the rows are copied.
      ALTER TABLE queue_recipients RENAME TO queue_recipients_v6;
      ALTER TABLE queue RENAME TO queue_v6;
      CREATE TABLE queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        mail_from TEXT NOT NULL,
        submitted_by TEXT,
        blob_id TEXT NOT NULL REFERENCES blobs(id),
        prefix BLOB,
        size INTEGER NOT NULL,
        envelope_id TEXT,
        ret TEXT CHECK (ret IN ('FULL', 'HDRS')),
        body_type TEXT NOT NULL CHECK (body_type IN ('7BIT', '8BITMIME', 'BINARYMIME')),
        smtputf8 INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        lease_until INTEGER NOT NULL DEFAULT 0,
        delay_warned INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE queue_recipients (
        queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        address TEXT NOT NULL,
        notify TEXT,
        original_recipient TEXT,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'deferred')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_result TEXT,
        PRIMARY KEY (queue_id, position),
        UNIQUE (queue_id, address)
      ) WITHOUT ROWID;
      INSERT INTO queue (id, mail_from, submitted_by, blob_id, prefix, size, envelope_id, ret, body_type, smtputf8, created_at, next_attempt_at, lease_until, delay_warned)
        SELECT id, mail_from, submitted_by, blob_id, prefix, size, envelope_id, ret, body_type, smtputf8, created_at, next_attempt_at, lease_until, delay_warned FROM queue_v6;
      INSERT INTO queue_recipients SELECT queue_id, position, address, notify, original_recipient, state, attempts, last_result FROM queue_recipients_v6;
      DROP TABLE queue_recipients_v6;
      DROP TABLE queue_v6;
      CREATE INDEX queue_due ON queue(next_attempt_at, id);
    `,
  },
  {
    version: 8,
    description: "blob garbage: blobs whose last reference went, for the collector to remove",
    sql: `
      -- Written in the same transaction that deletes a blob's last row (message-removal.ts,
      -- queue.ts), so a crash can never forget a file to remove. Only the serving process's
      -- collector (blob-collector.ts) reads it: it removes the file unless the blob is pinned or
      -- referenced again, then deletes the entry by its id. A blob queued again gets a new id
      -- (AUTOINCREMENT never reuses one), so the collector never deletes an entry it did not see.
      CREATE TABLE blob_garbage (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        blob_id TEXT NOT NULL UNIQUE,
        queued_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 9,
    description: "full-text index (FTS5 trigram) of each blob's folded search text; the plain copy in blobs goes",
    sql: `
      -- One row per blob, shared by every message (and COPY) of it: the decoded text SEARCH looks in
      -- (header values, text parts decoded from transfer encoding and charset, HTML reduced to text,
      -- part header values such as attachment file names), already case-folded the way SEARCH
      -- folds its strings (mail/case-fold.ts), under a case-sensitive trigram index, so no fold of
      -- SQLite's own can disagree with ours. detail=none keeps no token positions (the index is
      -- about half the size of detail=full): a query asks for blobs holding every trigram of the
      -- string, and each candidate is then verified exactly with instr() on the stored text
      -- (RFC 9051 §6.4.4 substring match; store/sqlite/messages.ts). The FTS table's content is the
      -- only copy of the text: blobs.search_text is dropped (issue 13: no text kept twice).
      -- text_head: UTF-16 units of the text from the top-level header (SEARCH BODY skips them);
      -- NULL for blobs stored before this migration, whose BODY matches are verified against the
      -- header read from the file (imap/search/search-mailbox.ts).
      -- Existing blobs are backfilled here, in the migration's own transaction, rather than by a
      -- catch-up worker: their decoded text is already in the database, so the backfill is one
      -- SQL pass (mailroom_fold is registered by sqlite-database.ts), and no SEARCH can ever run
      -- against a half-built index.
      CREATE VIRTUAL TABLE search_index USING fts5(text, tokenize = 'trigram case_sensitive 1', detail = none);
      ALTER TABLE blobs ADD COLUMN text_id INTEGER;
      ALTER TABLE blobs ADD COLUMN text_head INTEGER;
      UPDATE blobs SET text_id = n.rn FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM blobs) AS n WHERE n.id = blobs.id;
      INSERT INTO search_index (rowid, text) SELECT text_id, mailroom_fold(search_text) FROM blobs;
      ALTER TABLE blobs DROP COLUMN search_text;
      CREATE UNIQUE INDEX blobs_text ON blobs(text_id);
      -- Every path that deletes a blob's row (expunge, mailbox and account deletion, a finished
      -- queue entry, store check --repair) removes its text with it, in the same transaction.
      CREATE TRIGGER blobs_search_index_delete AFTER DELETE ON blobs
        BEGIN DELETE FROM search_index WHERE rowid = old.text_id; END;
    `,
  },
  {
    version: 10,
    description: "messages: indexes for SELECT of a big mailbox (first unseen, keywords in use)",
    sql: `
      -- MailStore.selectionIndex answers SELECT without reading every row: the first message
      -- without \\Seen is the first entry of this partial index, and the distinct flag lists
      -- (for the keywords FLAGS must list, RFC 9051 §7.3.5) are one walk of a narrow index.
      CREATE INDEX messages_unseen ON messages(mailbox_id, uid) WHERE seen = 0;
      CREATE INDEX messages_flags ON messages(mailbox_id, flags);
    `,
  },
  {
    version: 11,
    description: "blobs: a rowid table (appended in order, pages full) with the hash as a unique key, small columns first",
    sql: "",
    run: compactBlobsTable,
  },
  {
    version: 12,
    description: "header search index and encoded ENVELOPE/BODYSTRUCTURE per blob (FETCH and SEARCH of big mailboxes)",
    sql: `
      -- SEARCH SUBJECT/FROM/TO/CC/BCC/HEADER answered in SQL without opening any message
      -- (docs/architecture.md, "SEARCH through the index"). One row per blob (keyed by its
      -- text_id, appended in delivery order), written in the delivery's transaction from the parsed
      -- top-level header (mail/header-search.ts): each text decoded and case-folded as SEARCH folds
      -- its strings, NULL when the message has no such field. fields: a JSON array of
      -- [lower-cased name, folded decoded value] per top-level field, for HEADER; NULL when not
      -- known (blobs stored before this migration: their fields are in the files only, so SEARCH
      -- HEADER reads those headers until \`mailroom index rebuild\` fills them in).
      CREATE TABLE header_index (
        text_id INTEGER PRIMARY KEY,
        subject TEXT,
        from_text TEXT,
        to_text TEXT,
        cc_text TEXT,
        bcc_text TEXT,
        fields TEXT
      );
      -- ENVELOPE and BODYSTRUCTURE as FETCH sends them (store/imap-items.ts), per blob, written
      -- in the delivery's transaction: FETCH 1:* (ENVELOPE BODYSTRUCTURE) reads these bytes and
      -- renders nothing. bodystructure_utf8: the form for UTF8=ACCEPT/IMAP4rev2 clients, NULL when
      -- it is the same bytes. Existing blobs are filled here from their stored structure and
      -- envelope (no file is read). A blob without a row is rendered from those when fetched.
      CREATE TABLE fetch_items (
        text_id INTEGER PRIMARY KEY,
        envelope TEXT NOT NULL,
        bodystructure TEXT NOT NULL,
        bodystructure_utf8 TEXT
      );
      -- Both removed with their blob, in the same transaction, like the full-text entry (version 9).
      CREATE TRIGGER blobs_header_index_delete AFTER DELETE ON blobs
        BEGIN DELETE FROM header_index WHERE text_id = old.text_id; DELETE FROM fetch_items WHERE text_id = old.text_id; END;
    `,
    run: backfillHeaderIndex,
  },
  {
    version: 13,
    description: "sieve: scripts per account (one active at most) and vacation replies per sender",
    sql: `
      -- RFC 5804 §1.5: named scripts per account, at most one active (the partial unique index).
      -- Deleted with the account (ON DELETE CASCADE).
      CREATE TABLE sieve_scripts (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        content TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, name)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX sieve_scripts_one_active ON sieve_scripts(account_id) WHERE active = 1;
      -- RFC 5230 §4.2: the last vacation reply per (account, :handle, sender), for :days/:seconds.
      CREATE TABLE sieve_vacation (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        handle TEXT NOT NULL,
        sender TEXT NOT NULL,
        replied_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, handle, sender)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 14,
    description: "sieve: duplicate tracking per account (RFC 7352)",
    sql: `
      -- RFC 7352 §3: the unique IDs (hashed with their :handle by the caller) an account's
      -- deliveries have seen, each until its expiry; expired rows are removed as new ones come.
      CREATE TABLE sieve_duplicates (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, key)
      ) WITHOUT ROWID;
      CREATE INDEX sieve_duplicates_expiry ON sieve_duplicates(expires_at);
    `,
  },
  {
    version: 15,
    description: "tls_reports: TLS-RPT reports received for our domains (RFC 8460)",
    sql: `
      -- One row per report (RFC 8460 §4.4: organization-name and report-id identify it; a report
      -- sent twice is stored once). Its policies, with session counts and failure details, as JSON.
      CREATE TABLE tls_reports (
        organization TEXT NOT NULL,
        report_id TEXT NOT NULL,
        contact TEXT,
        start_at INTEGER NOT NULL,
        end_at INTEGER NOT NULL,
        policies TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (organization, report_id)
      ) WITHOUT ROWID;
      CREATE INDEX tls_reports_end ON tls_reports(end_at);
    `,
  },
  {
    version: 16,
    description: "spam classifier: token counts per account, trained-message totals and the trained messages",
    sql: `
      -- spam/bayes.ts: how many trained spam and ham messages of the account held each token
      -- (a 48-bit digest of the word or word pair). Deleted with the account.
      CREATE TABLE spam_tokens (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        token INTEGER NOT NULL,
        spam INTEGER NOT NULL DEFAULT 0,
        ham INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, token)
      ) WITHOUT ROWID;
      CREATE TABLE spam_totals (
        account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        spam INTEGER NOT NULL DEFAULT 0,
        ham INTEGER NOT NULL DEFAULT 0
      );
      -- Each trained message (by a digest of its text) with its class and the tokens it was
      -- counted with, so retraining it as the other class takes back exactly what was added.
      CREATE TABLE spam_trained (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        message_key TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('spam', 'ham')),
        tokens BLOB NOT NULL,
        trained_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, message_key)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 17,
    description: "greylisting: triplets first seen and passed, and senders that retried correctly",
    sql: `
      -- RFC 6647: one row per (client network, sender, recipient), normalised by spam/greylist.ts.
      CREATE TABLE greylist_triplets (
        triplet TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        passed INTEGER NOT NULL DEFAULT 0 CHECK (passed IN (0, 1)),
        last_seen INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX greylist_triplets_last_seen ON greylist_triplets(last_seen);
      -- A client network and sender domain that retried correctly skip greylisting until "until".
      CREATE TABLE greylist_whitelist (
        sender TEXT PRIMARY KEY,
        until INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 20,
    description: "mailroom migrate: per source folder the UIDVALIDITY and highest UID copied, and what each message became",
    sql: `
      -- store/migration-store.ts. source is the URL without password ("imaps://user@host:993").
      CREATE TABLE migration_folders (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        folder TEXT NOT NULL,
        uid_validity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL,
        mailbox TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, source, folder)
      ) WITHOUT ROWID;
      -- key: the source UID (IMAP) or UIDL (POP3); mailbox_id/uid: our copy (for flag sync).
      CREATE TABLE migration_messages (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        folder TEXT NOT NULL,
        key TEXT NOT NULL,
        mailbox_id INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        PRIMARY KEY (account_id, source, folder, key)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 22,
    description: "search: each message row carries its blob's text_id, indexed per mailbox",
    sql: `
      -- SEARCH TEXT/BODY for a word most messages hold (docs/architecture.md, "SEARCH through the
      -- index"): going from the full-text index's rows to a mailbox's UIDs through blobs costs a
      -- lookup by the blob's random hash per message (~4 us each, 0.4 s at 100,000). With the
      -- text_id on the message row, the mailbox's (text_id, uid) pairs are one covering index
      -- range, probed against the index's answer without touching blobs.
      -- The column is added by run() (SQLite has no ADD COLUMN IF NOT EXISTS), so the migration
      -- can run again over a database wound back to an older version, as the migration tests do.
    `,
    run: (db) => {
      const columns = db.prepare("SELECT name FROM pragma_table_info('messages')").all() as { name: string }[];
      if (!columns.some((c) => c.name === "text_id")) db.exec("ALTER TABLE messages ADD COLUMN text_id INTEGER");
      db.exec(`
        UPDATE messages SET text_id = (SELECT b.text_id FROM blobs b WHERE b.id = messages.blob_id);
        CREATE INDEX IF NOT EXISTS messages_text ON messages(mailbox_id, text_id);
        -- index rebuild (search-index-check.ts) gives a blob a new text_id: its messages follow.
        CREATE TRIGGER IF NOT EXISTS blobs_text_id_update AFTER UPDATE OF text_id ON blobs
          BEGIN UPDATE messages SET text_id = new.text_id WHERE blob_id = new.id; END;
        -- The words of each indexed text (FTS5 ascii tokenizer: runs of ASCII letters and digits
        -- and of non-ASCII characters; the text is already folded, so the tokens are exactly
        -- substrings of it), same rowid as search_index, no positions, no copy of the text. A
        -- message with a word starting with the searched string holds the string: TEXT on a
        -- common word verifies only the candidates without such a word (messages.ts).
        CREATE VIRTUAL TABLE IF NOT EXISTS search_words USING fts5(text, tokenize = 'ascii', detail = none, content = '', contentless_delete = 1);
        INSERT INTO search_words (search_words) VALUES ('delete-all');
        INSERT INTO search_words (rowid, text) SELECT rowid, text FROM search_index;
        CREATE TRIGGER IF NOT EXISTS blobs_search_words_delete AFTER DELETE ON blobs
          BEGIN DELETE FROM search_words WHERE rowid = old.text_id; END;
      `);
    },
  },
  {
    version: 24,
    description: "quota: MESSAGE limit and usage counter per account, and the warning-sent flag (RFC 9208)",
    // In run(): each column is added only if missing, so a database whose migration history was
    // rewound below 24 (the tests of older migrations do that) migrates again cleanly.
    sql: "",
    run: addQuotaColumns,
  },
  {
    version: 27,
    description: "search: the trigram index keeps token positions (exact substrings and phrases without verification); the word index goes",
    sql: "",
    run: positionalTrigramIndex,
  },
  {
    version: 28,
    description: "EMAILID, THREADID and save date per message, preview per blob, message-id to thread map (RFC 8474, 8514, 8970)",
    // Idempotent (each column added only if missing) for the same reason as 24.
    sql: "",
    run: addObjectIdColumns,
  },
  {
    version: 29,
    description: "IMAP METADATA entries per mailbox and server (RFC 5464)",
    // IF NOT EXISTS: the tests of older migrations rewind the history below 29 and migrate again.
    sql: `
      CREATE TABLE IF NOT EXISTS metadata_entries (
        -- The account charged for the entry: a /private entry's user, a /shared entry's mailbox owner.
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        -- NULL: a server entry (RFC 5464 §3.2.1.1).
        mailbox_id INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value BLOB NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS metadata_entries_key ON metadata_entries (account_id, coalesce(mailbox_id, 0), name);
      CREATE INDEX IF NOT EXISTS metadata_entries_mailbox ON metadata_entries (mailbox_id);
    `,
  },
  {
    version: 30,
    description: "admin accounts, browser sessions and API tokens of the admin API and pages (store/web-auth-store.ts)",
    // IF NOT EXISTS: a database whose history was rewound below 30 by the tests of older migrations migrates again cleanly.
    sql: `
      CREATE TABLE IF NOT EXISTS admin_users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      -- A session cookie is kept as its SHA-256 only; kind 'admin' names an admin_users row, 'account' a mail account.
      CREATE TABLE IF NOT EXISTS web_sessions (
        id_hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('admin', 'account')),
        subject TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS web_sessions_subject ON web_sessions(kind, subject);
      CREATE INDEX IF NOT EXISTS web_sessions_expiry ON web_sessions(expires_at);
      CREATE TABLE IF NOT EXISTS api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        admin TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        last_used_at INTEGER,
        UNIQUE (admin, name)
      );
    `,
  },
  {
    version: 31,
    description: "auth: SCRAM keys, app passwords, TOTP and lock-out state per account (issue 22)",
    // IF NOT EXISTS: the migration tests rewind the history below older versions and migrate again.
    sql: `
      CREATE TABLE IF NOT EXISTS account_auth (
        account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        scram_salt TEXT,
        scram_iterations INTEGER,
        scram_keys TEXT,
        scram_hash_tag TEXT,
        app_passwords_only INTEGER NOT NULL DEFAULT 0 CHECK (app_passwords_only IN (0, 1)),
        totp TEXT,
        lockout_notice_at INTEGER
      );
      CREATE TABLE IF NOT EXISTS app_passwords (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        protocols TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        scram_keys TEXT,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        last_used_address TEXT,
        UNIQUE (account_id, name)
      );
    `,
  },
  {
    version: 34,
    description: "auth: admins' TOTP second factor and WebAuthn passkeys of admins and accounts (issue 22)",
    // IF NOT EXISTS: the migration tests rewind the history below older versions and migrate again.
    // admin_auth is a table of its own rather than a column of admin_users: SQLite has no
    // ADD COLUMN IF NOT EXISTS, and a re-run must not fail.
    sql: `
      CREATE TABLE IF NOT EXISTS admin_auth (
        name TEXT PRIMARY KEY REFERENCES admin_users(name) ON DELETE CASCADE,
        totp TEXT
      );
      CREATE TABLE IF NOT EXISTS webauthn_credentials (
        id INTEGER PRIMARY KEY,
        admin_name TEXT REFERENCES admin_users(name) ON DELETE CASCADE,
        account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
        credential_id TEXT NOT NULL UNIQUE,
        public_key TEXT NOT NULL,
        sign_count INTEGER NOT NULL DEFAULT 0,
        transports TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        CHECK ((admin_name IS NULL) <> (account_id IS NULL))
      );
      CREATE UNIQUE INDEX IF NOT EXISTS webauthn_admin_name ON webauthn_credentials(admin_name, name) WHERE admin_name IS NOT NULL;
      CREATE UNIQUE INDEX IF NOT EXISTS webauthn_account_name ON webauthn_credentials(account_id, name) WHERE account_id IS NOT NULL;
    `,
  },
  {
    version: 35,
    description: "admin dashboard: counts per minute of the last day and the recent delivery log (store/admin-history-store.ts)",
    // IF NOT EXISTS: the migration tests rewind the history below older versions and migrate again.
    sql: `
      -- One row per minute and counter name, only non-zero counts; pruned past a day.
      CREATE TABLE IF NOT EXISTS admin_minute_counts (
        minute INTEGER NOT NULL,
        name TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (minute, name)
      ) WITHOUT ROWID;
      -- The last http.admin_delivery_log deliveries; recipients are joined by newlines.
      CREATE TABLE IF NOT EXISTS admin_deliveries (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        event TEXT NOT NULL CHECK (event IN ('accepted', 'delivered', 'deferred', 'failed')),
        queue_id INTEGER,
        sender TEXT NOT NULL,
        recipients TEXT NOT NULL,
        detail TEXT NOT NULL,
        size INTEGER
      );
      CREATE INDEX IF NOT EXISTS admin_deliveries_at ON admin_deliveries(at, id);
    `,
  },
  {
    version: 37,
    description: "queue.require_tls (RFC 8689 REQUIRETLS) and tls_rpt_sessions: TLS-RPT counts to send (RFC 8460)",
    // IF NOT EXISTS and the column check in run(): the migration tests rewind and migrate again.
    sql: `
      -- One row per UTC day, policy domain, policy, receiving MX, receiving address and result
      -- type ('' for a successful session); sessions is a counter, bumped in batches
      -- (queue/tls-rpt-recorder.ts). The daily report takes and deletes a domain's rows of a day.
      CREATE TABLE IF NOT EXISTS tls_rpt_sessions (
        day TEXT NOT NULL,
        policy_domain TEXT NOT NULL,
        policy_type TEXT NOT NULL,
        policy_strings TEXT NOT NULL,
        mx_host TEXT NOT NULL,
        receiving_ip TEXT NOT NULL,
        result_type TEXT NOT NULL,
        sessions INTEGER NOT NULL,
        PRIMARY KEY (day, policy_domain, policy_type, mx_host, receiving_ip, result_type)
      );
    `,
    run: (db) => {
      const columns = db.prepare("SELECT name FROM pragma_table_info('queue')").all() as { name: string }[];
      if (!columns.some((c) => c.name === "require_tls")) db.exec("ALTER TABLE queue ADD COLUMN require_tls INTEGER NOT NULL DEFAULT 0");
    },
  },
  {
    version: 38,
    description: "IMAP ACL (RFC 4314): rights per mailbox and grantee, and per-user \\Seen on shared mailboxes (store/acl-store.ts)",
    // IF NOT EXISTS: the migration tests rewind the history below older versions and migrate again.
    sql: `
      CREATE TABLE IF NOT EXISTS mailbox_acl (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        -- NULL: the identifier "anyone" (RFC 4314 §2).
        grantee_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
        -- Canonical RFC 4314 letters (store/acl-rights.ts), never empty.
        rights TEXT NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS mailbox_acl_key ON mailbox_acl (mailbox_id, coalesce(grantee_id, 0));
      CREATE INDEX IF NOT EXISTS mailbox_acl_grantee ON mailbox_acl (grantee_id);
      -- A user's own \\Seen on another account's mailbox: one row per message it has seen.
      CREATE TABLE IF NOT EXISTS private_seen (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, account_id, uid)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS private_seen_account ON private_seen (account_id);
    `,
  },
];

/**
 * Migration 11 (docs/architecture.md, "Disk layout"). The blobs table was WITHOUT ROWID keyed by
 * random hashes: every insert lands on a random page, splits leave pages half empty, and each row
 * is stored inside the b-tree with its large text, so reading one small column of a row (size,
 * crlf_size) walked the row's overflow pages: ~10 ms per 1 MB message for a POP3 RETR. As a rowid
 * table, rows are appended in insertion order (pages filled), the random hash lives only in a
 * small unique index, and the small columns come first so a lookup reads no overflow page.
 * The column list is read from the database, so columns added or dropped by earlier migrations
 * are carried over as they are; large TEXT columns go last.
 */
function compactBlobsTable(db: Database.Database): void {
  const columns = db.prepare(`SELECT name, type, "notnull" AS required, pk FROM pragma_table_info('blobs')`).all() as { name: string; type: string; required: number; pk: number }[];
  const large = new Set(["structure", "envelope", "search_text"]);
  const ordered = [...columns.filter((c) => c.name === "id"), ...columns.filter((c) => c.name !== "id" && !large.has(c.name)), ...columns.filter((c) => large.has(c.name))];
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const definitions = ordered.map((c) => (c.name === "id" ? `id TEXT NOT NULL UNIQUE` : `${quote(c.name)} ${c.type}${c.required ? " NOT NULL" : ""}`));
  const names = ordered.map((c) => quote(c.name)).join(", ");
  // foreign_keys cannot be turned off inside the migration's transaction, and a rename would make
  // the REFERENCES blobs(id) of other tables follow the old table. So the rows are copied out, the
  // table dropped and created again under its name, and the rows copied back: with deferred
  // foreign keys the drop's dangling references are only counted, and each row copied back settles
  // its own (SQLite checks the count at COMMIT, so a lost row fails the whole migration).
  // Dropping the table drops its indexes and triggers (the search index's blobs_text and its
  // delete trigger, migration 9): they are read here and created again on the new table. The
  // triggers are dropped before the drop's implicit DELETE, so no indexed text is removed.
  const attached = db.prepare(`SELECT sql FROM sqlite_master WHERE tbl_name = 'blobs' AND type IN ('index', 'trigger') AND sql IS NOT NULL`).all() as { sql: string }[];
  db.pragma("defer_foreign_keys = ON");
  db.exec(`CREATE TEMP TABLE blobs_before_11 AS SELECT ${names} FROM main.blobs`);
  db.exec(`DROP TABLE main.blobs`);
  db.exec(`CREATE TABLE main.blobs (${definitions.join(", ")})`);
  db.exec(`INSERT INTO main.blobs (${names}) SELECT ${names} FROM temp.blobs_before_11`);
  db.exec(`DROP TABLE temp.blobs_before_11`);
  for (const { sql } of attached) db.exec(sql);
  const broken = db.prepare("SELECT count(*) AS n FROM pragma_foreign_key_check").get() as { n: number };
  if (broken.n > 0) throw new StoreError("DAMAGED", `migration 11: ${broken.n} references to blobs are dangling`);
}

/**
 * Migration 12: the Subject and address texts of every stored blob, from the envelope kept in its
 * row (the same computation as delivery, mail/header-search.ts); the header fields stay NULL, as
 * only the files hold them. And the encoded ENVELOPE and BODYSTRUCTURE from the stored envelope
 * and structure. A blob without text_id (none after version 9) gets no rows and is answered from
 * its envelope, structure and file by the store's fallbacks.
 */
function backfillHeaderIndex(db: Database.Database): void {
  const insert = db.prepare("INSERT INTO header_index (text_id, subject, from_text, to_text, cc_text, bcc_text, fields) VALUES (?, ?, ?, ?, ?, ?, NULL)");
  const insertItems = db.prepare("INSERT INTO fetch_items (text_id, envelope, bodystructure, bodystructure_utf8) VALUES (?, ?, ?, ?)");
  const page = db.prepare("SELECT text_id, envelope, structure FROM blobs WHERE text_id > ? ORDER BY text_id LIMIT 1000");
  // In pages: better-sqlite3 runs no other statement while one is being iterated.
  for (let after = 0; ; ) {
    const rows = page.all(after) as { text_id: number; envelope: string; structure: string }[];
    if (rows.length === 0) return;
    for (const row of rows) {
      const envelope = JSON.parse(row.envelope) as Envelope;
      const entry = headerSearchEntry(envelope, []);
      insert.run(row.text_id, entry.subject, entry.from, entry.to, entry.cc, entry.bcc);
      const items = encodeImapItems(envelope, decodeStructure(row.structure));
      insertItems.run(row.text_id, items.envelope, items.bodyStructure, items.bodyStructureUtf8);
    }
    after = rows[rows.length - 1]!.text_id;
  }
}

/**
 * Migration 24 (store/quota.ts): quota_messages NULL = the configured default, 0 = unlimited (as
 * quota_bytes); used_messages kept by every mutation that adds or removes message rows, like
 * used_bytes; quota_warned 1 once the usage warning was delivered, cleared when usage drops below
 * the threshold. used_messages starts from the messages already stored.
 */
function addQuotaColumns(db: Database.Database): void {
  const columns = new Set((db.prepare("SELECT name FROM pragma_table_info('accounts')").all() as { name: string }[]).map((c) => c.name));
  if (!columns.has("quota_messages")) db.exec("ALTER TABLE accounts ADD COLUMN quota_messages INTEGER");
  if (!columns.has("used_messages")) db.exec("ALTER TABLE accounts ADD COLUMN used_messages INTEGER NOT NULL DEFAULT 0 CHECK (used_messages >= 0)");
  if (!columns.has("quota_warned")) db.exec("ALTER TABLE accounts ADD COLUMN quota_warned INTEGER NOT NULL DEFAULT 0 CHECK (quota_warned IN (0, 1))");
  db.exec("UPDATE accounts SET used_messages = (SELECT count(*) FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.account_id = accounts.id)");
}

/**
 * Migration 28 (store/object-ids.ts). messages: email_id and thread_id (RFC 8474 EMAILID/THREADID,
 * copied by COPY and MOVE), save_date (RFC 8514; NULL for messages stored before: the store then
 * reports INTERNALDATE). blobs.preview: RFC 8970 preview text computed at delivery (NULL before:
 * computed from the bytes when fetched). thread_keys: each message-id an account's messages named,
 * with the thread it went into. Messages stored before get an EMAILID each and a thread of their own.
 */
function addObjectIdColumns(db: Database.Database): void {
  const columnsOf = (table: string) => new Set((db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[]).map((c) => c.name));
  const messages = columnsOf("messages");
  if (!messages.has("email_id")) db.exec("ALTER TABLE messages ADD COLUMN email_id TEXT");
  if (!messages.has("thread_id")) db.exec("ALTER TABLE messages ADD COLUMN thread_id TEXT");
  if (!messages.has("save_date")) db.exec("ALTER TABLE messages ADD COLUMN save_date INTEGER");
  if (!columnsOf("blobs").has("preview")) db.exec("ALTER TABLE blobs ADD COLUMN preview TEXT");
  db.exec(`CREATE TABLE IF NOT EXISTS thread_keys (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    message_key TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    PRIMARY KEY (account_id, message_key)
  ) WITHOUT ROWID`);
  db.exec("UPDATE messages SET email_id = 'E' || lower(hex(randomblob(12))) WHERE email_id IS NULL");
  db.exec("UPDATE messages SET thread_id = 'T' || substr(email_id, 2) WHERE thread_id IS NULL");
}

/**
 * Migration 27 (docs/architecture.md, "SEARCH through the index"). With detail=none the trigram
 * index named candidates only, each verified with instr() on its text: a string most messages
 * hold inside words ("udge", a syllable) or a phrase ("budget report") read most of the
 * mailbox's text (0.3-1.8 s at 100,000 messages). With positions (detail=full), the FTS5 phrase
 * of a string's consecutive trigrams is matched at consecutive character positions, which is
 * exactly "the folded text contains the string" (the text is folded before indexing and the
 * tokenizer is case-sensitive, so nothing is folded twice): TEXT is answered from the index alone.
 * Chosen over word prefix/suffix tables because those answer single words only (a phrase or a
 * string with punctuation still needs verification), and measured against them: the positions
 * make the trigram index about 5x larger (~2.5 bytes per character of text), but delivery writes
 * one FTS5 table instead of two (the word index of migration 22 is dropped: a word is a substring
 * like any other), so the time per delivery stays the same within noise (bench/results/search-index.md).
 * Same rowids, so blobs.text_id and messages.text_id stay valid. Written in run() so it runs again
 * over a database whose history was wound back (the migration tests).
 */
function positionalTrigramIndex(db: Database.Database): void {
  db.exec(`
    DROP TRIGGER IF EXISTS blobs_search_words_delete;
    DROP TABLE IF EXISTS search_words;
    DROP TABLE IF EXISTS search_index_27;
    CREATE VIRTUAL TABLE search_index_27 USING fts5(text, tokenize = 'trigram case_sensitive 1', detail = full);
    INSERT INTO search_index_27 (rowid, text) SELECT rowid, text FROM search_index;
    DROP TRIGGER IF EXISTS blobs_search_index_delete;
    DROP TABLE search_index;
    ALTER TABLE search_index_27 RENAME TO search_index;
    INSERT INTO search_index (search_index) VALUES ('optimize');
    CREATE TRIGGER blobs_search_index_delete AFTER DELETE ON blobs
      BEGIN DELETE FROM search_index WHERE rowid = old.text_id; END;
  `);
}

/** Applies every migration newer than the database, each in its own transaction. */
export function migrate(db: Database.Database, now: () => Date, migrations: readonly Migration[] = MIGRATIONS): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const row = db.prepare("SELECT max(version) AS version FROM schema_migrations").get() as { version: number | null };
  const current = row.version ?? 0;
  const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (current > newest) {
    throw new StoreError("UNAVAILABLE", `database schema version ${current} is newer than this Mailroom (${newest})`);
  }
  const record = db.prepare("INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)");
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      migration.run?.(db);
      record.run(migration.version, migration.description, now().getTime());
    }).immediate();
  }
  return Math.max(current, newest);
}
