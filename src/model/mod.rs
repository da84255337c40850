//! The object and attribute model: typed values, templates, objects, the
//! attribute-policy table and mechanisms.

pub mod attr;
pub mod mechanism;
pub mod object;
pub mod policy;
pub mod template;

pub use attr::{AttrType, Attribute, Kind, Ulong, Value};
pub use mechanism::{HkdfSalt, Kdf108Mode, MechType, Mechanism, Oaep, Param, PrfData};
pub use object::{Object, Read};
pub use template::Template;
