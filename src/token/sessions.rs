//! The sessions component's state: the process's open sessions. The table is an `ArcSwap`: a
//! lookup takes no lock and writes nothing shared; opening and closing
//! (far rarer than use) copy it, change the copy and store it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{Session, SessionHandle};
use crate::error::{Error, Result};
use crate::sync::Mutex;

pub(crate) type Table = HashMap<SessionHandle, Arc<Session>>;

pub(crate) struct SessionTable {
    table: ArcSwap<Table>,
    /// Serializes changes of `table` (copy, change, store).
    edit: Mutex<()>,
    next: AtomicU64,
}

impl SessionTable {
    pub fn new() -> SessionTable {
        SessionTable { table: ArcSwap::from_pointee(HashMap::new()), edit: Mutex::new(()), next: AtomicU64::new(1) }
    }

    /// The session, or CKR_SESSION_HANDLE_INVALID.
    pub fn get(&self, h: SessionHandle) -> Result<Arc<Session>> {
        self.table.load().get(&h).cloned().ok_or(Error::SessionHandleInvalid)
    }

    /// Every open session, as the table is now.
    pub fn all(&self) -> Arc<Table> {
        self.table.load_full()
    }

    /// Changes the table: a new copy replaces it.
    pub fn edit<T>(&self, f: impl FnOnce(&mut Table) -> T) -> T {
        let _edit = self.edit.lock();
        let mut m = HashMap::clone(&self.table.load());
        let r = f(&mut m);
        self.table.store(Arc::new(m));
        r
    }

    pub fn next_handle(&self) -> SessionHandle {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}
