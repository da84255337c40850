//! Elliptic curves over aws-lc-sys: NIST P-256/384/521, secp256k1 and brainpool keys from a scalar
//! or a point, ECDSA over a caller's prehash with fixed-length r‖s output,
//! ECDH; Ed25519 and X25519 on raw 32-byte keys.

use std::ptr::{null, null_mut, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::bn::{to_be_padded, Bn};
use super::{ok, Failed, R};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
    /// SEC 2's secp256k1 (the KMS key spec ECC_SECG_P256K1).
    Secp256k1,
    /// RFC 5639's brainpool curves (aws-lc has them built in).
    BrainpoolP256r1,
    BrainpoolP384r1,
    BrainpoolP512r1,
    /// NIST P-192 (prime192v1): not among aws-lc's built-in groups, so
    /// built from its FIPS 186 domain parameters (`p192_group`).
    P192,
}

impl Curve {
    fn nid(self) -> i32 {
        match self {
            Curve::P256 => sys::NID_X9_62_prime256v1,
            Curve::P384 => sys::NID_secp384r1,
            Curve::P521 => sys::NID_secp521r1,
            Curve::Secp256k1 => sys::NID_secp256k1,
            Curve::BrainpoolP256r1 => sys::NID_brainpoolP256r1,
            Curve::BrainpoolP384r1 => sys::NID_brainpoolP384r1,
            Curve::BrainpoolP512r1 => sys::NID_brainpoolP512r1,
            Curve::P192 => sys::NID_X9_62_prime192v1,
        }
    }

    /// Bytes of a field element and of a scalar (equal for these curves).
    pub fn byte_len(self) -> usize {
        match self {
            Curve::P192 => 24,
            Curve::P256 | Curve::Secp256k1 | Curve::BrainpoolP256r1 => 32,
            Curve::P384 | Curve::BrainpoolP384r1 => 48,
            Curve::BrainpoolP512r1 => 64,
            Curve::P521 => 66,
        }
    }

    pub fn bits(self) -> usize {
        match self {
            Curve::P192 => 192,
            Curve::P256 | Curve::Secp256k1 | Curve::BrainpoolP256r1 => 256,
            Curve::P384 | Curve::BrainpoolP384r1 => 384,
            Curve::BrainpoolP512r1 => 512,
            Curve::P521 => 521,
        }
    }
}

pub struct EcKey(NonNull<sys::EC_KEY>);

// SAFETY: the key is not mutated after construction; aws-lc's ECDSA and ECDH
// only read it.
unsafe impl Send for EcKey {}
// SAFETY: as for Send: shared references only read the key.
unsafe impl Sync for EcKey {}

impl Drop for EcKey {
    fn drop(&mut self) {
        // SAFETY: we own one reference; EC_KEY_free wipes the scalar.
        unsafe { sys::EC_KEY_free(self.0.as_ptr()) }
    }
}

struct Point(NonNull<sys::EC_POINT>);

impl Drop for Point {
    fn drop(&mut self) {
        // SAFETY: we own the point.
        unsafe { sys::EC_POINT_free(self.0.as_ptr()) }
    }
}

struct Sig(NonNull<sys::ECDSA_SIG>);

impl Drop for Sig {
    fn drop(&mut self) {
        // SAFETY: we own the signature.
        unsafe { sys::ECDSA_SIG_free(self.0.as_ptr()) }
    }
}

/// A group aws-lc does not have built in, made once and never changed.
struct Group(NonNull<sys::EC_GROUP>);

// SAFETY: the group is immutable once built; aws-lc only reads it (keys
// take their own reference or copy).
unsafe impl Send for Group {}
// SAFETY: as for Send.
unsafe impl Sync for Group {}

/// P-192 from FIPS 186-4 D.1.2.1 (SEC 2 secp192r1): cofactor 1, which
/// aws-lc requires of a custom group.
fn p192_group() -> R<*const sys::EC_GROUP> {
    static GROUP: std::sync::OnceLock<Option<Group>> = std::sync::OnceLock::new();
    GROUP.get_or_init(|| build_p192().ok()).as_ref().map(|g| g.0.as_ptr() as *const _).ok_or(Failed)
}

