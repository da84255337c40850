//! The store's generation across hosts. Every write transaction bumps the
//! row `ferrohsm_generation` (which also serializes writers, see
//! `PgStore::write`) and sends `NOTIFY ferrohsm_gen`, delivered at commit.
//! A listener thread on its own connection counts the notifications into
//! an atomic, so `generation()` costs no round trip. While the listener is
//! not connected and listening, `generation()` reads the row instead (one
//! round trip per call, never a stale cache); when that fails too it
//! answers None and callers cache nothing.
//!
//! Staleness bound: a commit on another host is seen here once its
//! notification arrives (the network latency plus a thread wake-up,
//! typically well under a millisecond on a LAN). A listener connection
//! that dies is noticed when the server closes it or at the next health
//! round trip (every `PING`), at worst after `tcp_user_timeout` (10 s by
//! default) on a silent network partition; from then on the row is read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::pool::Pool;

pub(super) const CHANNEL: &str = "ferrohsm_gen";
/// How often the listener checks its connection with a round trip.
const PING: Duration = Duration::from_secs(1);

/// Values served while the listener is healthy carry this bit; row values
/// never do, so the two can never be mistaken for each other.
const LISTENED: u64 = 1 << 63;

#[derive(Default)]
pub(super) struct Shared {
    /// Bumped on every notification, local commit and listener (re)start.
    counter: AtomicU64,
    /// The listener is connected and listening.
    healthy: AtomicBool,
    stop: AtomicBool,
    /// The store's schema (its oid), which its notifications name.
    pub store: i64,
    /// This process's copy of token objects, kept current by what the
    /// notifications say (see `mirror`); dropped whenever the listener
    /// (re)connects or fails.
    pub mirror: super::mirror::Mirror,
}

impl Shared {
    /// For the store whose schema has oid `store`.
    pub fn new(store: i64) -> Shared {
        Shared { store, ..Default::default() }
    }

    /// The value `generation()` serves, if the listener is up.
    pub fn listened(&self) -> Option<u64> {
        if self.healthy.load(Ordering::Acquire) {
            Some(self.counter.load(Ordering::Acquire) | LISTENED)
        } else {
            None
        }
    }

    /// A row value read when the listener is down.
    pub fn from_row(gen: i64) -> u64 {
        (gen as u64) & !LISTENED
    }

    /// After this process committed: its own next call sees the change
    /// without waiting for the notification.
    pub fn bump(&self) {
        self.counter.fetch_add(1, Ordering::AcqRel);
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// The listener lost its connection: notifications may be missed from
    /// now on, so the generation row is read and the copy goes.
    fn down(&self) {
        self.healthy.store(false, Ordering::Release);
        self.mirror.reset();
    }
}

/// Starts the listener thread.
pub(super) fn spawn(pool: Arc<Pool>, shared: Arc<Shared>) {
    let r = std::thread::Builder::new().name("ferrohsm-pg-listen".into()).spawn(move || run(&pool, &shared));
    if let Err(e) = r {
        log::error!("postgresql: cannot start the listener thread ({e}); the generation row is read on every call");
    }
}

fn run(pool: &Pool, shared: &Shared) {
    let mut logged = false;
    while !shared.stop.load(Ordering::Acquire) {
        match listen(pool, shared) {
            Ok(()) => return,
            Err(e) => {
                shared.down();
                if !logged {
                    log::warn!("postgresql listener: {e}; reading the generation row until it reconnects");
                    logged = true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One connection's life: returns Ok when asked to stop, Err when the
/// connection fails.
fn listen(pool: &Pool, shared: &Shared) -> std::result::Result<(), String> {
    let mut c = pool.connect().map_err(|e| e.to_string())?;
    c.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(|e| super::describe(&e))?;
    // Whatever was committed before LISTEN took effect was not notified:
    // a fresh value makes every cache look again, and the copy goes.
    shared.mirror.reset();
    shared.counter.fetch_add(1, Ordering::AcqRel);
    shared.healthy.store(true, Ordering::Release);
    log::info!("postgresql listener connected");
    loop {
        if shared.stop.load(Ordering::Acquire) {
            shared.down();
            return Ok(());
        }
        let next = {
            let mut n = c.notifications();
            let mut it = n.timeout_iter(PING);
            postgres::fallible_iterator::FallibleIterator::next(&mut it)
        };
        let got = match next {
            Ok(Some(n)) => {
                // The copy first, then the generation (as a local commit).
                match super::mirror::parse(shared.store, n.payload()) {
                    super::mirror::Heard::Elsewhere => {}
                    heard => {
                        shared.mirror.heard(heard);
                        shared.counter.fetch_add(1, Ordering::AcqRel);
                    }
                }
                true
            }
            Ok(None) => false,
            Err(e) => {
                shared.down();
                return Err(super::describe(&e));
            }
        };
        if !got {
            // Quiet for a while: prove the connection is still there.
            if let Err(e) = c.simple_query("") {
                shared.down();
                return Err(super::describe(&e));
            }
        }
    }
}
