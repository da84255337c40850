//! X.509 certificate objects: the DER is read just far enough to fill in
//! CKA_SUBJECT, CKA_ISSUER and CKA_SERIAL_NUMBER when the caller leaves
//! them out; CKA_CHECK_VALUE is computed (first 3 bytes of SHA-1).

use cryptoki_sys as ck;
use sha1::{Digest, Sha1};

use crate::error::{Error, Result};
use crate::mech::keys::Attrs;
use crate::model::{Template, Value};

/// (serial INTEGER, issuer Name, subject Name) of an X.509 certificate,
/// each as DER (x509-cert's reader).
pub(crate) fn x509_names(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    use der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let tbs = cert.tbs_certificate();
    Some((tbs.serial_number().to_der().ok()?, tbs.issuer().to_der().ok()?, tbs.subject().to_der().ok()?))
}

/// What the token adds to a new X.509 certificate object.
pub(crate) fn cert_attrs(tmpl: &Template) -> Result<Attrs> {
    match tmpl.ulong(ck::CKA_CERTIFICATE_TYPE) {
        None => return Err(Error::TemplateIncomplete),
        Some(ck::CKC_X_509) => {}
        Some(_) => return Err(Error::AttributeValueInvalid),
    }
    let value = tmpl.bytes(ck::CKA_VALUE).ok_or(Error::TemplateIncomplete)?;
    if value.is_empty() {
        return Err(Error::AttributeValueInvalid);
    }
    let mut out: Attrs = Vec::new();
    let parsed = x509_names(value);
    let parsed = parsed.as_ref();
    for (t, i) in [(ck::CKA_SERIAL_NUMBER, 0), (ck::CKA_ISSUER, 1), (ck::CKA_SUBJECT, 2)] {
        if tmpl.contains(t) {
            continue;
        }
        match parsed {
            Some(p) => out.push((t, Value::bytes([&p.0, &p.1, &p.2][i].to_vec()))),
            // The spec requires CKA_SUBJECT; the others may stay empty.
            None if t == ck::CKA_SUBJECT => return Err(Error::TemplateIncomplete),
            None => {}
        }
    }
    let kcv = Sha1::digest(value)[..3].to_vec();
    if let Some(given) = tmpl.bytes(ck::CKA_CHECK_VALUE) {
        if !given.is_empty() && given != &kcv[..] {
            return Err(Error::AttributeValueInvalid);
        }
    }
    out.push((ck::CKA_CHECK_VALUE, Value::bytes(kcv)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_der_is_not_parsed() {
        assert!(x509_names(&[0x30, 0x82, 0x01]).is_none());
        assert!(x509_names(&[]).is_none());
    }
}
