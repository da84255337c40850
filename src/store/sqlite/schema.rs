//! The schema, one frozen step per version: each step carries its own SQL
//! (and data), never the live tables of the code.

pub(super) const SCHEMA_VERSION: i64 = 7;

pub(super) const SCHEMA_V1: &str = "
CREATE TABLE tokens (
    token_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    slot_id      INTEGER NOT NULL UNIQUE,
    uid          BLOB NOT NULL,
    label        BLOB NOT NULL,
    serial       BLOB NOT NULL,
    so_salt      BLOB NOT NULL,
    so_wrapped   BLOB NOT NULL,
    so_kdf       TEXT NOT NULL,
    user_salt    BLOB,
    user_wrapped BLOB,
    user_kdf     TEXT,
    so_fail      INTEGER NOT NULL DEFAULT 0,
    user_fail    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE objects (
    obj_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id INTEGER NOT NULL REFERENCES tokens(token_id) ON DELETE CASCADE,
    uid      BLOB NOT NULL UNIQUE,
    private  INTEGER NOT NULL
);
CREATE INDEX objects_by_token ON objects(token_id, private);
CREATE TABLE attrs (
    obj_id INTEGER NOT NULL REFERENCES objects(obj_id) ON DELETE CASCADE,
    atype  INTEGER NOT NULL,
    sealed INTEGER NOT NULL,
    value  BLOB NOT NULL,
    idx    BLOB,
    PRIMARY KEY (obj_id, atype)
) WITHOUT ROWID;
CREATE INDEX attrs_by_value ON attrs(atype, idx) WHERE idx IS NOT NULL;
";

/// v2: a per-token revision that every change to an existing object bumps,
/// so processes can cache opened objects and notice others' changes.
pub(super) const SCHEMA_V2: &str = "
ALTER TABLE tokens ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER objects_changed AFTER UPDATE ON objects
BEGIN UPDATE tokens SET rev = rev + 1 WHERE token_id = OLD.token_id; END;
CREATE TRIGGER objects_deleted AFTER DELETE ON objects
BEGIN UPDATE tokens SET rev = rev + 1 WHERE token_id = OLD.token_id; END;
";

/// v3: the value index is no longer partial. With `WHERE idx IS NOT NULL`
/// SQLite checks each bound value against the index's condition, marks the
/// statement to be re-prepared on every new binding, and a find spent half
/// its time in the SQL parser. Secret parts (NULL idx) now sit in the index
/// too; no query looks them up.
pub(super) const SCHEMA_V3: &str = "
DROP INDEX attrs_by_value;
CREATE INDEX attrs_by_value ON attrs(atype, idx);
";

/// v4: the audit chain (one row per batch of records) and its head, written
/// in the same transaction, so a removed last batch is noticed too.
pub(super) const SCHEMA_V4: &str = "
CREATE TABLE audit (
    seq  INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE audit_head (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
";

/// v5: the value index is keyed by the entry alone (an entry is a MAC over
/// type and value, so it already tells types apart), and flags are no
/// longer indexed. The rows without an entry (flags, secret parts) then
/// sort by (NULL, obj_id, atype): a new object's land together on the
/// index's last NULL page instead of one page per flag type, and fewer
/// pages per commit is what a durable create pays for. `schema_v5` adds the
/// list of flag types.
pub(super) const SCHEMA_V5: &str = "
DROP INDEX attrs_by_value;
CREATE INDEX attrs_by_idx ON attrs(idx);
";

/// v7: MACed audit checkpoints, the base a pruned chain starts from, and
/// how far the log was exported (pruning stops there). Frozen: its own SQL.
pub(super) const SCHEMA_V7: &str = "
CREATE TABLE audit_checkpoint (
    seq       INTEGER PRIMARY KEY,
    hash      BLOB NOT NULL,
    time      INTEGER NOT NULL,
    token_uid BLOB NOT NULL,
    mac       BLOB NOT NULL
);
CREATE TABLE audit_base (
    one       INTEGER PRIMARY KEY CHECK (one = 1),
    seq       INTEGER NOT NULL,
    hash      BLOB NOT NULL,
    time      INTEGER NOT NULL,
    token_uid BLOB NOT NULL,
    mac       BLOB NOT NULL
);
CREATE TABLE audit_exported (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL,
    time INTEGER NOT NULL
);
";

pub(super) fn schema_v5() -> String {
    // The flag types as the policy table had them when v5 was released
    // (frozen: a later edit of the table must not change this migration).
    use cryptoki_sys as ck;
    const FLAGS_V5: &[u64] = &[
        ck::CKA_TOKEN,
        ck::CKA_PRIVATE,
        ck::CKA_MODIFIABLE,
        ck::CKA_COPYABLE,
        ck::CKA_DESTROYABLE,
        ck::CKA_DERIVE,
        ck::CKA_LOCAL,
        ck::CKA_SENSITIVE,
        ck::CKA_ENCRYPT,
        ck::CKA_DECRYPT,
        ck::CKA_SIGN,
        ck::CKA_SIGN_RECOVER,
        ck::CKA_VERIFY,
        ck::CKA_VERIFY_RECOVER,
        ck::CKA_WRAP,
        ck::CKA_UNWRAP,
        ck::CKA_EXTRACTABLE,
        ck::CKA_ALWAYS_SENSITIVE,
        ck::CKA_NEVER_EXTRACTABLE,
        ck::CKA_WRAP_WITH_TRUSTED,
        ck::CKA_TRUSTED,
        ck::CKA_ALWAYS_AUTHENTICATE,
        crate::vendor::CKA_FHSM_KMS,
    ];
    let flags: Vec<String> = FLAGS_V5.iter().map(|t| t.to_string()).collect();
    format!("UPDATE attrs SET idx = NULL WHERE atype IN ({});{SCHEMA_V5}", flags.join(","))
}

/// v6: every object is authenticated (`seal::TokenKey::object_tag`): its
/// version and tag. Objects from before have no tag until the first login
/// after the upgrade authenticates them (`token::auth`).
pub(super) const SCHEMA_V6: &str = "
ALTER TABLE objects ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN tag BLOB;
ALTER TABLE tokens ADD COLUMN objects_digest BLOB;
ALTER TABLE tokens ADD COLUMN objects_count INTEGER;
ALTER TABLE tokens ADD COLUMN digest_tag BLOB;
";
