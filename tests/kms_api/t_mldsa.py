"""ML-DSA KMS keys through boto3 (whose botocore knows the ML_DSA key specs
and EXTERNAL_MU): CreateKey ML_DSA_44/65/87 with SIGN_VERIFY, the
ML_DSA_SHAKE_256 algorithm over RAW messages and externally computed mu,
GetPublicKey's SubjectPublicKeyInfo read and every signature verified
outside the server with the `cryptography` package, and the errors KMS
gives for what ML-DSA does not take."""

import hashlib

from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

from kmstest import *

kms = client("alice")
SIZES = {"ML_DSA_44": (1312, 2420, mldsa.MLDSA44PublicKey),
         "ML_DSA_65": (1952, 3309, mldsa.MLDSA65PublicKey),
         "ML_DSA_87": (2592, 4627, mldsa.MLDSA87PublicKey)}


def mu(raw_public, message):
    """FIPS 204 section 6.2 with an empty context: SHAKE256(tr || 0 || 0 || M), tr = SHAKE256(pk)."""
    tr = hashlib.shake_256(raw_public).digest(64)
    return hashlib.shake_256(tr + b"\x00\x00" + message).digest(64)


for spec, (pk_len, sig_len, cls) in SIZES.items():
    md = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert md["KeySpec"] == spec and md["KeyUsage"] == "SIGN_VERIFY", md
    assert md["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"], md
    kid = md["KeyId"]
    pk = kms.get_public_key(KeyId=kid)
    assert pk["KeySpec"] == spec and pk["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"], pk
    pub = load_der_public_key(pk["PublicKey"])
    assert isinstance(pub, cls), type(pub)
    raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert len(raw) == pk_len

    msg = b"post-quantum message for " + spec.encode()
    sig = kms.sign(KeyId=kid, Message=msg, SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    assert len(sig) == sig_len
    pub.verify(sig, msg)
    explicit = kms.sign(KeyId=kid, Message=msg, MessageType="RAW", SigningAlgorithm="ML_DSA_SHAKE_256")
    pub.verify(explicit["Signature"], msg)
    assert kms.verify(KeyId=kid, Message=msg, Signature=sig, SigningAlgorithm="ML_DSA_SHAKE_256")["SignatureValid"]

    # EXTERNAL_MU: the 64-byte mu of a message of any size; the signature
    # verifies as one over the message itself, and both ways round.
    big = bytes(range(256)) * 64
    m = mu(raw, big)
    sig_mu = kms.sign(KeyId=kid, Message=m, MessageType="EXTERNAL_MU",
                      SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    pub.verify(sig_mu, big)
    assert kms.verify(KeyId=kid, Message=m, MessageType="EXTERNAL_MU", Signature=sig_mu,
                      SigningAlgorithm="ML_DSA_SHAKE_256")["SignatureValid"]
    assert kms.verify(KeyId=kid, Message=mu(raw, msg), MessageType="EXTERNAL_MU", Signature=sig,
                      SigningAlgorithm="ML_DSA_SHAKE_256")["SignatureValid"]

    # A signature over another message, or with a context, does not verify.
    error("KMSInvalidSignatureException", kms.verify, KeyId=kid, Message=b"other", Signature=sig,
          SigningAlgorithm="ML_DSA_SHAKE_256")
    error("KMSInvalidSignatureException", kms.verify, KeyId=kid, Message=msg, Signature=sig[:-1],
          SigningAlgorithm="ML_DSA_SHAKE_256")
    pub.verify(sig, msg)
    try:
        pub.verify(sig, msg, b"ctx")
        raise AssertionError("a context changes what is signed")
    except Exception as e:
        assert type(e).__name__ == "InvalidSignature", e

    # What ML-DSA does not take: DIGEST, a mu that is not 64 bytes, another
    # algorithm, a message over 4096 bytes.
    error("ValidationException", kms.sign, KeyId=kid, Message=hashlib.sha256(msg).digest(), MessageType="DIGEST",
          SigningAlgorithm="ML_DSA_SHAKE_256")
    error("ValidationException", kms.sign, KeyId=kid, Message=m[:32], MessageType="EXTERNAL_MU",
          SigningAlgorithm="ML_DSA_SHAKE_256")
    error("InvalidKeyUsageException", kms.sign, KeyId=kid, Message=msg, SigningAlgorithm="ECDSA_SHA_256")
    error("ValidationException", kms.sign, KeyId=kid, Message=big, SigningAlgorithm="ML_DSA_SHAKE_256")

# ML-DSA keys sign and verify only; EXTERNAL_MU is ML-DSA's only.
error("ValidationException", kms.create_key, KeySpec="ML_DSA_65", KeyUsage="ENCRYPT_DECRYPT")
ec_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
error("ValidationException", kms.sign, KeyId=ec_key, Message=bytes(64), MessageType="EXTERNAL_MU",
      SigningAlgorithm="ECDSA_SHA_256")
print("ok")
