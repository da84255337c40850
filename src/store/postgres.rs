//! The PostgreSQL store, for a fleet of hosts on one token set. It stores
//! exactly the rows the SQLite store does — values sealed by `seal`, the
//! same AAD binding, the same find-index entries — so the server only ever
//! holds bytes: no key material, no PIN, no private attribute in clear.
//!
//! Every write is one transaction that starts by bumping the generation
//! row (`UPDATE ... RETURNING`): that row lock serializes writers across
//! every host the way SQLite's `BEGIN IMMEDIATE` does across processes,
//! so each read-modify-write (PIN counters, the object-set digest, an
//! object's replacement, the audit head) reads the latest committed state
//! and nothing two hosts write at once is lost. Reads are single
//! statements (one snapshot each), or a REPEATABLE READ transaction where
//! they need several (the audit log).

pub mod conn;

mod audit;
mod copy;
mod listen;
mod mirror;
mod pool;
mod schema;

use std::sync::Arc;

use super::seal::{Idx, KdfParams, PinRecord, UID_LEN};
use super::sqlite::digest::{digest_from, member_of, updated as digest_updated};
use super::{
    AuditLog, AuditSigner, ObjectId, Row, SetDigest, SlotId, Store, StoredObject, TokenId, TokenRecord, Uid, Visible,
    Who, Writer,
};
use crate::error::{Error, Result};
use crate::model::AttrType;
use mirror::{Change, Scope, Standing};
use pool::{Conn, Db, Pool};

pub use conn::Target;

type Tx<'a, 'b> = Db<'a, postgres::Transaction<'b>>;

pub struct PgStore {
    pool: Arc<Pool>,
    gen: Arc<listen::Shared>,
    anchor: super::anchor::Anchor,
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::device(format!("postgresql: {}", describe(&e)))
    }
}

