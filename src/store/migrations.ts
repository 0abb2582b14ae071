/**
 * Numbered schema migrations, applied in order by `openDatabase` (src/store/db.ts).
 *
 * Rules for whoever appends one:
 * - versions are 1, 2, 3, … with no gaps; never edit or reorder a migration that has shipped,
 *   because databases in the field already recorded its number in `PRAGMA user_version`;
 * - each migration runs in its own transaction together with the user_version bump, so keep
 *   statements transactional (no VACUUM, no `PRAGMA journal_mode`);
 * - a database whose user_version is above the last version here is refused, not downgraded.
 */
export interface Migration {
  readonly version: number;
  /** Shown in error messages when the migration fails. */
  readonly name: string;
  readonly sql: string;
}

/**
 * `PRAGMA application_id` of a certs database ("cert" in ASCII), so that a SQLite file of some
 * other program at the same path is recognised and left alone instead of being migrated.
 */
export const APPLICATION_ID = 0x63657274;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'certificates, endpoints, scans',
    sql: `
      PRAGMA application_id = ${APPLICATION_ID};

      -- One row per distinct certificate ever seen: 10k endpoints behind a handful of
      -- intermediates store each intermediate once. Either half may be missing and is filled in
      -- when a later scan supplies it: der for a trust-store certificate that was never served,
      -- the decoded columns for a served certificate that could not be parsed.
      CREATE TABLE certificates (
        fingerprint256 TEXT PRIMARY KEY,
        der            BLOB,
        subject        TEXT,
        issuer         TEXT,
        not_before     TEXT,
        not_after      TEXT,
        info_json      TEXT,
        CHECK (der IS NOT NULL OR info_json IS NOT NULL)
      );

      CREATE TABLE endpoints (
        id           INTEGER PRIMARY KEY,
        domain       TEXT NOT NULL,
        host         TEXT NOT NULL,
        port         INTEGER NOT NULL,
        -- '' rather than NULL: NULLs are distinct in a UNIQUE constraint, which would let the
        -- same endpoint be inserted twice.
        address      TEXT NOT NULL DEFAULT '',
        source       TEXT NOT NULL CHECK (source IN ('tls', 'file')),
        -- Denormalised pointer to the newest scan so that \`status\` is one join, not a
        -- max-per-group query over the whole history.
        last_scan_id INTEGER REFERENCES scans(id) ON DELETE SET NULL,
        UNIQUE (domain, host, port, address, source)
      );
      -- Without it every deleted scan (history pruning) would scan endpoints for the SET NULL.
      CREATE INDEX endpoints_last_scan ON endpoints(last_scan_id);

      CREATE TABLE scans (
        id                 INTEGER PRIMARY KEY,
        endpoint_id        INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
        scanned_at         TEXT NOT NULL,
        status             TEXT NOT NULL CHECK (status IN ('ok', 'warning', 'critical', 'unknown')),
        days_left          REAL,
        not_after          TEXT,
        fingerprint256     TEXT,
        -- Copied from the report rather than joined from certificates: a failed or file-only
        -- scan may name a leaf whose DER was never stored.
        subject            TEXT,
        issuer             TEXT,
        protocol           TEXT,
        order_known        INTEGER,
        openssl_error      TEXT,
        cross_check_agrees INTEGER,
        cross_check_note   TEXT,
        -- Fingerprints of the served certificates in the order received.
        chain_json         TEXT NOT NULL DEFAULT '[]',
        -- Fingerprints of the report's other chain entries (trust-store certificates on the path).
        added_json         TEXT NOT NULL DEFAULT '[]',
        path_json          TEXT,
        problems_json      TEXT NOT NULL DEFAULT '[]',
        error_code         TEXT,
        error_message      TEXT,
        duration_ms        REAL,
        -- Report fields without a column of their own (e.g. file, error), so a field added to
        -- EndpointReport round-trips before it earns a column.
        report_extra_json  TEXT
      );
      CREATE INDEX scans_endpoint_time ON scans(endpoint_id, scanned_at);
    `,
  },
  {
    version: 2,
    name: 'acme accounts, issued certificates, renewal state, locks',
    sql: `
      -- One account per CA directory URL. The key itself is a 0600 file under dataDir/accounts;
      -- the row says where it is and which account URL the CA gave it.
      CREATE TABLE acme_accounts (
        directory_url TEXT PRIMARY KEY,
        account_url   TEXT,
        key_file      TEXT NOT NULL,
        email         TEXT,
        created_at    TEXT NOT NULL
      );

      -- Every certificate certs obtained, one row per archive version of a lineage (a lineage
      -- is a managed domain's primary name).
      CREATE TABLE issued (
        id             INTEGER PRIMARY KEY,
        lineage        TEXT NOT NULL,
        version        INTEGER NOT NULL,
        fingerprint256 TEXT NOT NULL,
        serial         TEXT NOT NULL,
        not_before     TEXT NOT NULL,
        not_after      TEXT NOT NULL,
        issuer         TEXT NOT NULL,
        names_json     TEXT NOT NULL,
        key_type       TEXT NOT NULL,
        directory_url  TEXT NOT NULL,
        profile        TEXT,
        ari_cert_id    TEXT,
        replaced_id    TEXT,
        dir            TEXT NOT NULL,
        issued_at      TEXT NOT NULL,
        reason         TEXT,
        revoked_at     TEXT,
        revoke_reason  INTEGER,
        UNIQUE (lineage, version)
      );
      CREATE INDEX issued_fingerprint ON issued(fingerprint256);

      -- What the renewal policy needs between runs, per lineage.
      CREATE TABLE renewal_state (
        lineage             TEXT PRIMARY KEY,
        failures            INTEGER NOT NULL DEFAULT 0,
        next_attempt_at     TEXT,
        last_attempt_at     TEXT,
        last_success_at     TEXT,
        last_error          TEXT,
        last_error_code     TEXT,
        ari_cert_id         TEXT,
        ari_start           TEXT,
        ari_end             TEXT,
        ari_chosen          TEXT,
        ari_retry_after     TEXT,
        ari_explanation_url TEXT
      );

      CREATE TABLE renewal_attempts (
        id          INTEGER PRIMARY KEY,
        lineage     TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        outcome     TEXT CHECK (outcome IN ('issued', 'failed', 'dry-run')),
        reason      TEXT,
        error       TEXT,
        order_url   TEXT
      );
      CREATE INDEX renewal_attempts_lineage ON renewal_attempts(lineage, started_at);

      -- Leased locks: a holder renews expires_at while it works; an expired lease may be taken
      -- over, so a crashed process never blocks the next run for longer than one lease.
      CREATE TABLE locks (
        name        TEXT PRIMARY KEY,
        owner       TEXT NOT NULL,
        acquired_at INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'nginx deployments',
    sql: `
      -- What was last deployed for a lineage (or a monitor-only domain with files): which
      -- snippet, pointing at which certificate, and whether clients were seen getting it.
      CREATE TABLE deployments (
        lineage        TEXT PRIMARY KEY,
        snippet_path   TEXT NOT NULL,
        snippet_sha256 TEXT NOT NULL,
        fingerprint256 TEXT,
        deployed_at    TEXT NOT NULL,
        verified_at    TEXT,
        -- Set when the rescan after a reload never saw the new certificate.
        stale_since    TEXT,
        stale_detail   TEXT
      );
    `,
  },
  {
    version: 4,
    name: 'notifications: sent keys, active problems, outbox',
    sql: `
      -- Expiry warnings already queued: expiry:<endpoint>:<fingerprint>:<threshold>. The primary
      -- key is what makes a second copy impossible.
      CREATE TABLE notify_sent (
        key     TEXT PRIMARY KEY,
        sent_at TEXT NOT NULL
      );

      -- Problems alerted and not yet recovered, per endpoint and code.
      CREATE TABLE notify_active (
        endpoint_key TEXT NOT NULL,
        code         TEXT NOT NULL,
        domain       TEXT NOT NULL,
        endpoint     TEXT NOT NULL,
        since        TEXT NOT NULL,
        message      TEXT NOT NULL,
        PRIMARY KEY (endpoint_key, code)
      );

      -- Every message is written here before it is sent, and kept until delivered.
      CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        key             TEXT NOT NULL UNIQUE,
        channel         TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
        recipients_json TEXT NOT NULL DEFAULT '[]',
        subject         TEXT NOT NULL,
        text            TEXT NOT NULL,
        html            TEXT,
        payload_json    TEXT,
        created_at      TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_attempt_at TEXT,
        last_error      TEXT,
        delivered_at    TEXT,
        response        TEXT
      );
      CREATE INDEX outbox_pending ON outbox(delivered_at, next_attempt_at);

      CREATE TABLE notify_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'service meta',
    sql: `
      -- Small facts of the installation and its runs: the daemon's random minute, the last run.
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'deployed version, failed deploys',
    sql: `
      -- The archive version nginx accepted (several versions can hold one leaf: repair writes
      -- a new version with the same certificate); a failed deploy puts \`current\` back on it.
      ALTER TABLE deployments ADD COLUMN version INTEGER;

      -- The last deploy of a lineage that nginx refused (or could not reload), until one succeeds:
      -- shown as deploy-failed and retried by the next run.
      CREATE TABLE deploy_failures (
        lineage        TEXT PRIMARY KEY,
        version        INTEGER,
        fingerprint256 TEXT,
        code           TEXT NOT NULL,
        detail         TEXT NOT NULL,
        failures       INTEGER NOT NULL,
        since          TEXT NOT NULL,
        last_at        TEXT NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'scan results stored once, scan rows slim',
    sql: `
      -- A year of daily scans of 10,000 endpoints must fit in ~100 MB (ARCHITECTURE: bounded
      -- disk). Almost every scan of an endpoint repeats the one before it, so what a scan found
      -- (verdict, chain, problems, path, errors) is stored once per distinct content and a scan
      -- row is only endpoint, time, result, days left and duration: ~50 bytes instead of ~1 kB.
      CREATE TABLE scan_results (
        id                 INTEGER PRIMARY KEY,
        -- SHA-256 of the content, computed by the writer; NULL for rows this migration copied
        -- (they are simply never shared).
        digest             BLOB UNIQUE,
        status             TEXT NOT NULL CHECK (status IN ('ok', 'warning', 'critical', 'unknown')),
        not_after          TEXT,
        fingerprint256     TEXT,
        subject            TEXT,
        issuer             TEXT,
        protocol           TEXT,
        order_known        INTEGER,
        openssl_error      TEXT,
        cross_check_agrees INTEGER,
        cross_check_note   TEXT,
        chain_json         TEXT NOT NULL DEFAULT '[]',
        added_json         TEXT NOT NULL DEFAULT '[]',
        path_json          TEXT,
        -- The usual path (entries {fingerprint256, source, anchor} naming chain certificates) as
        -- [index into chain then added, source, anchor]: the fingerprints are already in chain_json.
        -- Set instead of path_json, never together.
        path_refs          TEXT,
        problems_json      TEXT NOT NULL DEFAULT '[]',
        error_code         TEXT,
        error_message      TEXT,
        report_extra_json  TEXT
      );
      INSERT INTO scan_results (id, status, not_after, fingerprint256, subject, issuer, protocol, order_known,
          openssl_error, cross_check_agrees, cross_check_note, chain_json, added_json, path_json, problems_json,
          error_code, error_message, report_extra_json)
        SELECT id, status, not_after, fingerprint256, subject, issuer, protocol, order_known,
          openssl_error, cross_check_agrees, cross_check_note, chain_json, added_json, path_json, problems_json,
          error_code, error_message, report_extra_json
        FROM scans;

      -- scanned_at becomes milliseconds since the epoch (6 bytes instead of 24) and the duration
      -- whole microseconds (3 bytes instead of an 8-byte REAL). The index is on endpoint_id alone:
      -- one endpoint's few hundred scans sort in no time, and the time in every index entry cost
      -- more than the rows. result_id has no REFERENCES on purpose: deleting an unused result would
      -- otherwise look up scans by result_id, which has no index.
      CREATE TABLE scans_v7 (
        id          INTEGER PRIMARY KEY,
        endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
        scanned_at  INTEGER NOT NULL,
        result_id   INTEGER NOT NULL,
        days_left   REAL,
        duration_us INTEGER
      );
      INSERT INTO scans_v7 (id, endpoint_id, scanned_at, result_id, days_left, duration_us)
        SELECT id, endpoint_id, CAST(round((julianday(scanned_at) - 2440587.5) * 86400000.0) AS INTEGER), id, days_left,
          CAST(round(duration_ms * 1000) AS INTEGER)
        FROM scans;

      -- foreign_keys is on and cannot be switched off inside the migration's transaction, so
      -- dropping the old table sets every endpoints.last_scan_id to NULL: keep them and put them back.
      CREATE TEMP TABLE m7_latest AS SELECT id, last_scan_id FROM endpoints WHERE last_scan_id IS NOT NULL;
      DROP TABLE scans;
      ALTER TABLE scans_v7 RENAME TO scans;
      CREATE INDEX scans_endpoint ON scans(endpoint_id);
      UPDATE endpoints SET last_scan_id = (SELECT m.last_scan_id FROM temp.m7_latest m WHERE m.id = endpoints.id)
        WHERE id IN (SELECT id FROM temp.m7_latest);
      DROP TABLE temp.m7_latest;
    `,
  },
  {
    version: 8,
    name: 'runs',
    sql: `
      -- One row per cycle (\`certs run\`, the daemon's runs): the dashboard's "last run" and a
      -- history of outcomes. A row without finished_at is a run in progress, or one that was
      -- killed (the next run does not finish it: it records its own). summary_json holds
      -- {renewed: [domain], deployed: [domain], failed: [domain], notified: n}.
      CREATE TABLE runs (
        id           INTEGER PRIMARY KEY,
        started_at   TEXT NOT NULL,
        finished_at  TEXT,
        outcome      TEXT CHECK (outcome IN ('ok', 'warning', 'critical', 'failed', 'error')),
        exit_code    INTEGER,
        summary_json TEXT
      );
      CREATE INDEX runs_started ON runs(started_at);
    `,
  },
  {
    version: 9,
    name: 'rendered status rows',
    sql: `
      -- Derived, never the record: each endpoint's latest scan as \`certs status --json\` and its
      -- table print it (store/status-rows.ts), rendered when a scan becomes the latest, NULL where
      -- JS must write it. meta 'status_text_rendering' names the rendering they were made with;
      -- texts of another rendering are not read. A later migration that changes what a latest
      -- scan reads as must DELETE that meta row, so the next writer renders them again.
      ALTER TABLE endpoints ADD COLUMN status_json TEXT;
      ALTER TABLE endpoints ADD COLUMN status_table TEXT;
    `,
  },
  {
    version: 10,
    name: 'a cluster of nodes: identity, fencing tokens, per-node deployments, scan batches, shared challenges',
    sql: `
      -- One row per daemon or certs run that ever wrote to this store (issue 16): node.name, the
      -- build's version, when it was last seen and what its last cycle did. cycle_ms is the node's
      -- schedule interval: a node not seen for 3 of its cycles is node-silent.
      CREATE TABLE nodes (
        name                 TEXT PRIMARY KEY,
        version              TEXT NOT NULL,
        started_at           TEXT NOT NULL,
        last_seen_at         TEXT NOT NULL,
        cycle_ms             INTEGER,
        last_run_started_at  TEXT,
        last_run_finished_at TEXT,
        last_run_outcome     TEXT
      );

      -- Fencing: every acquisition of a lock raises its token by one, and a release keeps the row
      -- (expires_at 0) so the token never goes back. A write made under a lock names (lock, token)
      -- and is refused once the row holds a newer token (store/fence.ts).
      ALTER TABLE locks ADD COLUMN token INTEGER NOT NULL DEFAULT 0;

      -- Deployments and failed deploys are per (node, lineage): every node deploys to its own
      -- nginx. Rows written before this migration have node '' and are adopted by the first node
      -- that deploys the lineage (store/deployments.ts).
      CREATE TABLE deployments_v10 (
        lineage        TEXT NOT NULL,
        snippet_path   TEXT NOT NULL,
        snippet_sha256 TEXT NOT NULL,
        fingerprint256 TEXT,
        deployed_at    TEXT NOT NULL,
        verified_at    TEXT,
        stale_since    TEXT,
        stale_detail   TEXT,
        version        INTEGER,
        node           TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (node, lineage)
      );
      INSERT INTO deployments_v10 (lineage, snippet_path, snippet_sha256, fingerprint256, deployed_at, verified_at, stale_since, stale_detail, version, node)
        SELECT lineage, snippet_path, snippet_sha256, fingerprint256, deployed_at, verified_at, stale_since, stale_detail, version, '' FROM deployments;
      DROP TABLE deployments;
      ALTER TABLE deployments_v10 RENAME TO deployments;

      CREATE TABLE deploy_failures_v10 (
        lineage        TEXT NOT NULL,
        version        INTEGER,
        fingerprint256 TEXT,
        code           TEXT NOT NULL,
        detail         TEXT NOT NULL,
        failures       INTEGER NOT NULL,
        since          TEXT NOT NULL,
        last_at        TEXT NOT NULL,
        node           TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (node, lineage)
      );
      INSERT INTO deploy_failures_v10 (lineage, version, fingerprint256, code, detail, failures, since, last_at, node)
        SELECT lineage, version, fingerprint256, code, detail, failures, since, last_at, '' FROM deploy_failures;
      DROP TABLE deploy_failures;
      ALTER TABLE deploy_failures_v10 RENAME TO deploy_failures;

      -- Who did it: the node that ran a cycle, attempted a renewal, issued a version, sent a message.
      ALTER TABLE runs ADD COLUMN node TEXT;
      ALTER TABLE renewal_attempts ADD COLUMN node TEXT;
      ALTER TABLE issued ADD COLUMN node TEXT;

      -- Outbox rows are claimed by one node before it sends them (claim_until: ISO time, like
      -- the outbox's other times), so two nodes never deliver the same message.
      ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
      ALTER TABLE outbox ADD COLUMN claim_until TEXT;
      ALTER TABLE outbox ADD COLUMN delivered_by TEXT;

      -- A cycle's scan, sharded: the first node to start cycle <key> splits the inventory into
      -- batches of domains; nodes claim open batches (lease_until in ms, token raised per claim)
      -- and record their scans with the batch's token, so a batch is recorded once.
      CREATE TABLE scan_cycles (
        cycle      TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        batches    INTEGER NOT NULL,
        endpoints  INTEGER NOT NULL
      );
      CREATE TABLE scan_batches (
        cycle        TEXT NOT NULL REFERENCES scan_cycles(cycle) ON DELETE CASCADE,
        batch        INTEGER NOT NULL,
        domains_json TEXT NOT NULL,
        endpoints    INTEGER NOT NULL,
        claimed_by   TEXT,
        token        INTEGER NOT NULL DEFAULT 0,
        lease_until  INTEGER,
        done_at      INTEGER,
        done_by      TEXT,
        scanned      INTEGER,
        PRIMARY KEY (cycle, batch)
      );

      -- http-01 key authorisations of orders in flight, served by every node's daemon when
      -- acme.challenge.shared is on (the CA may reach any node behind the load balancer).
      CREATE TABLE acme_challenges (
        token             TEXT PRIMARY KEY,
        key_authorization TEXT NOT NULL,
        domain            TEXT NOT NULL,
        node              TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        expires_at        INTEGER NOT NULL
      );
    `,
  },
  {
    version: 11,
    name: 'notification channels: outbox target, fingerprints seen',
    sql: `
      -- The configured channel a message is for (notify.channels[].name); NULL for the messages
      -- of notify.email and notify.webhook, which are dispatched by \`channel\` as before. An
      -- HTTP channel's messages keep channel = 'webhook', so the CHECK needs no rebuild.
      ALTER TABLE outbox ADD COLUMN target TEXT;

      -- The fingerprint each endpoint served when notifications were last decided: a change to
      -- one certs never issued is an unexpected-change event; the first sighting is not.
      CREATE TABLE notify_seen (
        endpoint_key   TEXT PRIMARY KEY,
        fingerprint256 TEXT NOT NULL,
        seen_at        TEXT NOT NULL,
        -- Its validity: a monitor-only certificate replaced in the first half of its life was not
        -- renewed on schedule (unexpected-change).
        not_before     TEXT,
        not_after      TEXT
      );
    `,
  },
];

/** The schema version this build writes and expects. */
export const SCHEMA_VERSION: number = MIGRATIONS.length === 0 ? 0 : MIGRATIONS[MIGRATIONS.length - 1]!.version;
