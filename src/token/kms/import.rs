//! Bring your own key: GetParametersForImport makes an RSA wrapping key
//! pair for one KMS key (origin EXTERNAL) and keeps its private half as a
//! token document (IMPORT_APPLICATION, named by the import token, sealed
//! like every private object) for 24 hours; ImportKeyMaterial opens the
//! caller's RSAES-OAEP-wrapped 256-bit material with it and makes it the
//! key's version 1; DeleteImportedKeyMaterial takes it away again.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::asym::oaep;
use super::Change;
use crate::error::{Error, Result};
use crate::mech::keys::Key;
use crate::token::Kms;
use crate::token::{clock, SessionHandle};
use crate::vendor::{FHSM_STATE_PENDING_IMPORT, IMPORT_APPLICATION};

/// How long import parameters stay valid, as in KMS.
pub const IMPORT_VALIDITY: u64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Pending {
    /// The key's uid, hex.
    key: String,
    algorithm: String,
    /// The wrapping private key, PKCS#8, base64.
    private: String,
    valid_to: u64,
}

impl Drop for Pending {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.private.zeroize();
    }
}

/// Import parameters: the token, the wrapping public key (SPKI), the time
/// they expire.
pub struct ImportParameters {
    pub token: String,
    pub public_key: Vec<u8>,
    pub valid_to: u64,
}

impl Kms<'_> {
    /// GetParametersForImport for a key awaiting material: `algorithm`
    /// RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256, `bits` 2048, 3072 or 4096.
    pub fn import_parameters(
        &self,
        h: SessionHandle,
        key_id: &str,
        algorithm: &str,
        bits: u32,
    ) -> Result<ImportParameters> {
        let a = self.access(h)?;
        let k = self.key(&a, key_id)?;
        if k.obj.bytes(crate::vendor::CKA_FHSM_ORIGIN) != Some(b"EXTERNAL") {
            return Err(Error::FunctionNotSupported);
        }
        if k.state() != FHSM_STATE_PENDING_IMPORT {
            super::state_check(&k.obj)?;
            return Err(Error::KmsKeyPendingDeletion);
        }
        oaep(algorithm).map_err(|_| Error::MechanismInvalid)?;
        if ![2048, 3072, 4096].contains(&bits) {
            return Err(Error::KeySizeRange);
        }
        let pair = Key::generate_rsa(bits, &[1, 0, 1])?;
        let now = clock::now();
        let mut raw = [0u8; 16];
        crate::sys::rand::random(&mut raw)?;
        let token = crate::hex::hex(&raw);
        let doc = Pending {
            key: k.key_id(),
            algorithm: algorithm.into(),
            private: base64::engine::general_purpose::STANDARD.encode(&pair.pkcs8()?[..]),
            valid_to: now + IMPORT_VALIDITY,
        };
        let body = Zeroizing::new(serde_json::to_vec(&doc).map_err(|e| Error::general(e.to_string()))?);
        // Parameters that expired are dropped as new ones are made.
        for (name, b) in self.docs(h, IMPORT_APPLICATION)? {
            if serde_json::from_slice::<Pending>(&b).map_or(true, |p| p.valid_to <= now) {
                let _ = self.delete_doc(h, IMPORT_APPLICATION, &name, "expire-import-parameters");
            }
        }
        self.put_doc(h, IMPORT_APPLICATION, &token, &body, true, "get-import-parameters")?;
        Ok(ImportParameters { token, public_key: pair.spki()?, valid_to: doc.valid_to })
    }

    /// ImportKeyMaterial: opens `wrapped` with the parameters `token`
    /// names (for this key, unexpired) and makes the material version 1.
    pub fn import_material(&self, h: SessionHandle, key_id: &str, token: &str, wrapped: &[u8]) -> Result<()> {
        let a = self.access(h)?;
        let k = self.key(&a, key_id)?;
        let body = self
            .docs(h, IMPORT_APPLICATION)?
            .into_iter()
            .find(|(n, _)| n == token)
            .ok_or(Error::KmsImportTokenInvalid)?
            .1;
        let p: Pending = serde_json::from_slice(&body).map_err(|_| Error::KmsImportTokenInvalid)?;
        if p.key != k.key_id() || p.valid_to <= clock::now() {
            return Err(Error::KmsImportTokenInvalid);
        }
        let der = Zeroizing::new(
            base64::engine::general_purpose::STANDARD.decode(&p.private).map_err(|_| Error::KmsImportTokenInvalid)?,
        );
        let pair = Key::from_pkcs8(&der).map_err(|_| Error::KmsImportTokenInvalid)?;
        let material = oaep(&p.algorithm)?.decrypt(&pair, wrapped).map_err(|_| Error::EncryptedDataInvalid)?;
        if material.len() != 32 {
            return Err(Error::KmsIncorrectMaterial);
        }
        let rw = self.rw_access(h)?;
        self.manage(&rw, "import-key-material", key_id, "", |k| self.change(&rw, k, Change::Import(material)))?;
        // The parameters are spent.
        let _ = self.delete_doc(h, IMPORT_APPLICATION, token, "spend-import-parameters");
        Ok(())
    }

    /// DeleteImportedKeyMaterial.
    pub fn delete_material(&self, h: SessionHandle, key_id: &str) -> Result<()> {
        let a = self.rw_access(h)?;
        self.manage(&a, "delete-key-material", key_id, "", |k| self.change(&a, k, Change::DeleteMaterial))?;
        Ok(())
    }
}