fn build_p192() -> R<Group> {
    let h = |s: &str| -> R<Bn> {
        let b: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0)).collect();
        Bn::from_be(&b)
    };
    let p = h("fffffffffffffffffffffffffffffffeffffffffffffffff")?;
    let a = h("fffffffffffffffffffffffffffffffefffffffffffffffc")?;
    let b = h("64210519e59c80e70fa7e9ab72243049feb8deecc146b9b1")?;
    let gx = h("188da80eb03090f67cbf20eb43a18800f4ff0afd82ff1012")?;
    let gy = h("07192b95ffc8da78631011ed6b24cdd573f977a11e794811")?;
    let n = h("ffffffffffffffffffffffff99def836146bc9b1b4d22831")?;
    let one = h("01")?;
    // SAFETY: valid BIGNUMs; the group is ours until wrapped, freed on failure.
    let g = NonNull::new(unsafe { sys::EC_GROUP_new_curve_GFp(p.as_ptr(), a.as_ptr(), b.as_ptr(), null_mut()) })
        .ok_or(Failed)?;
    let group = Group(g);
    // SAFETY: a new point on the group, freed by `Point`; the generator is
    // checked to be on the curve, then copied into the group.
    unsafe {
        let gen = Point(NonNull::new(sys::EC_POINT_new(group.0.as_ptr())).ok_or(Failed)?);
        ok(sys::EC_POINT_set_affine_coordinates_GFp(
            group.0.as_ptr(),
            gen.0.as_ptr(),
            gx.as_ptr(),
            gy.as_ptr(),
            null_mut(),
        ))?;
        ok(sys::EC_GROUP_set_generator(group.0.as_ptr(), gen.0.as_ptr(), n.as_ptr(), one.as_ptr()))?;
    }
    Ok(group)
}

/// The built-in curve that explicit ECParameters (RFC 3279 / SEC 1
/// `specifiedCurve`) describe: aws-lc's parser accepts explicit parameters
/// only when they equal one of its built-in curves. Anything else,
/// trailing bytes included: `Failed`.
pub fn curve_of_explicit_params(der: &[u8]) -> R<Curve> {
    let mut cbs = std::mem::MaybeUninit::<sys::CBS>::zeroed();
    // SAFETY: the CBS borrows `der` for the duration of the parse; the
    // group returned (if any) is ours and wrapped at once.
    let g = unsafe {
        sys::CBS_init(cbs.as_mut_ptr(), der.as_ptr(), der.len());
        sys::EC_KEY_parse_parameters(cbs.as_mut_ptr())
    };
    let group = Group(NonNull::new(g).ok_or(Failed)?);
    // SAFETY: the CBS was initialised above.
    if unsafe { sys::CBS_len(cbs.as_ptr()) } != 0 {
        return Err(Failed);
    }
    // SAFETY: a valid group, read only.
    let nid = unsafe { sys::EC_GROUP_get_curve_name(group.0.as_ptr()) };
    [
        Curve::P256,
        Curve::P384,
        Curve::P521,
        Curve::Secp256k1,
        Curve::BrainpoolP256r1,
        Curve::BrainpoolP384r1,
        Curve::BrainpoolP512r1,
    ]
    .into_iter()
    .find(|c| c.nid() == nid)
    .ok_or(Failed)
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: we own the group (P-192's is never dropped once built;
        // a failed build's and a parsed one's are).
        unsafe { sys::EC_GROUP_free(self.0.as_ptr()) }
    }
}

impl EcKey {
    fn empty(curve: Curve) -> R<EcKey> {
        if curve == Curve::P192 {
            // SAFETY: a fresh key; set_group takes its own reference to the group.
            let k = EcKey(NonNull::new(unsafe { sys::EC_KEY_new() }).ok_or(Failed)?);
            // SAFETY: valid key and group.
            ok(unsafe { sys::EC_KEY_set_group(k.0.as_ptr(), p192_group()?) })?;
            return Ok(k);
        }
        // SAFETY: a fresh key on a built-in group.
        NonNull::new(unsafe { sys::EC_KEY_new_by_curve_name(curve.nid()) }).map(EcKey).ok_or(Failed)
    }

    pub(super) fn adopt(p: *mut sys::EC_KEY) -> R<EcKey> {
        NonNull::new(p).map(EcKey).ok_or(Failed)
    }

    pub(super) fn as_ptr(&self) -> *mut sys::EC_KEY {
        self.0.as_ptr()
    }

    fn group(&self) -> *const sys::EC_GROUP {
        // SAFETY: valid key; the group is static (or, for P-192, held by
        // the key for its lifetime).
        unsafe { sys::EC_KEY_get0_group(self.0.as_ptr()) }
    }

