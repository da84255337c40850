//! Reading SoftHSM v2 token directories, written from the format as the
//! SoftHSM sources and the files of the Debian package show it:
//!
//! - file backend: `<token>/token.object` and `<token>/<uuid>.object`, each
//!   a big-endian 8-byte generation counter, then attributes as
//!   (type u64, kind u64, value) with kind 1 bool (1 byte), 2 ulong (u64),
//!   3 byte string (u64 length, bytes), 4 attribute map (u64 byte length,
//!   then entries of type, kind 1..5, value), 5 mechanism set (u64 count,
//!   then a u64 each); all integers big-endian.
//! - db backend: `<token>/sqlite3.db`, object 1 the token, attributes in
//!   `attribute_boolean`, `attribute_integer`, `attribute_binary` (also
//!   CKA_ALLOWED_MECHANISMS as native u64s) and `attribute_array`
//!   (attribute maps in native byte order, a 4-byte kind per entry).
//!
//! The token key (AES-256) is stored under each PIN as salt(8), IV(16),
//! AES-256-CBC(PKCS#7) of "RJR" followed by the key, with the key-encryption key
//! SHA-256 iterated 1500 + salt[7] times over salt || PIN. Every non-empty
//! byte string of a private object is IV(16) || AES-256-CBC(PKCS#7) under
//! the token key. Nothing decrypted here is ever printed or written.

use std::path::{Path, PathBuf};

use aws_lc_rs::cipher::{DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey, AES_256};
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroizing;

const CKA_VENDOR_SOFTHSM: u64 = 0x8000_0000 + 0x5348;
const CKA_OS_TOKENLABEL: u64 = CKA_VENDOR_SOFTHSM + 1;
const CKA_OS_TOKENSERIAL: u64 = CKA_VENDOR_SOFTHSM + 2;
const CKA_OS_SOPIN: u64 = CKA_VENDOR_SOFTHSM + 4;
const CKA_OS_USERPIN: u64 = CKA_VENDOR_SOFTHSM + 5;
const CKA_PRIVATE: u64 = cryptoki_sys::CKA_PRIVATE;
const CKA_ALLOWED_MECHANISMS: u64 = cryptoki_sys::CKA_ALLOWED_MECHANISMS;

/// One SoftHSM attribute value.
#[derive(Clone)]
pub enum SAttr {
    Bool(bool),
    Ulong(u64),
    Bytes(Zeroizing<Vec<u8>>),
    Mechs(Vec<u64>),
    Map(Vec<(u64, SAttr)>),
}

pub struct SObject {
    /// File name or db object id, for the report.
    pub name: String,
    pub attrs: Vec<(u64, SAttr)>,
}

impl SObject {
    pub fn get(&self, t: u64) -> Option<&SAttr> {
        self.attrs.iter().find(|(a, _)| *a == t).map(|(_, v)| v)
    }
    pub fn ulong(&self, t: u64) -> Option<u64> {
        match self.get(t) {
            Some(SAttr::Ulong(u)) => Some(*u),
            _ => None,
        }
    }
    pub fn bool(&self, t: u64) -> bool {
        matches!(self.get(t), Some(SAttr::Bool(true)))
    }
    pub fn bytes(&self, t: u64) -> Option<&[u8]> {
        match self.get(t) {
            Some(SAttr::Bytes(b)) => Some(b),
            _ => None,
        }
    }
}

pub struct SToken {
    pub dir: PathBuf,
    pub backend: &'static str,
    pub label: String,
    pub serial: String,
    so_pin: Vec<u8>,
    user_pin: Option<Vec<u8>>,
    /// Objects as stored (private byte strings still encrypted).
    pub objects: Vec<SObject>,
}

