// Node state shared by every node (migration 12, store/node-state-store.ts): DKIM keys, the ACME
// account, certificates, order claims and HTTP-01 answers (TLS-ALPN-01 answers: migration 17), windowed counters and POP3 last logins.
// Times that decide anything across nodes (counter buckets, claim and challenge expiry, LOGIN-DELAY)
// are the database's clock, as in abuse-state.ts, so nodes with skewed clocks still agree.
import type pg from "pg";
import type { AcmeStateStore, CounterWindow, DkimKeyStore, Pop3LoginStore, SharedCounterStore, StoredCertificate, StoredDkimKey } from "../node-state-store.js";
import { one, rows, toStoreError, transaction } from "./database.js";

const NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";
/** Limits on what callers pass, so a bug cannot fill a table with one call. */
const MAX_KEYS_PER_CALL = 64;

function checkWindow(window: CounterWindow): void {
  if (typeof window.key !== "string" || window.key.length === 0 || window.key.length > 512) throw new RangeError("counter key must be 1-512 characters");
  if (!Number.isSafeInteger(window.bucketMs) || window.bucketMs < 1000) throw new RangeError("bucketMs must be an integer >= 1000");
  if (!Number.isSafeInteger(window.buckets) || window.buckets < 1 || window.buckets > 10_000) throw new RangeError("buckets must be 1-10000");
}

interface CertificateRow {
  name: string;
  cert_pem: string;
  key_pem: string;
  updated_at: number;
}

const certificateOf = (row: CertificateRow): StoredCertificate => ({ name: row.name, certPem: row.cert_pem, keyPem: row.key_pem, updatedAt: Number(row.updated_at) });

export class PostgresNodeState implements DkimKeyStore, AcmeStateStore, SharedCounterStore, Pop3LoginStore {
  constructor(private readonly pool: pg.Pool) {}

  private async run<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  // DKIM ---------------------------------------------------------------------------------------

  loadDkimKeys(domain: string): Promise<StoredDkimKey[] | null> {
    return this.run(async () => {
      const list = await rows<{ selector: string; algorithm: StoredDkimKey["algorithm"]; private_key_pem: string }>(
        this.pool,
        "SELECT selector, algorithm, private_key_pem FROM dkim_keys WHERE domain = $1 AND active ORDER BY algorithm, selector",
        [domain.toLowerCase()],
      );
      // Ed25519 first, then RSA, as generateDkimKeys lists them.
      list.sort((a, b) => (a.algorithm === b.algorithm ? 0 : a.algorithm === "ed25519-sha256" ? -1 : 1));
      return list.length === 0 ? null : list.map((row) => ({ selector: row.selector, algorithm: row.algorithm, privateKeyPem: row.private_key_pem }));
    });
  }

  saveDkimKeys(domain: string, keys: readonly StoredDkimKey[]): Promise<void> {
    if (keys.length === 0 || keys.length > MAX_KEYS_PER_CALL) return Promise.reject(new RangeError("saveDkimKeys: 1-64 keys"));
    const name = domain.toLowerCase();
    return this.run(() =>
      transaction(this.pool, async (db) => {
        // One domain's rotations in turn: the active set is never a mix of two rotations.
        await db.query("SELECT pg_advisory_xact_lock(hashtext('dkim:' || $1))", [name]);
        await db.query("UPDATE dkim_keys SET active = false WHERE domain = $1 AND active", [name]);
        for (const key of keys) {
          await db.query(
            `INSERT INTO dkim_keys (domain, selector, algorithm, private_key_pem, active, created_at) VALUES ($1, $2, $3, $4, true, ${NOW_MS})
             ON CONFLICT (domain, selector) DO UPDATE SET algorithm = excluded.algorithm, private_key_pem = excluded.private_key_pem, active = true`,
            [name, key.selector, key.algorithm, key.privateKeyPem],
          );
        }
      }),
    );
  }

  /** Every key of every domain, active or not (backup and store copy carry them all). */
  listAllDkimKeys(): Promise<(StoredDkimKey & { domain: string; active: boolean })[]> {
    return this.run(async () =>
      (await rows<{ domain: string; selector: string; algorithm: StoredDkimKey["algorithm"]; private_key_pem: string; active: boolean }>(this.pool, "SELECT domain, selector, algorithm, private_key_pem, active FROM dkim_keys ORDER BY domain, selector")).map((row) => ({
        domain: row.domain,
        selector: row.selector,
        algorithm: row.algorithm,
        privateKeyPem: row.private_key_pem,
        active: row.active,
      })),
    );
  }

  // ACME ---------------------------------------------------------------------------------------

  readAcmeAccountKey(): Promise<string | null> {
    return this.run(async () => (await one<{ key_pem: string }>(this.pool, "SELECT key_pem FROM acme_account WHERE id = 1"))?.key_pem ?? null);
  }

