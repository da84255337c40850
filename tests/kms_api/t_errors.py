"""Each AWS error name the server answers, provoked through boto3 (and,
for what boto3 cannot send, raw requests signed by botocore's SigV4Auth)."""

import base64
import json

from kmstest import *

kms = client("alice")
kid = kms.create_key(Description="errors")["KeyMetadata"]["KeyId"]
arn = key_arn(kid)
kms.create_alias(AliasName="alias/errors", TargetKeyId=kid)
other = kms.create_key()["KeyMetadata"]["KeyId"]
blob = kms.encrypt(KeyId=kid, Plaintext=b"data", EncryptionContext={"k": "v"})["CiphertextBlob"]

# NotFoundException: unknown key id, ARN, alias, alias ARN; another account's or region's ARN; wrong policy name.
missing = "0b0c0d0e-1111-4222-8333-444455556666"
for f in [missing, key_arn(missing), "alias/nope", alias_arn("alias/nope"),
          f"arn:aws:kms:us-east-1:999999999999:key/{kid}", f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{kid}"]:
    e = error("NotFoundException", kms.describe_key, KeyId=f)
    assert e.response["Error"]["Message"], e.response
    error("NotFoundException", kms.encrypt, KeyId=f, Plaintext=b"x")
error("NotFoundException", kms.get_key_policy, KeyId=kid, PolicyName="other")
error("NotFoundException", kms.create_alias, AliasName="alias/x", TargetKeyId=missing)
error("NotFoundException", kms.delete_alias, AliasName="alias/never-made")
error("NotFoundException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"k": "v"}, KeyId=missing)

# DisabledException.
kms.disable_key(KeyId=kid)
error("DisabledException", kms.encrypt, KeyId=kid, Plaintext=b"x")
error("DisabledException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"k": "v"})
error("DisabledException", kms.generate_data_key, KeyId="alias/errors", KeySpec="AES_256")
error("DisabledException", kms.re_encrypt, CiphertextBlob=blob, SourceEncryptionContext={"k": "v"},
      DestinationKeyId=other)
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"  # describing still works
kms.enable_key(KeyId=kid)

# KMSInvalidStateException.
doomed = kms.create_key()["KeyMetadata"]["KeyId"]
doomed_blob = kms.encrypt(KeyId=doomed, Plaintext=b"x")["CiphertextBlob"]
error("KMSInvalidStateException", kms.cancel_key_deletion, KeyId=doomed)  # not pending
kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
error("KMSInvalidStateException", kms.encrypt, KeyId=doomed, Plaintext=b"x")
error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=doomed_blob)
error("KMSInvalidStateException", kms.enable_key, KeyId=doomed)
error("KMSInvalidStateException", kms.schedule_key_deletion, KeyId=doomed)
error("KMSInvalidStateException", kms.rotate_key_on_demand, KeyId=doomed)

# InvalidCiphertextException: wrong context, altered, truncated, garbage.
error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"k": "w"})
error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)
altered = bytearray(blob)
altered[-3] ^= 0x80
error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(altered), EncryptionContext={"k": "v"})
error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob[:-1], EncryptionContext={"k": "v"})
error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=b"\x01" * 100)
error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=b"x")
assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"data"  # the original still does

# IncorrectKeyException.
error("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"k": "v"}, KeyId=other)
error("IncorrectKeyException", kms.re_encrypt, CiphertextBlob=blob, SourceEncryptionContext={"k": "v"},
      SourceKeyId=other, DestinationKeyId=other)

# AlreadyExistsException.
error("AlreadyExistsException", kms.create_alias, AliasName="alias/errors", TargetKeyId=other)
assert kms.describe_key(KeyId="alias/errors")["KeyMetadata"]["KeyId"] == kid  # unchanged

# ValidationException: AWS's limits.
error("ValidationException", kms.encrypt, KeyId=kid, Plaintext=b"x" * 4097)
assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=kid, Plaintext=b"x" * 4096)["CiphertextBlob"])["Plaintext"] == b"x" * 4096
error("ValidationException", kms.encrypt, KeyId=kid, Plaintext=b"")
for n in (0, 1025, -1):
    error("ValidationException", kms.generate_random, NumberOfBytes=n)
    error("ValidationException", kms.generate_data_key, KeyId=kid, NumberOfBytes=n)