/// The token directories under `dir`: `dir` itself when it is one, else
/// each subdirectory holding `token.object` or `sqlite3.db`.
pub fn token_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let is_token = |d: &Path| d.join("token.object").is_file() || d.join("sqlite3.db").is_file();
    if is_token(dir) {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.is_dir() && is_token(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn fixed_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end_matches([' ', '\0']).to_string()
}

/// Does this token directory use the file backend (else the SQLite one,
/// `softhsm_db`)?
pub fn is_file_backend(dir: &Path) -> bool {
    dir.join("token.object").is_file()
}

/// A token from what its backend's reader parsed.
pub fn token_from(dir: &Path, parsed: Parsed) -> Result<SToken, String> {
    let (backend, info, objects) = parsed;
    let bytes = |t| info.bytes(t).map(<[u8]>::to_vec);
    Ok(SToken {
        dir: dir.to_path_buf(),
        backend,
        label: fixed_text(&bytes(CKA_OS_TOKENLABEL).unwrap_or_default()),
        serial: fixed_text(&bytes(CKA_OS_TOKENSERIAL).unwrap_or_default()),
        so_pin: bytes(CKA_OS_SOPIN).ok_or("token has no SO PIN record")?,
        user_pin: bytes(CKA_OS_USERPIN).filter(|b| !b.is_empty()),
        objects,
    })
}

/// What a backend's reader gives: its name, the token record, the objects.
pub type Parsed = (&'static str, SObject, Vec<SObject>);

pub fn read_file_backend(dir: &Path) -> Result<Parsed, String> {
    let info = parse_object_file(&dir.join("token.object"))?;
    let mut objects = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "object") && p.file_name().is_some_and(|n| n != "token.object"))
        .collect();
    names.sort();
    for p in names {
        objects.push(parse_object_file(&p)?);
    }
    Ok(("file", info, objects))
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len()).ok_or("truncated object file")?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| "truncated")?))
    }
    fn bytes(&mut self) -> Result<Zeroizing<Vec<u8>>, String> {
        let n = usize::try_from(self.u64()?).map_err(|_| "bad length")?;
        Ok(Zeroizing::new(self.take(n)?.to_vec()))
    }
    fn mechs(&mut self) -> Result<Vec<u64>, String> {
        let n = self.u64()?;
        (0..n).map(|_| self.u64()).collect()
    }
    fn value(&mut self, kind: u64) -> Result<SAttr, String> {
        Ok(match kind {
            1 => SAttr::Bool(self.take(1)?[0] != 0),
            2 => SAttr::Ulong(self.u64()?),
            3 => SAttr::Bytes(self.bytes()?),
            4 => {
                let len = usize::try_from(self.u64()?).map_err(|_| "bad length")?;
                let end = self.pos + len;
                let mut m = Vec::new();
                while self.pos < end {
                    let t = self.u64()?;
                    // Inside a map the kinds are 1 bool, 2 ulong, 3 bytes, 5 mechs.
                    let k = self.u64()?;
                    m.push((t, self.value(k)?));
                }
                SAttr::Map(m)
            }
            5 => SAttr::Mechs(self.mechs()?),
            k => return Err(format!("unknown attribute kind {k}")),
        })
    }
}

fn parse_object_file(p: &Path) -> Result<SObject, String> {
    let data = Zeroizing::new(std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?);
    let mut r = Reader { b: &data, pos: 0 };
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let bad = |e: String| format!("{name}: {e}");
    if !data.is_empty() {
        r.u64().map_err(bad)?; // generation
    }
    let mut attrs = Vec::new();
    while r.pos < data.len() {
        let t = r.u64().map_err(bad)?;
        let k = r.u64().map_err(bad)?;
        attrs.push((t, r.value(k).map_err(bad)?));
    }
    Ok(SObject { name, attrs })
}

/// The AES-256 key-encryption key SoftHSM derives from a PIN.
fn pin_key(pin: &[u8], salt: &[u8]) -> Zeroizing<Vec<u8>> {
    let iterations = 1500 + u32::from(salt[salt.len() - 1]);
    let mut buf = Zeroizing::new(Vec::with_capacity(salt.len() + pin.len()));
    buf.extend_from_slice(salt);
    buf.extend_from_slice(pin);
    let mut h = Zeroizing::new(digest(&SHA256, &buf).as_ref().to_vec());
    for _ in 1..iterations {
        *h = digest(&SHA256, &h).as_ref().to_vec();
    }
    h
}

fn cbc_decrypt(key: &[u8], iv: &[u8], ct: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if ct.is_empty() || ct.len() % 16 != 0 {
        return None;
    }
    let k = PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, key).ok()?).ok()?;
    let iv: [u8; 16] = iv.try_into().ok()?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let n = k.decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv))).ok()?.len();
    buf.truncate(n);
    Some(buf)
}