    pub fn curve(&self) -> R<Curve> {
        // SAFETY: static group.
        match unsafe { sys::EC_GROUP_get_curve_name(self.group()) } {
            sys::NID_X9_62_prime256v1 => Ok(Curve::P256),
            sys::NID_secp384r1 => Ok(Curve::P384),
            sys::NID_secp521r1 => Ok(Curve::P521),
            sys::NID_secp256k1 => Ok(Curve::Secp256k1),
            sys::NID_brainpoolP256r1 => Ok(Curve::BrainpoolP256r1),
            sys::NID_brainpoolP384r1 => Ok(Curve::BrainpoolP384r1),
            sys::NID_brainpoolP512r1 => Ok(Curve::BrainpoolP512r1),
            // SAFETY: both groups valid; no context needed.
            sys::NID_undef if unsafe { sys::EC_GROUP_cmp(self.group(), p192_group()?, null_mut()) } == 0 => {
                Ok(Curve::P192)
            }
            _ => Err(Failed),
        }
    }

    pub fn generate(curve: Curve) -> R<EcKey> {
        let k = EcKey::empty(curve)?;
        // SAFETY: valid key with a group.
        ok(unsafe { sys::EC_KEY_generate_key(k.0.as_ptr()) })?;
        Ok(k)
    }

    fn point(&self, bytes: &[u8]) -> R<Point> {
        // SAFETY: a new point on our group, freed by `Point`.
        let p = Point(NonNull::new(unsafe { sys::EC_POINT_new(self.group()) }).ok_or(Failed)?);
        // SAFETY: reads `bytes.len()` bytes; rejects points not on the curve.
        ok(unsafe { sys::EC_POINT_oct2point(self.group(), p.0.as_ptr(), bytes.as_ptr(), bytes.len(), null_mut()) })?;
        Ok(p)
    }

    /// A public key from an uncompressed (or compressed) point.
    pub fn public(curve: Curve, point: &[u8]) -> R<EcKey> {
        let k = EcKey::empty(curve)?;
        let p = k.point(point)?;
        // SAFETY: the point is copied into the key, then the key is checked.
        unsafe {
            ok(sys::EC_KEY_set_public_key(k.0.as_ptr(), p.0.as_ptr()))?;
            ok(sys::EC_KEY_check_key(k.0.as_ptr()))?;
        }
        Ok(k)
    }

    /// A private key from its scalar; the public point is computed.
    pub fn private(curve: Curve, scalar: &[u8]) -> R<EcKey> {
        let k = EcKey::empty(curve)?;
        let d = Bn::from_be(scalar)?;
        // SAFETY: a new point on our group, freed by `Point`.
        let p = Point(NonNull::new(unsafe { sys::EC_POINT_new(k.group()) }).ok_or(Failed)?);
        // SAFETY: valid group, point and scalar; the scalar is copied into
        // the key (which rejects zero and out-of-range values), then checked.
        unsafe {
            ok(sys::EC_KEY_set_private_key(k.0.as_ptr(), d.as_ptr()))?;
            ok(sys::EC_POINT_mul(k.group(), p.0.as_ptr(), d.as_ptr(), null(), null(), null_mut()))?;
            ok(sys::EC_KEY_set_public_key(k.0.as_ptr(), p.0.as_ptr()))?;
            ok(sys::EC_KEY_check_key(k.0.as_ptr()))?;
        }
        Ok(k)
    }

    /// The private scalar, left-padded to the curve length.
    pub fn scalar(&self) -> R<Zeroizing<Vec<u8>>> {
        // SAFETY: valid key; NULL for a public key, which fails below.
        let d = unsafe { sys::EC_KEY_get0_private_key(self.0.as_ptr()) };
        if d.is_null() {
            return Err(Failed);
        }
        to_be_padded(d, self.curve()?.byte_len())
    }

    /// The public point, uncompressed (0x04 ‖ X ‖ Y).
    pub fn public_point(&self) -> R<Vec<u8>> {
        // SAFETY: valid key; the point belongs to it.
        let pt = unsafe { sys::EC_KEY_get0_public_key(self.0.as_ptr()) };
        if pt.is_null() {
            return Err(Failed);
        }
        let mut out = vec![0u8; 1 + 2 * self.curve()?.byte_len()];
        // SAFETY: `out` is exactly the uncompressed length.
        let n = unsafe {
            sys::EC_POINT_point2oct(
                self.group(),
                pt,
                sys::point_conversion_form_t::POINT_CONVERSION_UNCOMPRESSED,
                out.as_mut_ptr(),
                out.len(),
                null_mut(),
            )
        };
        if n != out.len() {
            return Err(Failed);
        }
        Ok(out)
    }

