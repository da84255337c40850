"""A few requests for tests/kms_api.rs to find in the audit trail: alice
makes a key, enc encrypts under it (allowed) and tries to decrypt
(denied), and a request with a wrong secret is refused."""

from kmstest import *

alice, enc = client("alice"), client("enc")
kid = alice.create_key(Description="audited")["KeyMetadata"]["KeyId"]
blob = enc.encrypt(KeyId=kid, Plaintext=b"audited data")["CiphertextBlob"]
denied(enc.decrypt, CiphertextBlob=blob)
ak, sk = creds("enc")
expect_raw("InvalidSignatureException", 400, send(signed("ListKeys", {}, access_key=ak, secret=sk[::-1])))
print(f"KEY {key_arn(kid)}")
check("audit")