/// The token key, if `pin` opens this record.
fn open_pin_record(rec: &[u8], pin: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if rec.len() < 8 + 16 + 16 || pin.is_empty() {
        return None;
    }
    let kek = pin_key(pin, &rec[..8]);
    let plain = cbc_decrypt(&kek, &rec[8..24], &rec[24..])?;
    if plain.len() != 3 + 32 || &plain[..3] != b"RJR" {
        return None;
    }
    Some(Zeroizing::new(plain[3..].to_vec()))
}

/// The token's key, opened with the user PIN.
pub struct SoftKey(Zeroizing<Vec<u8>>);

impl SToken {
    pub fn open_user(&self, pin: &[u8]) -> Option<SoftKey> {
        open_pin_record(self.user_pin.as_deref()?, pin).map(SoftKey)
    }
    pub fn check_so(&self, pin: &[u8]) -> bool {
        open_pin_record(&self.so_pin, pin).is_some()
    }
    pub fn has_user_pin(&self) -> bool {
        self.user_pin.is_some()
    }
}

impl SoftKey {
    fn decrypt(&self, v: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if v.is_empty() {
            return Some(Zeroizing::new(Vec::new()));
        }
        if v.len() < 32 {
            return None;
        }
        cbc_decrypt(&self.0, &v[..16], &v[16..])
    }

    /// The object with every byte string of a private object decrypted.
    pub fn open(&self, o: &SObject) -> Result<SObject, String> {
        if !o.bool(CKA_PRIVATE) {
            return Ok(SObject { name: o.name.clone(), attrs: o.attrs.clone() });
        }
        let mut attrs = Vec::with_capacity(o.attrs.len());
        for (t, v) in &o.attrs {
            let v = match v {
                SAttr::Bytes(b) => {
                    SAttr::Bytes(self.decrypt(b).ok_or_else(|| format!("attribute {t:#x} does not decrypt"))?)
                }
                other => other.clone(),
            };
            attrs.push((*t, v));
        }
        Ok(SObject { name: o.name.clone(), attrs })
    }
}

/// A db-backend CKA_ALLOWED_MECHANISMS blob (native u64s).
pub fn native_mechs(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]))).collect()
}

pub fn is_mechset(t: u64) -> bool {
    t == CKA_ALLOWED_MECHANISMS
}

/// A db-backend attribute map: entries of native u64 type, 4-byte kind,
/// then bool (1 byte), ulong (u64), bytes (u64 length + bytes) or a
/// mechanism set (u64 length + native u64s).
pub fn native_map(b: &[u8]) -> Result<Vec<(u64, SAttr)>, String> {
    let mut pos = 0;
    let mut take = |n: usize| -> Result<&[u8], String> {
        let s = b.get(pos..pos + n).ok_or("truncated attribute map")?;
        pos += n;
        Ok(s)
    };
    let mut out = Vec::new();
    while let Ok(t) = take(8) {
        let t = u64::from_ne_bytes(t.try_into().map_err(|_| "bad map")?);
        let kind = u32::from_ne_bytes(take(4)?.try_into().map_err(|_| "bad map")?);
        let v = match kind {
            1 => SAttr::Bool(take(1)?[0] != 0),
            2 => SAttr::Ulong(u64::from_ne_bytes(take(8)?.try_into().map_err(|_| "bad map")?)),
            3 | 5 => {
                let n = u64::from_ne_bytes(take(8)?.try_into().map_err(|_| "bad map")?) as usize;
                let raw = take(n)?;
                if kind == 3 {
                    SAttr::Bytes(Zeroizing::new(raw.to_vec()))
                } else {
                    SAttr::Mechs(native_mechs(raw))
                }
            }
            k => return Err(format!("unknown attribute kind {k} in a map")),
        };
        out.push((t, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_attributes() {
        let mut f = 7u64.to_be_bytes().to_vec();
        f.extend(1u64.to_be_bytes());
        f.extend(1u64.to_be_bytes());
        f.push(1);
        f.extend(0x100u64.to_be_bytes());
        f.extend(3u64.to_be_bytes());
        f.extend(2u64.to_be_bytes());
        f.extend(b"ab");
        let dir = std::env::temp_dir().join(format!("ferrohsm-sh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x.object"), &f).unwrap();
        let o = parse_object_file(&dir.join("x.object")).unwrap();
        assert!(o.bool(1));
        assert_eq!(o.bytes(0x100), Some(&b"ab"[..]));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