    /// ECDSA over a prehash (any length: aws-lc truncates to the order).
    /// The signature is r ‖ s, each padded to the curve length.
    pub fn sign(&self, digest: &[u8]) -> R<Vec<u8>> {
        let len = self.curve()?.byte_len();
        // SAFETY: reads `digest.len()` bytes; returns an owned signature.
        let sig = Sig(NonNull::new(unsafe { sys::ECDSA_do_sign(digest.as_ptr(), digest.len(), self.0.as_ptr()) })
            .ok_or(Failed)?);
        let (mut r, mut s) = (null(), null());
        // SAFETY: borrowed from `sig`, which outlives their use.
        unsafe { sys::ECDSA_SIG_get0(sig.0.as_ptr(), &mut r, &mut s) };
        let mut out = to_be_padded(r, len)?.to_vec();
        out.extend_from_slice(&to_be_padded(s, len)?);
        Ok(out)
    }

    /// Verifies r ‖ s over a prehash; the caller checked the length.
    pub fn verify(&self, digest: &[u8], rs: &[u8]) -> bool {
        let (r, s) = rs.split_at(rs.len() / 2);
        let (Ok(r), Ok(s)) = (Bn::from_be(r), Bn::from_be(s)) else { return false };
        // SAFETY: a new signature; set0 takes ownership of both BIGNUMs,
        // so ours are forgotten only after it succeeds.
        unsafe {
            let Some(sig) = NonNull::new(sys::ECDSA_SIG_new()).map(Sig) else { return false };
            if sys::ECDSA_SIG_set0(sig.0.as_ptr(), r.0.as_ptr(), s.0.as_ptr()) != 1 {
                return false;
            }
            std::mem::forget(r);
            std::mem::forget(s);
            sys::ECDSA_do_verify(digest.as_ptr(), digest.len(), sig.0.as_ptr(), self.0.as_ptr()) == 1
        }
    }

    /// ECDH: the x-coordinate of d·Q for the peer's point Q.
    pub fn ecdh(&self, peer: &[u8]) -> R<Zeroizing<Vec<u8>>> {
        let len = self.curve()?.byte_len();
        let q = self.point(peer)?;
        let mut out = Zeroizing::new(vec![0u8; len]);
        // SAFETY: `out` has field-length bytes; no KDF callback.
        let n = unsafe { sys::ECDH_compute_key(out.as_mut_ptr() as *mut _, len, q.0.as_ptr(), self.0.as_ptr(), None) };
        if n != len as i32 {
            return Err(Failed);
        }
        Ok(out)
    }
}

/// Ed25519 public key for a 32-byte private key (the RFC 8032 seed).
pub fn ed25519_public(seed: &[u8]) -> R<[u8; 32]> {
    let expanded = ed25519_expand(seed)?;
    let mut pk = [0u8; 32];
    pk.copy_from_slice(&expanded[32..]);
    Ok(pk)
}

/// aws-lc's 64-byte private form: seed ‖ public key.
fn ed25519_expand(seed: &[u8]) -> R<Zeroizing<[u8; 64]>> {
    if seed.len() != 32 {
        return Err(Failed);
    }
    let mut pk = [0u8; 32];
    let mut sk = Zeroizing::new([0u8; 64]);
    // SAFETY: fixed-size buffers of the lengths the API documents.
    unsafe { sys::ED25519_keypair_from_seed(pk.as_mut_ptr(), sk.as_mut_ptr(), seed.as_ptr()) };
    Ok(sk)
}

pub fn ed25519_sign(seed: &[u8], msg: &[u8]) -> R<Vec<u8>> {
    let sk = ed25519_expand(seed)?;
    let mut sig = vec![0u8; 64];
    // SAFETY: 64-byte signature and private key buffers.
    ok(unsafe { sys::ED25519_sign(sig.as_mut_ptr(), msg.as_ptr(), msg.len(), sk.as_ptr()) })?;
    Ok(sig)
}

pub fn ed25519_verify(public: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    if public.len() != 32 || sig.len() != 64 {
        return false;
    }
    // SAFETY: lengths checked above.
    unsafe { sys::ED25519_verify(msg.as_ptr(), msg.len(), sig.as_ptr(), public.as_ptr()) == 1 }
}

