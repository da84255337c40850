"""Asymmetric and HMAC keys and imported key material through boto3, every
result checked from outside the server with the `cryptography` package
(which the Encryption SDK brings): signatures verified against
GetPublicKey, RSA-OAEP ciphertexts made outside and opened inside, key
pairs whose private half decrypts from their blob, and material wrapped
outside for ImportKeyMaterial."""

import datetime
import hashlib
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import (Encoding, PublicFormat, load_der_private_key,
                                                          load_der_public_key)

from kmstest import *

kms = client("alice")
HASH = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


def public(kid):
    return load_der_public_key(kms.get_public_key(KeyId=kid)["PublicKey"])


# Sign/Verify: every key spec and every signing algorithm it offers, RAW and DIGEST.
signing = {
    "ECC_NIST_P256": ["ECDSA_SHA_256"],
    "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"],
    "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
    "RSA_2048": ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
                 "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"],
}
for spec, algs in signing.items():
    md = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert md["KeySpec"] == spec and md["KeyUsage"] == "SIGN_VERIFY", md
    assert md["SigningAlgorithms"] == algs, md
    kid = md["KeyId"]
    pk = kms.get_public_key(KeyId=kid)
    assert pk["KeySpec"] == spec and pk["SigningAlgorithms"] == algs, pk
    pub = load_der_public_key(pk["PublicKey"])
    for alg in algs:
        h = HASH[alg[-3:]]
        msg = b"message for " + alg.encode()
        sig = kms.sign(KeyId=kid, Message=msg, SigningAlgorithm=alg)["Signature"]
        if spec.startswith("ECC"):
            pub.verify(sig, msg, ec.ECDSA(h))
        elif "PSS" in alg:
            pub.verify(sig, msg, padding.PSS(padding.MGF1(h), h.digest_size), h)
        else:
            pub.verify(sig, msg, padding.PKCS1v15(), h)
        assert kms.verify(KeyId=kid, Message=msg, Signature=sig, SigningAlgorithm=alg)["SignatureValid"]
        digest = hashlib.new(h.name, msg).digest()
        sig2 = kms.sign(KeyId=kid, Message=digest, MessageType="DIGEST", SigningAlgorithm=alg)["Signature"]
        assert kms.verify(KeyId=kid, Message=msg, Signature=sig2, SigningAlgorithm=alg)["SignatureValid"]
        error("KMSInvalidSignatureException", kms.verify, KeyId=kid, Message=b"other", Signature=sig,
              SigningAlgorithm=alg)
        error("ValidationException", kms.sign, KeyId=kid, Message=digest[:-1], MessageType="DIGEST",
              SigningAlgorithm=alg)
    error("InvalidKeyUsageException", kms.encrypt, KeyId=kid, Plaintext=b"x")
    error("InvalidKeyUsageException", kms.sign, KeyId=kid, Message=b"x", SigningAlgorithm="HMAC_SHA_256")
    error("UnsupportedOperationException", kms.enable_key_rotation, KeyId=kid)

# RSA encryption: OAEP with SHA-1 and SHA-256, made outside and inside.
for spec in ["RSA_2048", "RSA_3072", "RSA_4096"]:
    md = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert md["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"], md
    kid = md["KeyId"]
    pub = public(kid)
    for alg, h in [("RSAES_OAEP_SHA_1", hashes.SHA1()), ("RSAES_OAEP_SHA_256", hashes.SHA256())]:
        outside = pub.encrypt(b"from outside", padding.OAEP(padding.MGF1(h), h, None))
        r = kms.decrypt(KeyId=kid, CiphertextBlob=outside, EncryptionAlgorithm=alg)
        assert r["Plaintext"] == b"from outside" and r["EncryptionAlgorithm"] == alg, r
        inside = kms.encrypt(KeyId=kid, Plaintext=b"from inside", EncryptionAlgorithm=alg)["CiphertextBlob"]
        assert kms.decrypt(KeyId=kid, CiphertextBlob=inside, EncryptionAlgorithm=alg)["Plaintext"] == b"from inside"
    error("InvalidKeyUsageException", kms.encrypt, KeyId=kid, Plaintext=b"x", EncryptionAlgorithm="SYMMETRIC_DEFAULT")
    error("InvalidCiphertextException", kms.decrypt, KeyId=kid, CiphertextBlob=os.urandom(len(outside)),
          EncryptionAlgorithm="RSAES_OAEP_SHA_256")