error("ValidationException", kms.generate_data_key, KeyId=kid)  # neither KeySpec nor NumberOfBytes
error("ValidationException", kms.generate_data_key, KeyId=kid, KeySpec="AES_256", NumberOfBytes=32)
error("ValidationException", kms.generate_data_key, KeyId=kid, KeySpec="AES_512")
tokens = [f"token{i}" for i in range(11)]
error("ValidationException", kms.encrypt, KeyId=kid, Plaintext=b"x", GrantTokens=tokens)
error("ValidationException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"k": "v"}, GrantTokens=tokens)
error("ValidationException", kms.generate_data_key, KeyId=kid, KeySpec="AES_256", GrantTokens=tokens)
error("ValidationException", kms.describe_key, KeyId=kid, GrantTokens=tokens)
assert kms.encrypt(KeyId=kid, Plaintext=b"x", GrantTokens=tokens[:10])["KeyId"] == arn  # 10 are fine
error("ValidationException", kms.schedule_key_deletion, KeyId=kid, PendingWindowInDays=6)
error("ValidationException", kms.schedule_key_deletion, KeyId=kid, PendingWindowInDays=31)
error("ValidationException", kms.enable_key_rotation, KeyId=kid, RotationPeriodInDays=89)
error("ValidationException", kms.enable_key_rotation, KeyId=kid, RotationPeriodInDays=2561)
error("ValidationException", kms.list_keys, Limit=0)
error("ValidationException", kms.list_keys, Limit=1001)
error("ValidationException", kms.describe_key, KeyId="")
error("ValidationException", kms.decrypt, CiphertextBlob=b"x" * 6145)
error("ValidationException", kms.update_key_description, KeyId=kid, Description="d" * 8193)
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"

# AccessDeniedException: a principal with no policies, and each group outside its actions.
bob = client("bob")
for call, kw in [(bob.describe_key, {"KeyId": kid}), (bob.encrypt, {"KeyId": kid, "Plaintext": b"x"}),
                 (bob.decrypt, {"CiphertextBlob": blob, "EncryptionContext": {"k": "v"}}),
                 (bob.create_key, {}), (bob.list_keys, {}), (bob.generate_random, {"NumberOfBytes": 8}),
                 (bob.disable_key, {"KeyId": kid}), (bob.schedule_key_deletion, {"KeyId": kid}),
                 (bob.put_key_policy, {"KeyId": kid, "PolicyName": "default", "Policy": "{}"}),
                 (bob.create_grant, {"KeyId": kid, "GranteePrincipal": user_arn("bob"), "Operations": ["Decrypt"]})]:
    e = denied(call, **kw)
    assert user_arn("bob") in e.response["Error"]["Message"], e.response
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"  # bob changed nothing
assert kms.list_grants(KeyId=kid)["Grants"] == []
denied(client("enc").decrypt, CiphertextBlob=blob, EncryptionContext={"k": "v"})
denied(client("dec").encrypt, KeyId=kid, Plaintext=b"x")

# UnsupportedOperationException: what this server does not offer (docs/kms-api.md).
error("UnsupportedOperationException", kms.create_key, MultiRegion=True)
error("UnsupportedOperationException", kms.replicate_key, KeyId=kid, ReplicaRegion="eu-west-1")
error("UnsupportedOperationException", kms.describe_custom_key_stores)
error("UnsupportedOperationException", kms.create_custom_key_store, CustomKeyStoreName="x",
      CloudHsmClusterId="cluster-1234567890a", TrustAnchorCertificate="x", KeyStorePassword="password")
# Signing with a symmetric key: not offered at all, or (once asymmetric keys are) not this key's usage.
for call, kw in [(kms.sign, {"KeyId": kid, "Message": b"m", "SigningAlgorithm": "ECDSA_SHA_256"}),
                 (kms.generate_mac, {"KeyId": kid, "Message": b"m", "MacAlgorithm": "HMAC_SHA_256"})]:
    try:
        call(**kw)
        raise AssertionError(f"{call.__name__} with a symmetric key succeeded")
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("UnsupportedOperationException", "InvalidKeyUsageException"), e

# SerializationException: bodies boto3 would never send, correctly signed.
for body in [b'{"KeyId": ', b"[1, 2]", b"not json", b'"a string"',
             json.dumps({"KeyId": 12}).encode(), json.dumps({"KeyId": kid, "Plaintext": "!!not base64!!"}).encode(),
             json.dumps({"KeyId": kid, "Plaintext": "eA==", "EncryptionContext": {"k": 1}}).encode()]:
    op = "Encrypt" if b"Plaintext" in body else "DescribeKey"
    expect_raw("SerializationException", 400, send(signed(op, body)))
st, _, ok = send(signed("DescribeKey", {"KeyId": kid}))
assert st == 200 and ok["KeyMetadata"]["KeyId"] == kid, ok  # the same way, well-formed, works

# InvalidMarkerException.
for m in ["garbage", "-1"]:
    error("InvalidMarkerException", kms.list_keys, Marker=m)
    error("InvalidMarkerException", kms.list_aliases, Marker=m)

# MalformedPolicyDocumentException: bad documents, and the lockout check.
for bad in ["not json", "{}", json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps",
            "Principal": "*", "Action": "kms:*", "Resource": "*"}]}),
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*",
                        "Resource": "*"}]})]:  # a key policy statement needs a Principal
    error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=kid, PolicyName="default", Policy=bad)
    error("MalformedPolicyDocumentException", kms.create_key, Policy=bad)