/// RFC 8032's Ed25519ctx (`prehash` false; the context must not be empty)
/// or Ed25519ph (SHA-512 of the message; any context) signature. The
/// context is at most 255 bytes.
pub fn ed25519_sign_ctx(seed: &[u8], msg: &[u8], prehash: bool, ctx: &[u8]) -> R<Vec<u8>> {
    if ctx.len() > 255 || (!prehash && ctx.is_empty()) {
        return Err(Failed);
    }
    let sk = ed25519_expand(seed)?;
    let mut sig = vec![0u8; 64];
    // SAFETY: 64-byte signature and private key buffers; message and
    // context passed with their lengths.
    ok(unsafe {
        if prehash {
            sys::ED25519ph_sign(sig.as_mut_ptr(), msg.as_ptr(), msg.len(), sk.as_ptr(), ctx.as_ptr(), ctx.len())
        } else {
            sys::ED25519ctx_sign(sig.as_mut_ptr(), msg.as_ptr(), msg.len(), sk.as_ptr(), ctx.as_ptr(), ctx.len())
        }
    })?;
    Ok(sig)
}

/// Verifies an Ed25519ctx or Ed25519ph signature (see `ed25519_sign_ctx`).
pub fn ed25519_verify_ctx(public: &[u8], msg: &[u8], sig: &[u8], prehash: bool, ctx: &[u8]) -> bool {
    if public.len() != 32 || sig.len() != 64 || ctx.len() > 255 || (!prehash && ctx.is_empty()) {
        return false;
    }
    // SAFETY: lengths checked above; message and context passed with theirs.
    unsafe {
        let (m, p, c) = (msg.as_ptr(), public.as_ptr(), ctx.as_ptr());
        if prehash {
            sys::ED25519ph_verify(m, msg.len(), sig.as_ptr(), p, c, ctx.len()) == 1
        } else {
            sys::ED25519ctx_verify(m, msg.len(), sig.as_ptr(), p, c, ctx.len()) == 1
        }
    }
}

pub fn x25519_public(private: &[u8]) -> R<[u8; 32]> {
    if private.len() != 32 {
        return Err(Failed);
    }
    let mut pk = [0u8; 32];
    // SAFETY: 32-byte buffers.
    unsafe { sys::X25519_public_from_private(pk.as_mut_ptr(), private.as_ptr()) };
    Ok(pk)
}

/// X25519; fails for an all-zero result (a low-order peer point).
pub fn x25519(private: &[u8], peer: &[u8]) -> R<Zeroizing<Vec<u8>>> {
    if private.len() != 32 || peer.len() != 32 {
        return Err(Failed);
    }
    let mut out = Zeroizing::new(vec![0u8; 32]);
    // SAFETY: 32-byte buffers.
    ok(unsafe { sys::X25519(out.as_mut_ptr(), private.as_ptr(), peer.as_ptr()) })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_and_ecdh_round_trip() {
        for c in [
            Curve::P192,
            Curve::P256,
            Curve::P384,
            Curve::P521,
            Curve::BrainpoolP256r1,
            Curve::BrainpoolP384r1,
            Curve::BrainpoolP512r1,
        ] {
            let k = EcKey::generate(c).unwrap();
            let again = EcKey::private(c, &k.scalar().unwrap()).unwrap();
            assert_eq!(again.public_point().unwrap(), k.public_point().unwrap());
            let public = EcKey::public(c, &k.public_point().unwrap()).unwrap();
            let sig = again.sign(&[1u8; 32]).unwrap();
            assert_eq!(sig.len(), 2 * c.byte_len());
            assert!(public.verify(&[1u8; 32], &sig));
            assert!(!public.verify(&[2u8; 32], &sig));
            let other = EcKey::generate(c).unwrap();
            assert_eq!(
                &k.ecdh(&other.public_point().unwrap()).unwrap()[..],
                &other.ecdh(&k.public_point().unwrap()).unwrap()[..]
            );
        }
        assert!(EcKey::public(Curve::P256, &[4u8; 65]).is_err());
    }

    #[test]
    fn rfc8032_test_1() {
        // RFC 8032 §7.1 TEST 1 (empty message).
        let h = |s: &str| {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        let sk = h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let pk = h("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let sig = h("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
        assert_eq!(ed25519_public(&sk).unwrap().to_vec(), pk);
        assert_eq!(ed25519_sign(&sk, b"").unwrap(), sig);
        assert!(ed25519_verify(&pk, b"", &sig));
        assert!(!ed25519_verify(&pk, b"x", &sig));
    }

    #[test]
    fn rfc7748_x25519() {
        // RFC 7748 §6.1.
        let h = |s: &str| {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        let a = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let b_pub = h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(
            x25519_public(&a).unwrap().to_vec(),
            h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(x25519(&a, &b_pub).unwrap().to_vec(), shared);
    }
}
