//! A caller's template, decoded once at the boundary.

use super::attr::{AttrType, Attribute, Ulong, Value};
use crate::error::{Error, Result};

#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct Template(pub Vec<Attribute>);

impl Template {
    pub fn new(attrs: Vec<Attribute>) -> Template {
        Template(attrs)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Attribute> {
        self.0.iter()
    }

    pub fn get(&self, t: AttrType) -> Option<&Value> {
        self.0.iter().find(|a| a.atype == t).map(|a| &a.value)
    }

    pub fn contains(&self, t: AttrType) -> bool {
        self.get(t).is_some()
    }

    pub fn bool(&self, t: AttrType) -> Option<bool> {
        self.get(t).and_then(Value::as_bool)
    }

    pub fn ulong(&self, t: AttrType) -> Option<Ulong> {
        self.get(t).and_then(Value::as_ulong)
    }

    pub fn bytes(&self, t: AttrType) -> Option<&[u8]> {
        self.get(t).and_then(Value::as_bytes)
    }

    pub fn push(&mut self, a: Attribute) {
        self.0.push(a)
    }

    /// The same attribute twice with different values is inconsistent; the
    /// same value twice is harmless.
    pub fn check_consistent(&self) -> Result<()> {
        for (i, a) in self.0.iter().enumerate() {
            if self.0[i + 1..].iter().any(|b| b.atype == a.atype && b.value != a.value) {
                return Err(Error::TemplateInconsistent);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_must_agree() {
        let t = Template::new(vec![Attribute::new(1, Value::Bool(true)), Attribute::new(1, Value::Bool(true))]);
        assert!(t.check_consistent().is_ok());
        let t = Template::new(vec![Attribute::new(1, Value::Bool(true)), Attribute::new(1, Value::Bool(false))]);
        assert_eq!(t.check_consistent(), Err(Error::TemplateInconsistent));
    }
}
