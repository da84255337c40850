//! The PostgreSQL schema, one frozen step per version (its own numbering,
//! kept in `ferrohsm_schema`), applied under an advisory lock so that hosts
//! starting together migrate once.

use crate::error::{Error, Result};

pub(super) const SCHEMA_VERSION: i32 = 2;

/// v1: the SQLite store's tables as of its format 7 (the same rows, the
/// same sealed values and index entries), plus the generation row every
/// write bumps (see `listen`).
pub(super) const SCHEMA_V1: &str = "
CREATE TABLE ferrohsm_schema (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    version INTEGER NOT NULL
);
CREATE TABLE ferrohsm_generation (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    gen BIGINT NOT NULL
);
INSERT INTO ferrohsm_generation (one, gen) VALUES (1, 0);
CREATE TABLE tokens (
    token_id       BIGSERIAL PRIMARY KEY,
    slot_id        BIGINT NOT NULL UNIQUE,
    uid            BYTEA NOT NULL,
    label          BYTEA NOT NULL,
    serial         BYTEA NOT NULL,
    so_salt        BYTEA NOT NULL,
    so_wrapped     BYTEA NOT NULL,
    so_kdf         TEXT NOT NULL,
    user_salt      BYTEA,
    user_wrapped   BYTEA,
    user_kdf       TEXT,
    so_fail        BIGINT NOT NULL DEFAULT 0,
    user_fail      BIGINT NOT NULL DEFAULT 0,
    rev            BIGINT NOT NULL DEFAULT 0,
    objects_digest BYTEA,
    objects_count  BIGINT,
    digest_tag     BYTEA
);
CREATE TABLE objects (
    obj_id   BIGSERIAL PRIMARY KEY,
    token_id BIGINT NOT NULL REFERENCES tokens(token_id) ON DELETE CASCADE,
    uid      BYTEA NOT NULL UNIQUE,
    private  BOOLEAN NOT NULL,
    version  BIGINT NOT NULL DEFAULT 0,
    tag      BYTEA
);
CREATE INDEX objects_by_token ON objects(token_id, private);
CREATE TABLE attrs (
    obj_id BIGINT NOT NULL REFERENCES objects(obj_id) ON DELETE CASCADE,
    atype  BIGINT NOT NULL,
    sealed BOOLEAN NOT NULL,
    value  BYTEA NOT NULL,
    idx    BYTEA,
    PRIMARY KEY (obj_id, atype)
);
CREATE INDEX attrs_by_idx ON attrs(idx) WHERE idx IS NOT NULL;
CREATE FUNCTION ferrohsm_object_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tokens SET rev = rev + 1 WHERE token_id = OLD.token_id;
    RETURN NULL;
END $$;
CREATE TRIGGER objects_changed AFTER UPDATE OR DELETE ON objects
    FOR EACH ROW EXECUTE FUNCTION ferrohsm_object_changed();
CREATE TABLE audit (
    seq  BIGINT PRIMARY KEY,
    body TEXT NOT NULL,
    prev BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE TABLE audit_head (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
CREATE TABLE audit_checkpoint (
    seq       BIGINT PRIMARY KEY,
    hash      BYTEA NOT NULL,
    time      BIGINT NOT NULL,
    token_uid BYTEA NOT NULL,
    mac       BYTEA NOT NULL
);
CREATE TABLE audit_base (
    one       INTEGER PRIMARY KEY CHECK (one = 1),
    seq       BIGINT NOT NULL,
    hash      BYTEA NOT NULL,
    time      BIGINT NOT NULL,
    token_uid BYTEA NOT NULL,
    mac       BYTEA NOT NULL
);
CREATE TABLE audit_exported (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    time BIGINT NOT NULL
);
INSERT INTO ferrohsm_schema (one, version) VALUES (1, 0);
";

/// v2: each object row carries the generation of the transaction that last
/// wrote it, set by a trigger from the generation row that transaction
/// holds (so no writer can forget it), for the copy of a token's objects
/// each process keeps (`mirror`). Rows from before it read as generation
/// 0, older than any change.
const SCHEMA_V2: &str = "
ALTER TABLE objects ADD COLUMN gen BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION ferrohsm_object_gen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.gen := (SELECT gen FROM ferrohsm_generation WHERE one = 1);
    RETURN NEW;
END $$;
CREATE TRIGGER objects_gen BEFORE INSERT OR UPDATE ON objects
    FOR EACH ROW EXECUTE FUNCTION ferrohsm_object_gen();
";

/// Creates or upgrades the schema in the connection's current schema
/// (the first of its `search_path`).
pub(super) fn migrate(c: &mut postgres::Client) -> Result<()> {
    let mut tx = c.transaction()?;
    // Every host starting at once: one migrates, the others wait and then
    // find it done.
    tx.execute("SELECT pg_advisory_xact_lock(7263540211)", &[])?;
    let exists: bool = tx.query_one("SELECT to_regclass('ferrohsm_schema') IS NOT NULL", &[])?.get(0);
    let version: i32 =
        if exists { tx.query_one("SELECT version FROM ferrohsm_schema WHERE one = 1", &[])?.get(0) } else { 0 };
    if version > SCHEMA_VERSION {
        return Err(Error::device(format!(
            "store schema {version} is newer than this module understands ({SCHEMA_VERSION})"
        )));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version < 1 {
        tx.batch_execute(SCHEMA_V1)?;
    }
    if version < 2 {
        tx.batch_execute(SCHEMA_V2)?;
    }
    // Later versions add their steps here, each guarded by `version < N`.
    tx.execute("UPDATE ferrohsm_schema SET version = $1 WHERE one = 1", &[&SCHEMA_VERSION])?;
    tx.commit()?;
    Ok(())
}