/// A client error with its reason: tokio-postgres's own text is only the
/// kind ("db error", "error performing TLS handshake"), the server's
/// message or the TLS failure is in its source chain.
pub(crate) fn describe(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

impl PgStore {
    /// Connects, creates or migrates the schema and starts the listener.
    pub fn open(target: Target) -> Result<PgStore> {
        let pool = Arc::new(Pool::new(target)?);
        pool.with(|c| schema::migrate(&mut c.client))?;
        // Notifications are per database: they name the schema they are
        // about (`mirror::payload`).
        let store: i64 = pool.with(|c| {
            Ok(c.client.query_one("SELECT oid::BIGINT FROM pg_namespace WHERE nspname = current_schema()", &[])?.get(0))
        })?;
        let gen = Arc::new(listen::Shared::new(store));
        listen::spawn(pool.clone(), gen.clone());
        Ok(PgStore { pool, gen, anchor: super::anchor::Anchor { mode: 0o600, ..Default::default() } })
    }

    /// Anchors audit batches in `sidecar` (a file on this host: it holds
    /// the batches this host wrote) and/or the log.
    pub fn with_audit_anchor(mut self, sidecar: Option<std::path::PathBuf>, syslog: bool) -> Result<PgStore> {
        self.anchor.sidecar = sidecar;
        self.anchor.syslog = syslog;
        self.anchor.open()?;
        Ok(self)
    }

    /// Runs `f` on a pooled connection (outside a transaction).
    fn read<T>(&self, f: impl FnOnce(&mut Db<postgres::Client>) -> Result<T>) -> Result<T> {
        self.pool.with(|c| {
            let Conn { client, stmts } = c;
            f(&mut Db { c: client, stmts })
        })
    }

    fn write<T>(&self, f: impl FnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        self.write_audited(None, None, |tx, _| f(tx))
    }

    /// A write that changes objects (or whole tokens): it says which in
    /// `Scope`, for its notification and this process's copy (`mirror`).
    fn write_objects<T>(&self, f: impl FnOnce(&mut Tx, &mut Scope) -> Result<T>) -> Result<T> {
        self.write_audited(None, None, f)
    }

    /// One write transaction, holding the generation row from its first
    /// statement to its commit, with this thread's staged audit lines and
    /// `batch` appended inside it (as `SqliteStore::write_audited`).
    fn write_audited<T>(
        &self,
        batch: Option<&str>,
        signer: Option<&AuditSigner>,
        f: impl FnOnce(&mut Tx, &mut Scope) -> Result<T>,
    ) -> Result<T> {
        let take = || STAGED.try_with(|s| std::mem::take(&mut *s.borrow_mut())).unwrap_or_default();
        let r = self.pool.with(|c| {
            let Conn { client, stmts } = c;
            let mut tx = client.transaction()?;
            let mut scope = Scope::None;
            let (v, appended, gen) = {
                let mut db = Db { c: &mut tx, stmts };
                let gen: i64 =
                    db.one("UPDATE ferrohsm_generation SET gen = gen + 1 WHERE one = 1 RETURNING gen", &[])?.get(0);
                let v = f(&mut db, &mut scope)?;
                let staged = take();
                let mut appended = Vec::new();
                for body in [batch.unwrap_or(""), &staged] {
                    if !body.is_empty() {
                        appended.push(audit::append_in(&mut db, body)?);
                    }
                }
                if let (Some(s), Some((seq, hash))) = (signer, appended.last()) {
                    audit::checkpoint_in(&mut db, &s.mark(super::CHECKPOINT_DOMAIN, *seq, hash))?;
                }
                // Delivered to every listener at commit, not before.
                db.exec(
                    "SELECT pg_notify($1, $2)",
                    &[&listen::CHANNEL, &mirror::payload(self.gen.store, gen, &scope)],
                )?;
                (v, appended, gen)
            };
            tx.commit()?;
            // The copy first, then the generation: a call that sees the
            // new generation finds the change in the copy.
            self.gen.mirror.apply(gen, scope);
            self.gen.bump();
            self.anchor.record(&appended);
            Ok(v)
        });
        if r.is_err() {
            take();
        }
        r
    }
}

impl PgStore {
    /// A find answered from this process's copy of the token's objects,
    /// copying the token first (one statement) if it is not, and reading
    /// again what other hosts changed (one statement). None when the copy
    /// cannot answer (being made by another call, too large, dropped
    /// meanwhile): the caller asks the database.
    fn find_in_copy(
        &self,
        token: TokenId,
        vis: Visible,
        filters: &[(AttrType, Vec<Idx>)],
    ) -> Result<Option<Vec<ObjectId>>> {
        let m = &self.gen.mirror;
        let epoch = m.epoch();
        match m.standing(epoch, token) {
            Standing::Unusable => return Ok(None),
            Standing::Absent => {
                // Read whole by a thread of its own (a second or more for
                // 100,000 objects): this find and those until it is done
                // ask the database, as without the copy.
                let (pool, shared) = (self.pool.clone(), self.gen.clone());
                let spawned = std::thread::Builder::new()
                    .name("ferrohsm-pg-copy".into())
                    .spawn(move || copy_token(&pool, &shared.mirror, epoch, token));
                if let Err(e) = spawned {
                    log::warn!(
                        "postgresql: cannot start a thread to copy token {token} ({e}); its finds ask the database"
                    );
                    m.built(epoch, token, None);
                }
                return Ok(None);
            }
            Standing::Ready { stale } if !stale.is_empty() => {
                let sql = format!(
                    "SELECT {COPY_COLS} FROM objects o LEFT JOIN attrs a ON a.obj_id = o.obj_id \
                     WHERE o.obj_id = ANY($2) AND o.token_id = $1 ORDER BY o.obj_id"
                );
                let ids: Vec<ObjectId> = stale.iter().map(|(id, _)| *id).collect();
                let objects = self.read(|db| copies_from(&db.query(&sql, &[&token, &ids])?))?;
                m.refreshed(epoch, token, &stale, objects);
            }
            Standing::Ready { .. } => {}
        }
        Ok(m.find(epoch, token, vis, filters))
    }
}

/// The bulk read of a token's objects for this process's copy (claimed by
/// `Mirror::standing`). A token too large, or one whose read failed, is
/// left uncopied until the copies are next dropped (its finds ask the
/// database): a row that cannot be read would fail every attempt.
fn copy_token(pool: &Pool, m: &mirror::Mirror, epoch: u64, token: TokenId) {
    let r = pool.with(|c| {
        let Conn { client, stmts } = c;
        let db = &mut Db { c: client, stmts };
        let n: i64 = db.one("SELECT count(*) FROM objects WHERE token_id = $1", &[&token])?.get(0);
        if n > mirror::MAX_OBJECTS {
            log::info!("postgresql: token {token} has {n} objects, more than are copied; its finds ask the database");
            return Ok(None);
        }
        let sql = format!(
            "SELECT {COPY_COLS} FROM objects o LEFT JOIN attrs a ON a.obj_id = o.obj_id \
             WHERE o.token_id = $1 ORDER BY o.obj_id"
        );
        copies_from(&db.query(&sql, &[&token])?).map(Some)
    });
    match r {
        Ok(objects) => m.built(epoch, token, objects),
        Err(e) => {
            log::warn!("postgresql: copying token {token}: {e}; its finds ask the database");
            m.built(epoch, token, None);
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.gen.stop();
    }
}

fn who_cols(who: Who) -> (&'static str, &'static str, &'static str, &'static str) {
    match who {
        Who::So => ("so_salt", "so_wrapped", "so_kdf", "so_fail"),
        Who::User => ("user_salt", "user_wrapped", "user_kdf", "user_fail"),
    }
}

const TOKEN_COLS: &str = "token_id, slot_id, uid, label, serial, so_salt, so_wrapped, so_kdf, \
                          user_salt, user_wrapped, user_kdf, so_fail, user_fail, rev, \
                          objects_digest, objects_count, digest_tag";

fn fixed<const N: usize>(v: Vec<u8>) -> Result<[u8; N]> {
    v.try_into().map_err(|_| Error::general("stored token field has the wrong length"))
}

fn count(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

fn token_from_row(r: &postgres::Row) -> Result<TokenRecord> {
    let user_salt: Option<Vec<u8>> = r.get(8);
    let user_wrapped: Option<Vec<u8>> = r.get(9);
    let user_kdf: Option<String> = r.get(10);
    let so_kdf: String = r.get(7);
    let user_pin = match (user_salt, user_wrapped, user_kdf) {
        (Some(salt), Some(wrapped), Some(k)) => Some(PinRecord { salt, wrapped, kdf: KdfParams::from_text(&k)? }),
        _ => None,
    };
    Ok(TokenRecord {
        token_id: r.get(0),
        slot_id: r.get::<_, i64>(1) as SlotId,
        uid: fixed::<UID_LEN>(r.get(2))?,
        label: fixed::<32>(r.get(3))?,
        serial: fixed::<16>(r.get(4))?,
        so_pin: PinRecord { salt: r.get(5), wrapped: r.get(6), kdf: KdfParams::from_text(&so_kdf)? },
        user_pin,
        so_fail: count(r.get(11)),
        user_fail: count(r.get(12)),
        rev: r.get(13),
        digest: digest_from(r.get(14), r.get(15), r.get(16)),
    })
}

fn write_digest(tx: &mut Tx, token: TokenId, d: &SetDigest) -> Result<()> {
    tx.exec(
        "UPDATE tokens SET objects_digest = $1, objects_count = $2, digest_tag = $3 WHERE token_id = $4",
        &[&&d.acc[..], &(d.count as i64), &d.tag.as_ref().map(|t| &t[..]), &token],
    )?;
    Ok(())
}

/// As `sqlite::digest::update_digest` (the check and update are
/// `digest::updated`, shared).
fn update_digest(tx: &mut Tx, token: TokenId, w: Writer, remove: &[[u8; 32]], add: &[[u8; 32]]) -> Result<()> {
    let r = tx
        .opt("SELECT objects_digest, objects_count, digest_tag FROM tokens WHERE token_id = $1", &[&token])?
        .ok_or(Error::TokenNotRecognized)?;
    write_digest(tx, token, &digest_updated(&w, digest_from(r.get(0), r.get(1), r.get(2)), remove, add)?)
}

/// An object's share of the digest as stored now (None: gone or untagged).
fn member_in(tx: &mut Tx, token: TokenId, id: ObjectId) -> Result<Option<[u8; 32]>> {
    let row = tx.opt("SELECT uid, version, tag FROM objects WHERE obj_id = $1 AND token_id = $2", &[&id, &token])?;
    Ok(row.and_then(|r| {
        let uid: Uid = r.get::<_, Vec<u8>>(0).try_into().ok()?;
        let tag: super::seal::Tag = r.get::<_, Option<Vec<u8>>>(2)?.try_into().ok()?;
        Some(super::seal::member_hash(&uid, r.get::<_, i64>(1) as u64, &tag))
    }))
}

/// The object and all its rows in one statement (one round trip): the
/// rows' foreign key is checked at the statement's end, when the object
/// is there.
fn insert_object_in(tx: &mut Tx, token: TokenId, obj: &StoredObject) -> Result<ObjectId> {
    let c = Columns::of(&obj.rows);
    let id: i64 = tx
        .one(
            "WITH o AS (INSERT INTO objects (token_id, uid, private, version, tag) \
                        VALUES ($1, $2, $3, $4, $5) RETURNING obj_id), \
                  a AS (INSERT INTO attrs (obj_id, atype, sealed, value, idx) \
                        SELECT o.obj_id, r.* FROM o, unnest($6::BIGINT[], $7::BOOLEAN[], $8::BYTEA[], $9::BYTEA[]) r) \
             SELECT obj_id FROM o",
            &[
                &token,
                &&obj.uid[..],
                &obj.private,
                &(obj.version as i64),
                &obj.tag.as_ref().map(|t| &t[..]),
                &c.atypes,
                &c.sealed,
                &c.values,
                &c.idxs,
            ],
        )?
        .get(0);
    Ok(id)
}

/// An object's rows as the four arrays a statement unnests.
struct Columns<'r> {
    atypes: Vec<i64>,
    sealed: Vec<bool>,
    values: Vec<&'r [u8]>,
    idxs: Vec<Option<&'r [u8]>>,
}

impl<'r> Columns<'r> {
    fn of(rows: &'r [Row]) -> Columns<'r> {
        Columns {
            atypes: rows.iter().map(|r| r.atype as i64).collect(),
            sealed: rows.iter().map(|r| r.sealed).collect(),
            values: rows.iter().map(|r| &r.value[..]).collect(),
            idxs: rows.iter().map(|r| r.idx.as_ref().map(|i| &i[..])).collect(),
        }
    }
}

/// All rows in one statement (one round trip, whatever their number).
fn insert_rows(tx: &mut Tx, id: ObjectId, rows: &[Row]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let c = Columns::of(rows);
    tx.exec(
        "INSERT INTO attrs (obj_id, atype, sealed, value, idx)
         SELECT $1, * FROM unnest($2::BIGINT[], $3::BOOLEAN[], $4::BYTEA[], $5::BYTEA[])",
        &[&id, &c.atypes, &c.sealed, &c.values, &c.idxs],
    )?;
    Ok(())
}

/// As `sqlite::replace_in`.
fn replace_in(tx: &mut Tx, token: TokenId, w: Writer, old: [u8; 32], obj: &StoredObject) -> Result<bool> {
    update_digest(tx, token, w, &[old], &member_of(obj))?;
    let n = tx.exec(
        "UPDATE objects SET private = $1, version = $5, tag = $6 WHERE obj_id = $2 AND token_id = $3 AND uid = $4",
        &[&obj.private, &obj.id, &token, &&obj.uid[..], &(obj.version as i64), &obj.tag.as_ref().map(|t| &t[..])],
    )?;
    if n == 0 {
        return Ok(false);
    }
    tx.exec("DELETE FROM attrs WHERE obj_id = $1", &[&obj.id])?;
    insert_rows(tx, obj.id, &obj.rows)?;
    Ok(true)
}

/// One object, its head and rows read in one statement (one snapshot).
fn load_in<C: postgres::GenericClient>(c: &mut Db<C>, token: TokenId, id: ObjectId) -> Result<Option<StoredObject>> {
    let rows = c.query(
        "SELECT o.uid, o.private, o.version, o.tag, a.atype, a.sealed, a.value
         FROM objects o LEFT JOIN attrs a ON a.obj_id = o.obj_id
         WHERE o.obj_id = $1 AND o.token_id = $2",
        &[&id, &token],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    object_from(id, &rows, 0, false).map(Some)
}

/// The columns `object_from` reads with index entries, after the id, and
/// the row's generation after them (`mirror`).
const COPY_COLS: &str = "o.obj_id, o.uid, o.private, o.version, o.tag, a.atype, a.sealed, a.value, a.idx, o.gen";

/// Objects with their generations from rows of `COPY_COLS`, one run of
/// rows per object (the statements order by id).
fn copies_from(rows: &[postgres::Row]) -> Result<Vec<(i64, StoredObject)>> {
    rows.chunk_by(|a, b| a.get::<_, ObjectId>(0) == b.get::<_, ObjectId>(0))
        .map(|run| Ok((run[0].get::<_, i64>(9), object_from(run[0].get(0), run, 1, true)?)))
        .collect()
}

/// An object from the rows of one object (at least one): its head in
/// columns `at`..`at + 4` of each (uid, private, version, tag), then one
/// attribute per row (atype, sealed, value; NULL for none), and with
/// `idx` its index entry after them.
fn object_from(id: ObjectId, rows: &[postgres::Row], at: usize, idx: bool) -> Result<StoredObject> {
    let first = &rows[0];
    let uid: Uid =
        first.get::<_, Vec<u8>>(at).try_into().map_err(|_| Error::general("stored object uid has the wrong length"))?;
    let private: bool = first.get(at + 1);
    let version =
        u64::try_from(first.get::<_, i64>(at + 2)).map_err(|_| Error::general("stored object version is negative"))?;
    let tag = first
        .get::<_, Option<Vec<u8>>>(at + 3)
        .map(|t| <super::seal::Tag>::try_from(&t[..]).unwrap_or([0u8; super::seal::TAG_LEN]));
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if let Some(atype) = r.get::<_, Option<i64>>(at + 4) {
            let idx = match idx {
                true => r.get::<_, Option<Vec<u8>>>(at + 7).and_then(|i| <Idx>::try_from(&i[..]).ok()),
                false => None,
            };
            out.push(Row { atype: atype as AttrType, sealed: r.get(at + 5), value: r.get(at + 6), idx });
        }
    }
    Ok(StoredObject { id, uid, private, version, tag, rows: out })
}

fn vis_sql(vis: Visible) -> &'static str {
    match (vis.public, vis.private) {
        (true, true) => "",
        (true, false) => " AND NOT o.private",
        (false, true) => " AND o.private",
        (false, false) => " AND false",
    }
}

impl Store for PgStore {
    fn generation(&self) -> Option<u64> {
        if let Some(g) = self.gen.listened() {
            return Some(g);
        }
        let row = self.read(|db| Ok(db.one("SELECT gen FROM ferrohsm_generation WHERE one = 1", &[])?.get(0)));
        row.ok().map(listen::Shared::from_row)
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.read(|db| {
            db.query(&format!("SELECT {TOKEN_COLS} FROM tokens ORDER BY slot_id"), &[])?
                .iter()
                .map(token_from_row)
                .collect()
        })
    }

    fn token_at(&self, slot: SlotId) -> Result<Option<TokenRecord>> {
        self.read(|db| {
            db.opt(&format!("SELECT {TOKEN_COLS} FROM tokens WHERE slot_id = $1"), &[&(slot as i64)])?
                .as_ref()
                .map(token_from_row)
                .transpose()
        })
    }

    fn put_token(&self, rec: &TokenRecord) -> Result<TokenId> {
        self.write_objects(|tx, scope| {
            *scope = Scope::All;
            tx.exec("DELETE FROM tokens WHERE slot_id = $1", &[&(rec.slot_id as i64)])?;
            let id: i64 = tx
                .one(
                    "INSERT INTO tokens (slot_id, uid, label, serial, so_salt, so_wrapped, so_kdf) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING token_id",
                    &[
                        &(rec.slot_id as i64),
                        &&rec.uid[..],
                        &&rec.label[..],
                        &&rec.serial[..],
                        &rec.so_pin.salt,
                        &rec.so_pin.wrapped,
                        &rec.so_pin.kdf.to_text(),
                    ],
                )?
                .get(0);
            if let Some(d) = &rec.digest {
                write_digest(tx, id, d)?;
            }
            Ok(id)
        })
    }

    fn delete_token(&self, token: TokenId) -> Result<bool> {
        self.write_objects(|tx, scope| {
            *scope = Scope::All;
            Ok(tx.exec("DELETE FROM tokens WHERE token_id = $1", &[&token])? > 0)
        })
    }

    fn set_pin(&self, token: TokenId, who: Who, rec: &PinRecord) -> Result<()> {
        let (salt, wrapped, kdf, fail) = who_cols(who);
        self.write(|tx| {
            let n = tx.exec(
                &format!("UPDATE tokens SET {salt} = $1, {wrapped} = $2, {kdf} = $3, {fail} = 0 WHERE token_id = $4"),
                &[&rec.salt, &rec.wrapped, &rec.kdf.to_text(), &token],
            )?;
            if n == 0 {
                return Err(Error::TokenNotRecognized);
            }
            Ok(())
        })
    }

    fn add_failure(&self, token: TokenId, who: Who) -> Result<u32> {
        let fail = who_cols(who).3;
        self.write(|tx| {
            let r = tx
                .opt(&format!("UPDATE tokens SET {fail} = {fail} + 1 WHERE token_id = $1 RETURNING {fail}"), &[&token])?
                .ok_or(Error::TokenNotRecognized)?;
            Ok(count(r.get(0)))
        })
    }

    fn clear_failures(&self, token: TokenId, who: Who, max: u32) -> Result<()> {
        let fail = who_cols(who).3;
        self.write(|tx| {
            let n = tx.exec(
                &format!(
                    "UPDATE tokens SET {fail} = 0 WHERE token_id = $1 AND ($2::BIGINT = 0 OR {fail} < $2::BIGINT)"
                ),
                &[&token, &i64::from(max)],
            )?;
            if n == 0 {
                return Err(Error::PinLocked);
            }
            Ok(())
        })
    }

    fn insert_object(&self, token: TokenId, w: Writer, obj: &StoredObject) -> Result<ObjectId> {
        self.write_objects(|tx, scope| {
            update_digest(tx, token, w, &[], &member_of(obj))?;
            let id = insert_object_in(tx, token, obj)?;
            *scope = Scope::Objects(token, vec![Change::Put(StoredObject { id, ..obj.clone() })]);
            Ok(id)
        })
    }

    fn insert_objects(&self, token: TokenId, w: Writer, objs: &[StoredObject]) -> Result<Vec<ObjectId>> {
        self.write_objects(|tx, scope| {
            let members: Vec<[u8; 32]> = objs.iter().flat_map(member_of).collect();
            update_digest(tx, token, w, &[], &members)?;
            let ids = objs.iter().map(|obj| insert_object_in(tx, token, obj)).collect::<Result<Vec<_>>>()?;
            let put = objs.iter().zip(&ids).map(|(o, id)| Change::Put(StoredObject { id: *id, ..o.clone() }));
            *scope = Scope::Objects(token, put.collect());
            Ok(ids)
        })
    }

    fn load_object(&self, token: TokenId, id: ObjectId) -> Result<Option<StoredObject>> {
        if self.gen.listened().is_some() {
            if let Some(o) = self.gen.mirror.load(self.gen.mirror.epoch(), token, id) {
                return Ok(o);
            }
        }
        self.read(|db| load_in(db, token, id))
    }

    fn replace_object(&self, token: TokenId, w: Writer, obj: &StoredObject) -> Result<bool> {
        self.write_objects(|tx, scope| {
            let Some(old) = member_in(tx, token, obj.id)? else { return Ok(false) };
            let done = replace_in(tx, token, w, old, obj)?;
            if done {
                *scope = Scope::Objects(token, vec![Change::Put(obj.clone())]);
            }
            Ok(done)
        })
    }

    fn delete_object(&self, token: TokenId, w: Writer, id: ObjectId) -> Result<bool> {
        self.write_objects(|tx, scope| {
            let old: Vec<[u8; 32]> = member_in(tx, token, id)?.into_iter().collect();
            update_digest(tx, token, w, &old, &[])?;
            let done = tx.exec("DELETE FROM objects WHERE obj_id = $1 AND token_id = $2", &[&id, &token])? > 0;
            if done {
                *scope = Scope::Objects(token, vec![Change::Gone(id)]);
            }
            Ok(done)
        })
    }

    fn find(&self, token: TokenId, vis: Visible, filters: &[(AttrType, Vec<Idx>)]) -> Result<Vec<ObjectId>> {
        if filters.iter().any(|(_, idxs)| idxs.is_empty()) || !(vis.public || vis.private) {
            return Ok(Vec::new());
        }
        // While the listener is up, from this process's copy (`mirror`).
        if self.gen.listened().is_some() {
            if let Some(ids) = self.find_in_copy(token, vis, filters)? {
                return Ok(ids);
            }
        }
        let mut order: Vec<&(AttrType, Vec<Idx>)> = filters.iter().collect();
        order.sort_by_key(|(atype, _)| super::sqlite::selectivity_rank(*atype));
        // One statement: the most selective entry drives (through the
        // index on entries), the others are checked per candidate. The
        // entries are looked up first, behind a MATERIALIZED fence: left to
        // itself the planner may drive from the token's objects instead (it
        // did on a table not yet analyzed: every object of the token
        // visited, 1.2 ms per find among 1,000 against 0.1 ms).
        let vis = vis_sql(vis);
        let mut atypes: Vec<i64> = Vec::with_capacity(order.len());
        let mut sets: Vec<Vec<&[u8]>> = Vec::with_capacity(order.len());
        for (atype, idxs) in &order {
            atypes.push(*atype as i64);
            sets.push(idxs.iter().map(|i| &i[..]).collect());
        }
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&token];
        let mut sql = match order.len() {
            0 => format!("SELECT o.obj_id FROM objects o WHERE o.token_id = $1{vis}"),
            n => {
                // Each candidate's object through its key (the LATERAL
                // fence): never the token's objects scanned for them.
                let mut sql = format!(
                    "WITH c AS MATERIALIZED (SELECT obj_id FROM attrs WHERE idx = ANY($3) AND atype = $2) \
                     SELECT o.obj_id FROM c CROSS JOIN LATERAL \
                     (SELECT * FROM objects o WHERE o.obj_id = c.obj_id OFFSET 0) o \
                     WHERE o.token_id = $1{vis}"
                );
                for k in 1..n {
                    sql.push_str(&format!(
                        " AND EXISTS (SELECT 1 FROM attrs b WHERE b.obj_id = o.obj_id AND b.atype = ${} AND b.idx = ANY(${}))",
                        2 * k + 2,
                        2 * k + 3
                    ));
                }
                sql
            }
        };
        sql.push_str(" ORDER BY 1");
        for k in 0..order.len() {
            params.push(&atypes[k]);
            params.push(&sets[k]);
        }
        self.read(|db| Ok(db.query(&sql, &params)?.iter().map(|r| r.get(0)).collect()))
    }

    fn object_by_uid(&self, token: TokenId, uid: &Uid) -> Result<Option<ObjectId>> {
        self.read(|db| {
            Ok(db
                .opt("SELECT obj_id FROM objects WHERE uid = $1 AND token_id = $2", &[&&uid[..], &token])?
                .map(|r| r.get(0)))
        })
    }

    fn update_object(
        &self,
        token: TokenId,
        w: Writer,
        id: ObjectId,
        f: &mut dyn FnMut(StoredObject) -> Result<Option<StoredObject>>,
    ) -> Result<bool> {
        self.write_objects(|tx, scope| {
            let Some(cur) = load_in(tx, token, id)? else { return Ok(false) };
            let old = member_of(&cur).pop();
            let Some(new) = f(cur)? else { return Ok(true) };
            let Some(old) = old else { return Ok(false) };
            let done = replace_in(tx, token, w, old, &new)?;
            if done {
                *scope = Scope::Objects(token, vec![Change::Put(new)]);
            }
            Ok(done)
        })
    }

    fn append_audit(&self, body: &str, signer: Option<&AuditSigner>) -> Result<()> {
        self.write_audited(Some(body), signer, |_, _| Ok(()))
    }

    fn stage_audit(&self, lines: &str) {
        if STAGED.try_with(|s| s.borrow_mut().push_str(lines)).is_err() {
            log::error!("audit: record staged after thread exit, lost");
        }
    }

    fn discard_staged(&self) {
        let _ = STAGED.try_with(|s| s.borrow_mut().clear());
    }

    fn untagged_objects(&self, token: TokenId) -> Result<Vec<ObjectId>> {
        self.read(|db| {
            Ok(db
                .query("SELECT obj_id FROM objects WHERE token_id = $1 AND tag IS NULL ORDER BY obj_id", &[&token])?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn tag_object(
        &self,
        token: TokenId,
        w: Writer,
        id: ObjectId,
        version: u64,
        tag: &super::seal::Tag,
    ) -> Result<bool> {
        self.write_objects(|tx, scope| {
            let uid = tx
                .opt("SELECT uid FROM objects WHERE obj_id = $1 AND token_id = $2 AND tag IS NULL", &[&id, &token])?
                .map(|r| r.get::<_, Vec<u8>>(0));
            let Some(uid) = uid.and_then(|u| <Uid>::try_from(u).ok()) else { return Ok(false) };
            update_digest(tx, token, w, &[], &[super::seal::member_hash(&uid, version, tag)])?;
            *scope = Scope::Objects(token, vec![Change::Touched(id)]);
            Ok(tx.exec(
                "UPDATE objects SET version = $1, tag = $2 WHERE obj_id = $3 AND token_id = $4 AND tag IS NULL",
                &[&(version as i64), &&tag[..], &id, &token],
            )? > 0)
        })
    }

    fn set_digest(&self, token: TokenId, d: &SetDigest) -> Result<()> {
        self.write(|tx| write_digest(tx, token, d))
    }

    fn all_objects(&self, token: TokenId) -> Result<Vec<ObjectId>> {
        self.read(|db| {
            Ok(db
                .query("SELECT obj_id FROM objects WHERE token_id = $1 ORDER BY obj_id", &[&token])?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn object_index(&self, id: ObjectId) -> Result<Vec<(AttrType, Option<Vec<u8>>)>> {
        self.read(|db| {
            Ok(db
                .query("SELECT atype, idx FROM attrs WHERE obj_id = $1", &[&id])?
                .iter()
                .map(|r| (r.get::<_, i64>(0) as AttrType, r.get(1)))
                .collect())
        })
    }

    fn audit_log(&self) -> Result<AuditLog> {
        self.pool.with(|c| {
            let Conn { client, stmts } = c;
            let mut tx = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let log = audit::log_in(&mut Db { c: &mut tx, stmts })?;
            tx.commit()?;
            Ok(log)
        })
    }

    fn audit_anchor(&self) -> Result<super::anchor::Sidecar> {
        self.anchor.read()
    }

    fn checkpoint_audit_head(&self, signer: &AuditSigner) -> Result<()> {
        self.write(|tx| audit::checkpoint_head_in(tx, signer))
    }

    fn mark_audit_exported(&self, seq: i64, hash: &[u8]) -> Result<()> {
        self.write(|tx| audit::mark_exported_in(tx, seq, hash))
    }

    fn prune_audit(&self, upto: i64, signer: &AuditSigner) -> Result<Option<i64>> {
        self.write(|tx| audit::prune_in(tx, upto, signer))
    }

    fn import(&self, d: &super::copy::Dump) -> Result<()> {
        self.write_objects(|tx, scope| {
            *scope = Scope::All;
            copy::import_in(tx, d)
        })
    }
}

thread_local! {
    /// Audit lines staged by this thread for its next write transaction.
    static STAGED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

#[cfg(test)]
mod tests;