  saveAcmeAccountKey(keyPem: string): Promise<string> {
    return this.run(async () => {
      // Two nodes creating the account at once: the first key wins and both use it.
      await this.pool.query(`INSERT INTO acme_account (id, key_pem, created_at) VALUES (1, $1, ${NOW_MS}) ON CONFLICT (id) DO NOTHING`, [keyPem]);
      return (await one<{ key_pem: string }>(this.pool, "SELECT key_pem FROM acme_account WHERE id = 1"))!.key_pem;
    });
  }

  listAcmeCertificates(): Promise<StoredCertificate[]> {
    return this.run(async () => (await rows<CertificateRow>(this.pool, "SELECT name, cert_pem, key_pem, updated_at FROM acme_certificates ORDER BY name")).map(certificateOf));
  }

  readAcmeCertificate(name: string): Promise<StoredCertificate | null> {
    return this.run(async () => {
      const row = await one<CertificateRow>(this.pool, "SELECT name, cert_pem, key_pem, updated_at FROM acme_certificates WHERE name = $1", [name]);
      return row ? certificateOf(row) : null;
    });
  }

  saveAcmeCertificate(name: string, certPem: string, keyPem: string): Promise<void> {
    return this.run(async () => {
      // updated_at only grows, so "newer than what I loaded" is a plain comparison on every node.
      await this.pool.query(
        `INSERT INTO acme_certificates (name, cert_pem, key_pem, updated_at) VALUES ($1, $2, $3, ${NOW_MS})
         ON CONFLICT (name) DO UPDATE SET cert_pem = excluded.cert_pem, key_pem = excluded.key_pem, updated_at = greatest(excluded.updated_at, acme_certificates.updated_at + 1)`,
        [name, certPem, keyPem],
      );
    });
  }

  deleteAcmeCertificate(name: string): Promise<void> {
    return this.run(async () => {
      await this.pool.query("DELETE FROM acme_certificates WHERE name = $1", [name]);
    });
  }

  claimAcmeOrder(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.run(async () => {
      const row = await one(
        this.pool,
        `INSERT INTO acme_order_claims AS c (name, holder, expires_at) VALUES ($1, $2, ${NOW_MS} + $3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE c.holder = excluded.holder OR c.expires_at < ${NOW_MS}
         RETURNING 1`,
        [name, holder, ttlMs],
      );
      return row !== undefined;
    });
  }

  releaseAcmeOrder(name: string, holder: string): Promise<void> {
    return this.run(async () => {
      await this.pool.query("DELETE FROM acme_order_claims WHERE name = $1 AND holder = $2", [name, holder]);
    });
  }

  saveAcmeHttpChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void> {
    return this.run(async () => {
      // Old answers of orders that never cleaned up (a node killed mid-order) go on the way.
      await this.pool.query(`DELETE FROM acme_http_challenges WHERE expires_at < ${NOW_MS}`);
      await this.pool.query(
        `INSERT INTO acme_http_challenges (token, key_authorization, expires_at) VALUES ($1, $2, ${NOW_MS} + $3)
         ON CONFLICT (token) DO UPDATE SET key_authorization = excluded.key_authorization, expires_at = excluded.expires_at`,
        [token, keyAuthorization, ttlMs],
      );
    });
  }

  readAcmeHttpChallenge(token: string): Promise<string | null> {
    return this.run(async () => (await one<{ key_authorization: string }>(this.pool, `SELECT key_authorization FROM acme_http_challenges WHERE token = $1 AND expires_at >= ${NOW_MS}`, [token]))?.key_authorization ?? null);
  }

  deleteAcmeHttpChallenge(token: string): Promise<void> {
    return this.run(async () => {
      await this.pool.query("DELETE FROM acme_http_challenges WHERE token = $1", [token]);
    });
  }

  saveAcmeAlpnChallenge(name: string, certPem: string, keyPem: string, ttlMs: number): Promise<void> {
    return this.run(async () => {
      await this.pool.query(`DELETE FROM acme_alpn_challenges WHERE expires_at < ${NOW_MS}`);
      await this.pool.query(
        `INSERT INTO acme_alpn_challenges (name, cert_pem, key_pem, expires_at) VALUES ($1, $2, $3, ${NOW_MS} + $4)
         ON CONFLICT (name) DO UPDATE SET cert_pem = excluded.cert_pem, key_pem = excluded.key_pem, expires_at = excluded.expires_at`,
        [name.toLowerCase(), certPem, keyPem, ttlMs],
      );
    });
  }

  readAcmeAlpnChallenge(name: string): Promise<{ certPem: string; keyPem: string } | null> {
    return this.run(async () => {
      const row = await one<{ cert_pem: string; key_pem: string }>(this.pool, `SELECT cert_pem, key_pem FROM acme_alpn_challenges WHERE name = $1 AND expires_at >= ${NOW_MS}`, [name.toLowerCase()]);
      return row === undefined ? null : { certPem: row.cert_pem, keyPem: row.key_pem };
    });
  }