lockout = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:Encrypt",
     "Resource": "*"}]})
e = error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=kid, PolicyName="default", Policy=lockout)
assert "future" in e.response["Error"]["Message"] or "lock" in e.response["Error"]["Message"].lower(), e.response
assert "kms:*" in kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]  # unchanged
# With the check bypassed the policy is taken, and alice is locked out of it as warned.
kms.put_key_policy(KeyId=other, PolicyName="default", Policy=lockout, BypassPolicyLockoutSafetyCheck=True)
denied(kms.get_key_policy, KeyId=other, PolicyName="default")
denied(kms.put_key_policy, KeyId=other, PolicyName="default", Policy=lockout, BypassPolicyLockoutSafetyCheck=True)
assert kms.encrypt(KeyId=other, Plaintext=b"x")["KeyId"] == key_arn(other)  # what it does allow
# CreateKey runs the same check on its Policy, unless bypassed.
n_keys = len(kms.list_keys(Limit=1000)["Keys"])
error("MalformedPolicyDocumentException", kms.create_key, Policy=lockout)
assert len(kms.list_keys(Limit=1000)["Keys"]) == n_keys  # no key was made
locked = kms.create_key(Policy=lockout, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["KeyId"]
denied(kms.get_key_policy, KeyId=locked, PolicyName="default")

# Grant errors.
error("InvalidGrantTokenException", kms.retire_grant, GrantToken="bm90IGEgZ3JhbnQgdG9rZW4=")
error("InvalidGrantIdException", kms.revoke_grant, KeyId=kid, GrantId="0" * 64)
error("ValidationException", kms.create_grant, KeyId=kid, GranteePrincipal=user_arn("bob"), Operations=["Fly"])

# Alias name rules.
error("InvalidAliasNameException", kms.create_alias, AliasName="no-prefix", TargetKeyId=kid)
error("NotAuthorizedException", kms.create_alias, AliasName="alias/aws/reserved", TargetKeyId=kid)

check("errors")
