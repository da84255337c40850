//! SoftHSM's db backend (`sqlite3.db`), read-only.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use zeroize::Zeroizing;

use super::softhsm::{is_mechset, native_map, native_mechs, SAttr, SObject};

/// Object 1 holds the token's own attributes.
const TOKEN_OBJECT: i64 = 1;

pub fn read_db_backend(path: &Path) -> Result<(&'static str, SObject, Vec<SObject>), String> {
    let e = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(e)?;
    let mut by_id: BTreeMap<i64, Vec<(u64, SAttr)>> = BTreeMap::new();
    {
        let mut st = c.prepare("SELECT id FROM object ORDER BY id").map_err(e)?;
        let ids = st.query_map([], |r| r.get::<_, i64>(0)).map_err(e)?;
        for id in ids {
            by_id.insert(id.map_err(e)?, Vec::new());
        }
    }
    let tables = ["attribute_boolean", "attribute_integer", "attribute_binary", "attribute_array"];
    for (n, table) in tables.iter().enumerate() {
        let mut st = c.prepare(&format!("SELECT object_id, type, value FROM {table} ORDER BY id")).map_err(e)?;
        let mut rows = st.query([]).map_err(e)?;
        while let Some(r) = rows.next().map_err(e)? {
            let id: i64 = r.get(0).map_err(e)?;
            let t = r.get::<_, i64>(1).map_err(e)? as u64;
            let v = match n {
                0 => SAttr::Bool(r.get::<_, i64>(2).map_err(e)? != 0),
                1 => SAttr::Ulong(r.get::<_, i64>(2).map_err(e)? as u64),
                2 => {
                    let b: Vec<u8> = r.get::<_, Option<Vec<u8>>>(2).map_err(e)?.unwrap_or_default();
                    if is_mechset(t) {
                        SAttr::Mechs(native_mechs(&b))
                    } else {
                        SAttr::Bytes(Zeroizing::new(b))
                    }
                }
                _ => {
                    let b: Vec<u8> = r.get::<_, Option<Vec<u8>>>(2).map_err(e)?.unwrap_or_default();
                    SAttr::Map(native_map(&b)?)
                }
            };
            by_id.entry(id).or_default().push((t, v));
        }
    }
    let info =
        SObject { name: "token".into(), attrs: by_id.remove(&TOKEN_OBJECT).ok_or("no token object in sqlite3.db")? };
    let objects = by_id.into_iter().map(|(id, attrs)| SObject { name: format!("object {id}"), attrs }).collect();
    Ok(("db", info, objects))
}
