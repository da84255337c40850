"""Authorization through boto3: the encryptors/decryptors split, explicit
Deny in a key policy over an admin identity policy, a key policy naming a
user, a condition on the encryption context, and a constrained grant."""

import json

from kmstest import *

alice, bob, carol, dave = client("alice"), client("bob"), client("carol"), client("dave")
enc, dec = client("enc"), client("dec")
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def policy(*statements):
    root = {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [root, *statements]})


# 1. The split: one key (default policy); encryptors may only encrypt, decryptors only decrypt.
key = alice.create_key(Description="split")["KeyMetadata"]["KeyId"]
alice.create_alias(AliasName="alias/split", TargetKeyId=key)
ct = enc.encrypt(KeyId="alias/split", Plaintext=b"for the decryptors", EncryptionContext={"app": "split"})
assert ct["KeyId"] == key_arn(key)
dk = enc.generate_data_key(KeyId=key, KeySpec="AES_256")
dk2 = enc.generate_data_key_without_plaintext(KeyId=key, NumberOfBytes=16)
assert len(dk["Plaintext"]) == 32 and "Plaintext" not in dk2
out = dec.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"app": "split"})
assert out["Plaintext"] == b"for the decryptors" and out["KeyId"] == key_arn(key)
assert dec.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
assert len(dec.decrypt(CiphertextBlob=dk2["CiphertextBlob"])["Plaintext"]) == 16
e = denied(enc.decrypt, CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"app": "split"})
assert user_arn("enc") in e.response["Error"]["Message"] and "kms:Decrypt" in e.response["Error"]["Message"]
denied(enc.decrypt, CiphertextBlob=dk["CiphertextBlob"])
denied(enc.re_encrypt, CiphertextBlob=ct["CiphertextBlob"], SourceEncryptionContext={"app": "split"},
       DestinationKeyId=key)
denied(enc.describe_key, KeyId=key)
denied(enc.disable_key, KeyId=key)
e = denied(dec.encrypt, KeyId=key, Plaintext=b"x")
assert user_arn("dec") in e.response["Error"]["Message"] and "kms:Encrypt" in e.response["Error"]["Message"]
denied(dec.generate_data_key, KeyId=key, KeySpec="AES_256")
denied(dec.generate_data_key_without_plaintext, KeyId=key, KeySpec="AES_256")
denied(dec.re_encrypt, CiphertextBlob=ct["CiphertextBlob"], SourceEncryptionContext={"app": "split"},
       DestinationKeyId=key)
denied(dec.create_key)
assert alice.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"

# 2. An explicit Deny in the key policy beats alice's admin identity policy (kms:*).
fenced = alice.create_key(Policy=policy(
    {"Sid": "no-decrypt", "Effect": "Deny", "Principal": {"AWS": user_arn("alice")},
     "Action": ["kms:Decrypt", "kms:Disable*"], "Resource": "*"}))["KeyMetadata"]["KeyId"]
