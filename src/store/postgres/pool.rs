//! A small bounded connection pool of our own (a dozen lines of logic; r2d2
//! would add a crate, a thread and its own error type for no more than
//! this): at most `MAX` connections, a caller waits for a free one at most
//! the connect timeout, and a connection that broke is dropped instead of
//! returned, so the next call connects again (how the store recovers when
//! the database comes back).

use std::collections::HashMap;
use std::time::Duration;

use postgres::{Client, GenericClient, Statement};

use super::conn::Target;
use crate::error::{Error, Result};
use crate::sync::Mutex;

const MAX: usize = 8;

/// A connection with its prepared statements (PostgreSQL keeps them per
/// connection; preparing costs a round trip).
pub(super) struct Conn {
    pub client: Client,
    pub stmts: HashMap<String, Statement>,
}

pub(super) struct Pool {
    target: Target,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// Idle connections and how many are out.
    state: Mutex<(Vec<Conn>, usize)>,
    freed: std::sync::Condvar,
}

impl Pool {
    pub fn new(target: Target) -> Result<Pool> {
        let tls = target.tls()?;
        Ok(Pool { target, tls, state: Mutex::new((Vec::new(), 0)), freed: std::sync::Condvar::new() })
    }

    pub fn connect(&self) -> Result<Client> {
        off_runtime(|| Ok(self.target.config.connect(self.tls.clone())?))
    }

    /// A connection for the pool, whose statements are planned once, when
    /// first run (`force_generic_plan`). Left to choose, PostgreSQL plans
    /// the find statement again at every execution (its `= ANY($n)` makes
    /// a per-value plan look cheaper), and planning costs several times the
    /// execution: measured here, a first-time find and the load of its
    /// object took 229 µs with a plan per call and 90 µs with one plan.
    /// A plan made once must not depend on the table's size when it was
    /// made (a store's first find runs on an almost empty table): every
    /// statement here is a lookup through a key or an index, and with
    /// sequential scans off (`enable_seqscan`, which only makes them the
    /// last resort) the planner takes that index whatever its statistics
    /// said; the find's joins are written so that no other order exists.
    fn connect_pooled(&self) -> Result<Client> {
        let mut c = self.connect()?;
        c.batch_execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")?;
        Ok(c)
    }

    fn wait(&self) -> Duration {
        self.target.config.get_connect_timeout().copied().unwrap_or(Duration::from_secs(5))
    }

    /// Runs `f` on a pooled connection.
    pub fn with<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        off_runtime(|| {
            let mut c = self.take()?;
            let r = f(&mut c);
            self.give_back(c);
            r
        })
    }

    fn take(&self) -> Result<Conn> {
        let deadline = std::time::Instant::now() + self.wait();
        let mut g = self.state.lock();
        loop {
            if let Some(c) = g.0.pop() {
                g.1 += 1;
                return Ok(c);
            }
            if g.1 < MAX {
                g.1 += 1;
                break;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Error::device("postgresql: every pooled connection is busy"));
            }
            g = self.freed.wait_timeout(g, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
        drop(g);
        match self.connect_pooled() {
            Ok(client) => Ok(Conn { client, stmts: HashMap::new() }),
            Err(e) => {
                self.state.lock().1 -= 1;
                self.freed.notify_one();
                Err(e)
            }
        }
    }

    fn give_back(&self, c: Conn) {
        let mut g = self.state.lock();
        g.1 -= 1;
        if !c.client.is_closed() {
            g.0.push(c);
        } else {
            drop(g);
            discard(c);
            self.freed.notify_one();
            return;
        }
        drop(g);
        self.freed.notify_one();
    }
}

/// Runs `f` where the blocking client may run its own small runtime:
/// tokio refuses to start one on a thread already inside a runtime (the
/// KMS server's workers), so there the worker is first handed over as a
/// blocking one (`block_in_place`, which leaves the runtime's context). A
/// current-thread runtime cannot do that: the call fails, never panics.
/// Neither can a thread whose thread-locals are gone (an exit handler on
/// the main thread): the client's runtime would panic entering its
/// context there, so the call fails instead (`ffi::general` flushes at
/// exit from a thread of its own).
fn off_runtime<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(e) if e.is_thread_local_destroyed() => {
            Err(Error::device("postgresql: the store cannot be used while this thread exits"))
        }
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => Err(Error::device("postgresql: the store cannot be used from a current-thread tokio runtime")),
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for c in std::mem::take(&mut self.state.lock().0) {
            discard(c);
        }
    }
}

/// Drops a connection; on a tokio worker thread from a thread of its own
/// (its runtime may not be dropped inside another).
pub(super) fn discard(c: Conn) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::Builder::new().name("ferrohsm-pg-close".into()).spawn(move || drop(c));
    } else {
        drop(c);
    }
}

/// A connection or a transaction on it, with the connection's statements.
pub(super) struct Db<'a, C: GenericClient> {
    pub c: &'a mut C,
    pub stmts: &'a mut HashMap<String, Statement>,
}

impl<C: GenericClient> Db<'_, C> {
    fn st(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c.prepare(sql)?;
        self.stmts.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub fn query(&mut self, sql: &str, p: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<postgres::Row>> {
        let st = self.st(sql)?;
        Ok(self.c.query(&st, p)?)
    }

    pub fn opt(&mut self, sql: &str, p: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Option<postgres::Row>> {
        let st = self.st(sql)?;
        Ok(self.c.query_opt(&st, p)?)
    }

    pub fn one(&mut self, sql: &str, p: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<postgres::Row> {
        let st = self.st(sql)?;
        Ok(self.c.query_one(&st, p)?)
    }

    pub fn exec(&mut self, sql: &str, p: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<u64> {
        let st = self.st(sql)?;
        Ok(self.c.execute(&st, p)?)
    }
}