  deleteAcmeAlpnChallenge(name: string): Promise<void> {
    return this.run(async () => {
      await this.pool.query("DELETE FROM acme_alpn_challenges WHERE name = $1", [name.toLowerCase()]);
    });
  }

  // Windowed counters --------------------------------------------------------------------------

  addCounters(entries: readonly (CounterWindow & { amount: number })[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    if (entries.length > MAX_KEYS_PER_CALL) return Promise.reject(new RangeError("addCounters: at most 64 entries"));
    for (const entry of entries) {
      checkWindow(entry);
      if (!Number.isSafeInteger(entry.amount) || entry.amount < 0) return Promise.reject(new RangeError("counter amounts are non-negative integers"));
    }
    // Sorted, so two nodes upserting overlapping keys lock rows in one order (no deadlock).
    const sorted = [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return this.run(async () => {
      await this.pool.query(
        `INSERT INTO shared_counters AS c (key, bucket, amount, expires_at)
           SELECT e.key, n.now / e.width, e.amount, (n.now / e.width + e.buckets) * e.width
             FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS e(key, width, buckets, amount, ord),
                  (SELECT ${NOW_MS} AS now) AS n
            ORDER BY e.ord
         ON CONFLICT (key, bucket) DO UPDATE SET amount = c.amount + excluded.amount, expires_at = greatest(c.expires_at, excluded.expires_at)`,
        [sorted.map((e) => e.key), sorted.map((e) => e.bucketMs), sorted.map((e) => e.buckets), sorted.map((e) => e.amount)],
      );
    });
  }

  sumCounters(windows: readonly CounterWindow[]): Promise<number[]> {
    if (windows.length === 0) return Promise.resolve([]);
    if (windows.length > MAX_KEYS_PER_CALL) return Promise.reject(new RangeError("sumCounters: at most 64 windows"));
    for (const window of windows) checkWindow(window);
    return this.run(async () => {
      const list = await rows<{ ord: number; total: string | number }>(
        this.pool,
        `SELECT w.ord, coalesce((SELECT sum(c.amount) FROM shared_counters c WHERE c.key = w.key AND c.bucket > n.now / w.width - w.buckets), 0) AS total
           FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS w(key, width, buckets, ord), (SELECT ${NOW_MS} AS now) AS n
          ORDER BY w.ord`,
        [windows.map((w) => w.key), windows.map((w) => w.bucketMs), windows.map((w) => w.buckets)],
      );
      return list.map((row) => Number(row.total));
    });
  }

  takeCounter(window: CounterWindow, limit: number): Promise<boolean> {
    checkWindow(window);
    if (!Number.isSafeInteger(limit) || limit < 0) return Promise.reject(new RangeError("limit must be a non-negative integer"));
    if (limit === 0) return Promise.resolve(false);
    return this.run(() =>
      transaction(this.pool, async (db) => {
        // The key's takes in turn: the sum and the add are one decision.
        await db.query("SELECT pg_advisory_xact_lock(hashtext('counter:' || $1))", [window.key]);
        const row = await one<{ total: string | number; now: number }>(
          db,
          `SELECT coalesce((SELECT sum(amount) FROM shared_counters WHERE key = $1 AND bucket > n.now / $2 - $3), 0) AS total, n.now FROM (SELECT ${NOW_MS} AS now) AS n`,
          [window.key, window.bucketMs, window.buckets],
        );
        if (Number(row!.total) >= limit) return false;
        const bucket = Math.floor(Number(row!.now) / window.bucketMs);
        await db.query(
          `INSERT INTO shared_counters AS c (key, bucket, amount, expires_at) VALUES ($1, $2, 1, $3)
           ON CONFLICT (key, bucket) DO UPDATE SET amount = c.amount + 1`,
          [window.key, bucket, (bucket + window.buckets) * window.bucketMs],
        );
        return true;
      }),
    );
  }

  pruneCounters(): Promise<number> {
    return this.run(async () => (await this.pool.query(`DELETE FROM shared_counters WHERE expires_at < ${NOW_MS}`)).rowCount ?? 0);
  }

  // POP3 LOGIN-DELAY ---------------------------------------------------------------------------

  pop3LoginWait(accountId: number, delaySeconds: number): Promise<number> {
    if (delaySeconds <= 0) return Promise.resolve(0);
    return this.run(async () => {
      const row = await one<{ wait: number | string }>(this.pool, `SELECT greatest(0, at + $2 * 1000 - ${NOW_MS}) AS wait FROM pop3_logins WHERE account_id = $1`, [accountId, Math.floor(delaySeconds)]);
      return row === undefined ? 0 : Number(row.wait);
    });
  }

  recordPop3Login(accountId: number): Promise<void> {
    return this.run(async () => {
      await this.pool.query(`INSERT INTO pop3_logins (account_id, at) VALUES ($1, ${NOW_MS}) ON CONFLICT (account_id) DO UPDATE SET at = excluded.at`, [accountId]);
    });
  }
}
