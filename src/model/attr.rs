//! Typed attribute values. The C encoding (CK_BBOOL = 1 byte, CK_ULONG =
//! native 8 bytes) is produced and checked here and nowhere else.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub type AttrType = cryptoki_sys::CK_ATTRIBUTE_TYPE;
pub type Ulong = cryptoki_sys::CK_ULONG;

const ULONG_LEN: usize = std::mem::size_of::<Ulong>();

/// The shape of an attribute's value, from the policy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Ulong,
    Bytes,
    /// CK_DATE: 8 ASCII digits, or empty.
    Date,
    /// An array of attributes (CKA_WRAP_TEMPLATE, ...).
    Template,
    /// An array of CK_MECHANISM_TYPE (CKA_ALLOWED_MECHANISMS).
    MechList,
}

/// An attribute value. Byte strings are zeroized on drop because some of
/// them are key material.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Ulong(Ulong),
    Bytes(Zeroizing<Vec<u8>>),
    Template(Vec<Attribute>),
    MechList(Vec<Ulong>),
}

#[derive(Clone, PartialEq, Eq)]
pub struct Attribute {
    pub atype: AttrType,
    pub value: Value,
}

impl fmt::Debug for Value {
    /// Never prints byte contents: they may be secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Ulong(u) => write!(f, "{u:#x}"),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::Template(t) => write!(f, "template[{}]", t.len()),
            Value::MechList(m) => write!(f, "mechs{m:x?}"),
        }
    }
}

impl fmt::Debug for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}={:?}", self.atype, self.value)
    }
}

impl Value {
    pub fn bytes(b: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(Zeroizing::new(b.into()))
    }

    /// Parses a flat C value of the given kind (not templates: the boundary
    /// decodes nested arrays itself).
    pub fn from_c(kind: Kind, raw: &[u8]) -> Result<Value> {
        Ok(match kind {
            Kind::Bool => match raw {
                [b] => Value::Bool(*b != 0),
                _ => return Err(Error::AttributeValueInvalid),
            },
            Kind::Ulong => Value::Ulong(read_ulong(raw).ok_or(Error::AttributeValueInvalid)?),
            Kind::Bytes => Value::bytes(raw),
            Kind::Date => {
                if !(raw.is_empty() || (raw.len() == 8 && raw.iter().all(u8::is_ascii_digit))) {
                    return Err(Error::AttributeValueInvalid);
                }
                Value::bytes(raw)
            }
            Kind::MechList => {
                if raw.len() % ULONG_LEN != 0 {
                    return Err(Error::AttributeValueInvalid);
                }
                Value::MechList(raw.chunks(ULONG_LEN).filter_map(read_ulong).collect())
            }
            Kind::Template => return Err(Error::AttributeValueInvalid),
        })
    }

    /// The value as the C ABI lays it out (templates: see `encode`).
    pub fn to_c(&self) -> Zeroizing<Vec<u8>> {
        match self {
            Value::Bool(b) => Zeroizing::new(vec![*b as u8]),
            Value::Ulong(u) => Zeroizing::new(u.to_ne_bytes().to_vec()),
            Value::Bytes(b) => b.clone(),
            Value::MechList(m) => Zeroizing::new(m.iter().flat_map(|u| u.to_ne_bytes()).collect()),
            Value::Template(_) => self.encode(),
        }
    }