fct = alice.encrypt(KeyId=fenced, Plaintext=b"fenced")["CiphertextBlob"]
denied(alice.decrypt, CiphertextBlob=fct)
denied(alice.disable_key, KeyId=fenced)
assert alice.describe_key(KeyId=fenced)["KeyMetadata"]["Enabled"] is True
# ... and only for the principal it names: the decryptors still may.
assert dec.decrypt(CiphertextBlob=fct)["Plaintext"] == b"fenced"
# A Deny for everyone ("*") on Encrypt with the same admin.
alice.put_key_policy(KeyId=fenced, PolicyName="default", Policy=policy(
    {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"}))
denied(alice.encrypt, KeyId=fenced, Plaintext=b"x")
denied(enc.encrypt, KeyId=fenced, Plaintext=b"x")
assert alice.decrypt(CiphertextBlob=fct)["Plaintext"] == b"fenced"  # the old Deny is gone

# 3. A key policy naming a user directly: bob has no identity policy at all.
named = alice.create_key(Policy=policy(
    {"Sid": "bob", "Effect": "Allow", "Principal": {"AWS": user_arn("bob")},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}))["KeyMetadata"]["KeyId"]
bct = bob.encrypt(KeyId=named, Plaintext=b"bob's")["CiphertextBlob"]
assert bob.decrypt(CiphertextBlob=bct)["Plaintext"] == b"bob's"
assert bob.describe_key(KeyId=named)["KeyMetadata"]["KeyId"] == named
denied(bob.generate_data_key, KeyId=named, KeySpec="AES_256")
denied(bob.disable_key, KeyId=named)
denied(bob.encrypt, KeyId=key, Plaintext=b"x")  # not another key
denied(carol.encrypt, KeyId=named, Plaintext=b"x")  # not another user

# 4. A condition on kms:EncryptionContext:purpose: dave may encrypt only for backups.
cond = alice.create_key(Policy=policy(
    {"Sid": "dave", "Effect": "Allow", "Principal": {"AWS": user_arn("dave")}, "Action": "kms:Encrypt",
     "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": "backup"}}}))["KeyMetadata"]["KeyId"]
dct = dave.encrypt(KeyId=cond, Plaintext=b"backup data", EncryptionContext={"purpose": "backup"})["CiphertextBlob"]
dct2 = dave.encrypt(KeyId=cond, Plaintext=b"more", EncryptionContext={"purpose": "backup", "day": "mon"})
denied(dave.encrypt, KeyId=cond, Plaintext=b"x", EncryptionContext={"purpose": "other"})
denied(dave.encrypt, KeyId=cond, Plaintext=b"x", EncryptionContext={"purpose": "Backup"})
denied(dave.encrypt, KeyId=cond, Plaintext=b"x", EncryptionContext={"other": "backup"})
denied(dave.encrypt, KeyId=cond, Plaintext=b"x")
denied(dave.decrypt, CiphertextBlob=dct, EncryptionContext={"purpose": "backup"})
assert alice.decrypt(CiphertextBlob=dct, EncryptionContext={"purpose": "backup"})["Plaintext"] == b"backup data"
assert alice.decrypt(CiphertextBlob=dct2["CiphertextBlob"],
                     EncryptionContext={"purpose": "backup", "day": "mon"})["Plaintext"] == b"more"

# 5. A grant gives carol (no policies) Decrypt, constrained to a context subset; retiring it takes it away.
t1 = alice.encrypt(KeyId=key, Plaintext=b"tenant one", EncryptionContext={"tenant": "t1", "doc": "a"})["CiphertextBlob"]
t2 = alice.encrypt(KeyId=key, Plaintext=b"tenant two", EncryptionContext={"tenant": "t2", "doc": "a"})["CiphertextBlob"]
denied(carol.decrypt, CiphertextBlob=t1, EncryptionContext={"tenant": "t1", "doc": "a"})
g = alice.create_grant(KeyId=key, GranteePrincipal=user_arn("carol"), Operations=["Decrypt"],
                       RetiringPrincipal=user_arn("carol"),
                       Constraints={"EncryptionContextSubset": {"tenant": "t1"}})
out = carol.decrypt(CiphertextBlob=t1, EncryptionContext={"tenant": "t1", "doc": "a"}, GrantTokens=[g["GrantToken"]])
assert out["Plaintext"] == b"tenant one" and out["KeyId"] == key_arn(key)
assert carol.decrypt(CiphertextBlob=t1, EncryptionContext={"tenant": "t1", "doc": "a"})["Plaintext"] == b"tenant one"
denied(carol.decrypt, CiphertextBlob=t2, EncryptionContext={"tenant": "t2", "doc": "a"})
denied(carol.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"tenant": "t1"})
denied(carol.decrypt, CiphertextBlob=fct)  # the grant is for one key only
denied(carol.list_grants, KeyId=key)
denied(carol.list_retirable_grants, RetiringPrincipal=user_arn("carol"))  # an IAM permission she lacks
mine = alice.list_retirable_grants(RetiringPrincipal=user_arn("carol"))["Grants"]
assert [x["GrantId"] for x in mine] == [g["GrantId"]], mine
carol.retire_grant(GrantToken=g["GrantToken"])
denied(carol.decrypt, CiphertextBlob=t1, EncryptionContext={"tenant": "t1", "doc": "a"})
assert alice.list_grants(KeyId=key)["Grants"] == []
# A grant carol may not retire: bob's, with no retiring principal.
g2 = alice.create_grant(KeyId=key, GranteePrincipal=user_arn("bob"), Operations=["Decrypt"])
denied(carol.retire_grant, KeyId=key, GrantId=g2["GrantId"])
denied(bob.revoke_grant, KeyId=key, GrantId=g2["GrantId"])
assert bob.decrypt(CiphertextBlob=t2, EncryptionContext={"tenant": "t2", "doc": "a"})["Plaintext"] == b"tenant two"
alice.revoke_grant(KeyId=key, GrantId=g2["GrantId"])
denied(bob.decrypt, CiphertextBlob=t2, EncryptionContext={"tenant": "t2", "doc": "a"})

check("policies")
