//! C_GenerateKey for secret keys, C_GenerateRandom, C_SeedRandom.

use super::Sessions;
use cryptoki_sys as ck;

use super::newobj;
use super::{ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::{keygen, registry};
use crate::model::{policy, Mechanism, Param, Template};
use crate::sys::rand::random;

/// CKM_DSA_PARAMETER_GEN / CKM_DH_PKCS_PARAMETER_GEN: new domain
/// parameters of CKA_PRIME_BITS (a CKO_DOMAIN_PARAMETERS object).
fn domain_params(
    mech: &Mechanism,
    entry: &registry::Entry,
    tmpl: &Template,
    is_so: bool,
) -> Result<crate::model::Object> {
    let kt = if mech.mtype == ck::CKM_DSA_PARAMETER_GEN { ck::CKK_DSA } else { ck::CKK_DH };
    if tmpl.ulong(ck::CKA_CLASS).is_some_and(|c| c != ck::CKO_DOMAIN_PARAMETERS)
        || tmpl.ulong(ck::CKA_KEY_TYPE).is_some_and(|k| k != kt)
    {
        return Err(Error::TemplateInconsistent);
    }
    let checked = newobj::Checked::new(policy::DOMAIN, tmpl, is_so)?;
    let bits = tmpl.ulong(ck::CKA_PRIME_BITS).ok_or(Error::TemplateIncomplete)?;
    if bits < entry.min_key || bits > entry.max_key {
        return Err(Error::KeySizeRange);
    }
    // aws-lc rounds DSA sizes to multiples of 64 bits; other sizes are
    // refused.
    if kt == ck::CKK_DSA && bits % 64 != 0 {
        return Err(Error::KeySizeRange);
    }
    let made = crate::mech::dlog::generate_params(kt, bits as u32)?;
    newobj::domain_params(&checked, Some(&made))
}

impl Sessions<'_> {
    pub fn generate_key(&self, h: SessionHandle, mech: &Mechanism, tmpl: &Template) -> Result<ObjectHandle> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let entry = registry::for_operation(mech.mtype, ck::CKF_GENERATE)?;
        if !matches!(mech.param, Param::None) {
            return Err(Error::MechanismParamInvalid);
        }
        if matches!(mech.mtype, ck::CKM_DSA_PARAMETER_GEN | ck::CKM_DH_PKCS_PARAMETER_GEN) {
            let obj = domain_params(mech, entry, tmpl, a.is_so())?;
            return self.m.objects().store_new(&a, &s, obj);
        }
        if tmpl.ulong(ck::CKA_CLASS).is_some_and(|c| c != ck::CKO_SECRET_KEY) {
            return Err(Error::TemplateInconsistent);
        }
        let key_type = match (mech.mtype, tmpl.ulong(ck::CKA_KEY_TYPE)) {
            (ck::CKM_AES_KEY_GEN, None | Some(ck::CKK_AES)) => ck::CKK_AES,
            (ck::CKM_GENERIC_SECRET_KEY_GEN, None) => ck::CKK_GENERIC_SECRET,
            (ck::CKM_GENERIC_SECRET_KEY_GEN, Some(kt)) if kt != ck::CKK_AES && kt != ck::CKK_CHACHA20 => kt,
            (ck::CKM_CHACHA20_KEY_GEN, None | Some(ck::CKK_CHACHA20)) => ck::CKK_CHACHA20,
            (ck::CKM_HKDF_KEY_GEN, None | Some(ck::CKK_HKDF)) => ck::CKK_HKDF,
            (ck::CKM_DES_KEY_GEN, None | Some(ck::CKK_DES)) => ck::CKK_DES,
            (ck::CKM_DES2_KEY_GEN, None | Some(ck::CKK_DES2)) => ck::CKK_DES2,
            (ck::CKM_DES3_KEY_GEN, None | Some(ck::CKK_DES3)) => ck::CKK_DES3,
            // The 3.0 HMAC key generations: each makes its own key type.
            (m, given) if keygen::hmac_key_type(m).is_some() => {
                let kt = keygen::hmac_key_type(m).expect("checked by the guard");
                if given.is_some_and(|g| g != kt) {
                    return Err(Error::TemplateInconsistent);
                }
                kt
            }
            _ => return Err(Error::TemplateInconsistent),
        };
        if tmpl.contains(ck::CKA_VALUE) || tmpl.contains(ck::CKA_CHECK_VALUE) {
            return Err(Error::TemplateInconsistent);
        }
        let checked = newobj::Checked::new(policy::SECRET, tmpl, a.is_so())?;
        if let Some(n) = crate::mech::des::key_len(key_type) {
            // A DES key's length is its type's; CKA_VALUE_LEN is not one of
            // its attributes, though a matching one is let through.
            if tmpl.ulong(ck::CKA_VALUE_LEN).is_some_and(|l| l != n as u64) {
                return Err(Error::TemplateInconsistent);
            }
            let value = crate::mech::des::generate(key_type)?;
            let obj = newobj::secret_key(&checked, key_type, value, Some(mech.mtype))?;
            return self.m.objects().store_new(&a, &s, obj);
        }
        // A ChaCha20 key has one size: CKA_VALUE_LEN may be left out.
        let len = match tmpl.ulong(ck::CKA_VALUE_LEN) {
            None if key_type == ck::CKK_CHACHA20 => 32,
            l => l.ok_or(Error::TemplateIncomplete)?,
        };
        if len < entry.min_key || len > entry.max_key {
            return Err(Error::KeySizeRange);
        }
        let len = len as usize;
        keygen::check_secret_len(key_type, len).map_err(|_| Error::KeySizeRange)?;
        let value = keygen::random_key(len)?;
        let kms = if tmpl.bool(crate::vendor::CKA_FHSM_KMS) == Some(true) {
            super::kms::new_key_attrs(tmpl, key_type, &value)?
        } else {
            Vec::new()
        };
        let mut obj = newobj::secret_key(&checked, key_type, value, Some(mech.mtype))?;
        for (t, v) in kms {
            obj.set(t, v);
        }
        self.m.objects().store_new(&a, &s, obj)
    }

    pub fn generate_random(&self, h: SessionHandle, out: &mut [u8]) -> Result<()> {
        self.m.session(h)?;
        random(out)
    }

    /// C_SeedRandom: the bytes are mixed into the generator as additional
    /// input; OS entropy stays its source (see `sys::rand::seed`).
    pub fn seed_random(&self, h: SessionHandle, seed: &[u8]) -> Result<()> {
        self.m.session(h)?;
        crate::sys::rand::seed(seed)
    }
}