    /// A self-delimiting encoding for storage and comparison. Templates are
    /// `count:u32 | (type:u64 kind:u8 len:u32 value)*`, recursively.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        match self {
            Value::Template(t) => {
                let mut out = Zeroizing::new(Vec::new());
                out.extend_from_slice(&(t.len() as u32).to_le_bytes());
                for a in t {
                    let inner = a.value.encode();
                    out.extend_from_slice(&a.atype.to_le_bytes());
                    out.push(a.value.kind_tag());
                    out.extend_from_slice(&(inner.len() as u32).to_le_bytes());
                    out.extend_from_slice(&inner);
                }
                out
            }
            _ => self.to_c(),
        }
    }

    /// Inverse of `encode` for a known kind.
    pub fn decode(kind: Kind, raw: &[u8]) -> Result<Value> {
        if kind != Kind::Template {
            return Value::from_c(kind, raw);
        }
        let bad = || Error::general("stored template is malformed");
        let mut r = raw;
        let mut take = |n: usize| -> Result<&[u8]> {
            if r.len() < n {
                return Err(bad());
            }
            let (a, b) = r.split_at(n);
            r = b;
            Ok(a)
        };
        let count = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?);
        let mut out = Vec::new();
        for _ in 0..count {
            let atype = u64::from_le_bytes(take(8)?.try_into().map_err(|_| bad())?) as AttrType;
            let tag = take(1)?[0];
            let len = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
            let kind = Kind::from_tag(tag).ok_or_else(bad)?;
            out.push(Attribute { atype, value: Value::decode(kind, take(len)?)? });
        }
        Ok(Value::Template(out))
    }

    fn kind_tag(&self) -> u8 {
        match self {
            Value::Bool(_) => 0,
            Value::Ulong(_) => 1,
            Value::Bytes(_) => 2,
            Value::Template(_) => 4,
            Value::MechList(_) => 5,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_ulong(&self) -> Option<Ulong> {
        match self {
            Value::Ulong(u) => Some(*u),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Size in bytes of the C representation (for C_GetAttributeValue and
    /// C_GetObjectSize).
    pub fn c_len(&self) -> usize {
        match self {
            Value::Bool(_) => 1,
            Value::Ulong(_) => ULONG_LEN,
            Value::Bytes(b) => b.len(),
            Value::MechList(m) => m.len() * ULONG_LEN,
            Value::Template(t) => t.len() * std::mem::size_of::<cryptoki_sys::CK_ATTRIBUTE>(),
        }
    }
}

impl Kind {
    fn from_tag(t: u8) -> Option<Kind> {
        Some(match t {
            0 => Kind::Bool,
            1 => Kind::Ulong,
            2 => Kind::Bytes,
            3 => Kind::Date,
            4 => Kind::Template,
            5 => Kind::MechList,
            _ => return None,
        })
    }
}

fn read_ulong(raw: &[u8]) -> Option<Ulong> {
    Some(Ulong::from_ne_bytes(raw.try_into().ok()?))
}

impl Attribute {
    pub fn new(atype: AttrType, value: Value) -> Attribute {
        Attribute { atype, value }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_lengths_are_checked() {
        assert_eq!(Value::from_c(Kind::Bool, &[1]).unwrap(), Value::Bool(true));
        assert_eq!(Value::from_c(Kind::Bool, &[1, 0]), Err(Error::AttributeValueInvalid));
        assert_eq!(Value::from_c(Kind::Ulong, &[1, 2, 3]), Err(Error::AttributeValueInvalid));
        assert_eq!(Value::from_c(Kind::Date, b"2026113"), Err(Error::AttributeValueInvalid));
        assert!(Value::from_c(Kind::Date, b"20261122").is_ok());
        assert_eq!(Value::from_c(Kind::MechList, &[0; 12]), Err(Error::AttributeValueInvalid));
    }

    #[test]
    fn templates_round_trip() {
        let t = Value::Template(vec![
            Attribute::new(0x100, Value::Ulong(0x1f)),
            Attribute::new(0x1, Value::Bool(true)),
            Attribute::new(0x3, Value::bytes(b"label".to_vec())),
            Attribute::new(0x600, Value::MechList(vec![1, 2])),
        ]);
        let enc = t.encode();
        assert_eq!(Value::decode(Kind::Template, &enc).unwrap(), t);
        assert!(Value::decode(Kind::Template, &enc[..enc.len() - 1]).is_err());
    }

    #[test]
    fn debug_never_shows_bytes() {
        let v = Value::bytes(vec![0xAB; 4]);
        assert_eq!(format!("{v:?}"), "<4 bytes>");
    }
}
