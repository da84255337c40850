//! Secret key generation and key check values.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use cryptoki_sys as ck;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::Ulong;
use crate::sys::rand::random;

/// Secret key types this module stores and the length rule for each.
pub fn check_secret_len(key_type: Ulong, len: usize) -> Result<()> {
    let ok = match key_type {
        ck::CKK_AES => matches!(len, 16 | 24 | 32),
        ck::CKK_CHACHA20 => len == 32,
        ck::CKK_DES | ck::CKK_DES2 | ck::CKK_DES3 => super::des::key_len(key_type) == Some(len),
        ck::CKK_GENERIC_SECRET
        | ck::CKK_HKDF
        | ck::CKK_SHA_1_HMAC
        | ck::CKK_SHA224_HMAC
        | ck::CKK_SHA256_HMAC
        | ck::CKK_SHA384_HMAC
        | ck::CKK_SHA512_HMAC
        | ck::CKK_SHA3_224_HMAC
        | ck::CKK_SHA3_256_HMAC
        | ck::CKK_SHA3_384_HMAC
        | ck::CKK_SHA3_512_HMAC => (1..=512).contains(&len),
        // A PKCS#8 private key (RSA up to 4096 bits).
        crate::vendor::CKK_FHSM_KMS_ASYMMETRIC => (1..=8192).contains(&len),
        _ => return Err(Error::AttributeValueInvalid),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::AttributeValueInvalid)
    }
}

/// The key type a PKCS#11 3.0 HMAC key-generation mechanism makes.
pub fn hmac_key_type(m: crate::model::MechType) -> Option<Ulong> {
    Some(match m {
        ck::CKM_SHA_1_KEY_GEN => ck::CKK_SHA_1_HMAC,
        ck::CKM_SHA224_KEY_GEN => ck::CKK_SHA224_HMAC,
        ck::CKM_SHA256_KEY_GEN => ck::CKK_SHA256_HMAC,
        ck::CKM_SHA384_KEY_GEN => ck::CKK_SHA384_HMAC,
        ck::CKM_SHA512_KEY_GEN => ck::CKK_SHA512_HMAC,
        ck::CKM_SHA3_224_KEY_GEN => ck::CKK_SHA3_224_HMAC,
        ck::CKM_SHA3_256_KEY_GEN => ck::CKK_SHA3_256_HMAC,
        ck::CKM_SHA3_384_KEY_GEN => ck::CKK_SHA3_384_HMAC,
        ck::CKM_SHA3_512_KEY_GEN => ck::CKK_SHA3_512_HMAC,
        _ => return None,
    })
}

/// Fresh key bytes from the OS generator.
pub fn random_key(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut k = Zeroizing::new(vec![0u8; len]);
    random(&mut k)?;
    Ok(k)
}

/// CKA_CHECK_VALUE: AES and DES keys encrypt a zero block (first 3 bytes); other
/// secret keys use the first 3 bytes of SHA-1 of the value (PKCS#11 3.0).
/// The length is checked here too (`check_secret_len`): no caller is
/// trusted to have done it.
pub fn check_value(key_type: Ulong, key: &[u8]) -> Result<Vec<u8>> {
    check_secret_len(key_type, key.len())?;
    Ok(match key_type {
        ck::CKK_AES => {
            let mut block = [0u8; 16].into();
            match key.len() {
                16 => aes::Aes128::new_from_slice(key)
                    .map_err(|_| Error::AttributeValueInvalid)?
                    .encrypt_block(&mut block),
                24 => aes::Aes192::new_from_slice(key)
                    .map_err(|_| Error::AttributeValueInvalid)?
                    .encrypt_block(&mut block),
                32 => aes::Aes256::new_from_slice(key)
                    .map_err(|_| Error::AttributeValueInvalid)?
                    .encrypt_block(&mut block),
                _ => return Err(Error::AttributeValueInvalid),
            }
            block[..3].to_vec()
        }
        ck::CKK_DES | ck::CKK_DES2 | ck::CKK_DES3 => super::des::check_value(key)?,
        // aws-lc's SHA-1 (the hardware's SHA extensions where there are).
        _ => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, key).as_ref()[..3].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_check_value_matches_fips197_vector() {
        // FIPS-197 C.3: AES-256 key 00..1f; its check value is the first 3
        // bytes of E(K, 0^128), computed independently with OpenSSL:
        // `echo -n 00..00 | xxd -r -p | openssl enc -aes-256-ecb -K 0001..1f -nopad | xxd`
        let key: Vec<u8> = (0u8..32).collect();
        assert_eq!(check_value(ck::CKK_AES, &key).unwrap(), vec![0xf2, 0x90, 0x00]);
        assert_eq!(check_value(ck::CKK_AES, &key[..20]), Err(Error::AttributeValueInvalid));
    }

    #[test]
    fn lengths() {
        assert!(check_secret_len(ck::CKK_AES, 32).is_ok());
        assert_eq!(check_secret_len(ck::CKK_AES, 20), Err(Error::AttributeValueInvalid));
        assert!(check_secret_len(ck::CKK_DES3, 24).is_ok());
        assert_eq!(check_secret_len(ck::CKK_DES3, 16), Err(Error::AttributeValueInvalid));
        assert!(check_secret_len(ck::CKK_GENERIC_SECRET, 1).is_ok());
    }
}