# HMAC keys.
for spec, alg, n in [("HMAC_224", "HMAC_SHA_224", 28), ("HMAC_256", "HMAC_SHA_256", 32),
                     ("HMAC_384", "HMAC_SHA_384", 48), ("HMAC_512", "HMAC_SHA_512", 64)]:
    md = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    assert md["MacAlgorithms"] == [alg], md
    kid = md["KeyId"]
    mac = kms.generate_mac(KeyId=kid, Message=b"m", MacAlgorithm=alg)["Mac"]
    assert len(mac) == n
    assert mac == kms.generate_mac(KeyId=kid, Message=b"m", MacAlgorithm=alg)["Mac"]
    assert kms.verify_mac(KeyId=kid, Message=b"m", Mac=mac, MacAlgorithm=alg)["MacValid"]
    error("KMSInvalidMacException", kms.verify_mac, KeyId=kid, Message=b"n", Mac=mac, MacAlgorithm=alg)
    error("UnsupportedOperationException", kms.get_public_key, KeyId=kid)

# GenerateDataKeyPair: the private key decrypts from its blob and matches the public key.
sym = kms.create_key()["KeyMetadata"]["KeyId"]
for spec in ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_SECG_P256K1"]:
    p = kms.generate_data_key_pair(KeyId=sym, KeyPairSpec=spec, EncryptionContext={"k": spec})
    assert p["KeyPairSpec"] == spec and p["KeyId"] == key_arn(sym), p
    priv = kms.decrypt(CiphertextBlob=p["PrivateKeyCiphertextBlob"], EncryptionContext={"k": spec})["Plaintext"]
    assert priv == p["PrivateKeyPlaintext"]
    key = load_der_private_key(priv, None)
    assert key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == p["PublicKey"]
    w = kms.generate_data_key_pair_without_plaintext(KeyId=sym, KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in w and w["PublicKey"]

# Bring your own key.
md = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]
kid = md["KeyId"]
assert md["KeyState"] == "PendingImport" and md["Origin"] == "EXTERNAL", md
error("KMSInvalidStateException", kms.encrypt, KeyId=kid, Plaintext=b"x")
error("KMSInvalidStateException", kms.enable_key, KeyId=kid)
material = os.urandom(32)


def wrap(params, mat, alg):
    h = hashes.SHA256() if alg.endswith("256") else hashes.SHA1()
    return load_der_public_key(params["PublicKey"]).encrypt(mat, padding.OAEP(padding.MGF1(h), h, None))


for spec in ["RSA_2048", "RSA_3072", "RSA_4096"]:
    p = kms.get_parameters_for_import(KeyId=kid, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec=spec)
    assert load_der_public_key(p["PublicKey"]).key_size == int(spec[4:])
params = kms.get_parameters_for_import(KeyId=kid, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
error("InvalidCiphertextException", kms.import_key_material, KeyId=kid, ImportToken=params["ImportToken"],
      EncryptedKeyMaterial=os.urandom(256), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
kms.import_key_material(KeyId=kid, ImportToken=params["ImportToken"],
                        EncryptedKeyMaterial=wrap(params, material, "RSAES_OAEP_SHA_256"),
                        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
blob = kms.encrypt(KeyId=kid, Plaintext=b"imported", EncryptionContext={"a": "b"})["CiphertextBlob"]
# The token is spent.
error("InvalidImportTokenException", kms.import_key_material, KeyId=kid, ImportToken=params["ImportToken"],
      EncryptedKeyMaterial=wrap(params, material, "RSAES_OAEP_SHA_256"), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
kms.delete_imported_key_material(KeyId=kid)
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingImport"
error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "b"})
params = kms.get_parameters_for_import(KeyId=kid, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_3072")
error("IncorrectKeyMaterialException", kms.import_key_material, KeyId=kid, ImportToken=params["ImportToken"],
      EncryptedKeyMaterial=wrap(params, os.urandom(32), "RSAES_OAEP_SHA_1"), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
params = kms.get_parameters_for_import(KeyId=kid, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_3072")
kms.import_key_material(KeyId=kid, ImportToken=params["ImportToken"],
                        EncryptedKeyMaterial=wrap(params, material, "RSAES_OAEP_SHA_1"),
                        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"imported"
error("UnsupportedOperationException", kms.enable_key_rotation, KeyId=kid)
error("UnsupportedOperationException", kms.get_parameters_for_import, KeyId=sym,
      WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
error("UnsupportedOperationException", kms.import_key_material, KeyId=kid, ImportToken=params["ImportToken"],
      EncryptedKeyMaterial=b"x" * 256, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=datetime.datetime(2030, 1, 1))
print("asymmetric ok")
