"""Every operation the server offers, through boto3, with key ids given as
key id, key ARN, alias name and alias ARN; each checked by its results."""

import base64
import datetime
import json
import re

from kmstest import *

kms = client("alice")
now = datetime.datetime.now(datetime.timezone.utc)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def near(t, want, slack=600):
    assert abs((t - want).total_seconds()) < slack, (t, want)


# CreateKey / DescribeKey.
r = kms.create_key(Description="first key", Tags=[{"TagKey": "team", "TagValue": "red"}])
assert r["ResponseMetadata"]["HTTPStatusCode"] == 200 and r["ResponseMetadata"]["RequestId"]
md = r["KeyMetadata"]
kid, arn = md["KeyId"], md["Arn"]
assert UUID.fullmatch(kid), kid
assert arn == key_arn(kid), arn
assert md["AWSAccountId"] == ACCOUNT
assert md["Description"] == "first key"
assert md["Enabled"] is True and md["KeyState"] == "Enabled"
assert md["KeyUsage"] == "ENCRYPT_DECRYPT" and md["KeySpec"] == "SYMMETRIC_DEFAULT"
assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
assert md["Origin"] == "AWS_KMS" and md["KeyManager"] == "CUSTOMER" and md["MultiRegion"] is False
near(md["CreationDate"], now)
kid2 = kms.create_key(Description="second key")["KeyMetadata"]["KeyId"]
arn2 = key_arn(kid2)
assert kid2 != kid

# Create/Update/DeleteAlias, ListAliases; every key id form.
assert kms.create_alias(AliasName="alias/first", TargetKeyId=kid)["ResponseMetadata"]["HTTPStatusCode"] == 200
kms.create_alias(AliasName="alias/second", TargetKeyId=arn2)
kms.create_alias(AliasName="alias/moving", TargetKeyId=kid)
forms = [kid, arn, "alias/first", alias_arn("alias/first")]
forms2 = [kid2, arn2, "alias/second", alias_arn("alias/second")]
for f in forms:
    d = kms.describe_key(KeyId=f)["KeyMetadata"]
    assert d["KeyId"] == kid and d["Arn"] == arn and d["Description"] == "first key", (f, d)
for f in forms2:
    assert kms.describe_key(KeyId=f)["KeyMetadata"]["Arn"] == arn2, f
aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
assert {"alias/first", "alias/second", "alias/moving"} <= set(aliases), aliases
assert aliases["alias/first"]["TargetKeyId"] == kid
assert aliases["alias/first"]["AliasArn"] == alias_arn("alias/first")
assert aliases["alias/second"]["TargetKeyId"] == kid2
mine = kms.list_aliases(KeyId=kid)["Aliases"]
assert sorted(a["AliasName"] for a in mine) == ["alias/first", "alias/moving"], mine
page = kms.list_aliases(Limit=1)
assert len(page["Aliases"]) == 1 and page["Truncated"] is True and page["NextMarker"]
rest = kms.list_aliases(Limit=100, Marker=page["NextMarker"])
assert rest["Truncated"] is False and "NextMarker" not in rest
assert len(page["Aliases"]) + len(rest["Aliases"]) == len(kms.list_aliases()["Aliases"])
kms.update_alias(AliasName="alias/moving", TargetKeyId="alias/second")
assert kms.describe_key(KeyId="alias/moving")["KeyMetadata"]["KeyId"] == kid2
assert [a["AliasName"] for a in kms.list_aliases(KeyId=arn)["Aliases"]] == ["alias/first"]
kms.delete_alias(AliasName="alias/moving")
assert "alias/moving" not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
error("NotFoundException", kms.describe_key, KeyId="alias/moving")
assert kms.describe_key(KeyId=kid2)["KeyMetadata"]["KeyState"] == "Enabled"  # the key stays

# ListKeys with Limit/Marker paging, by hand and with boto3's paginator.
made = {kid, kid2}
for i in range(5):
    made.add(kms.create_key(Description=f"bulk {i}")["KeyMetadata"]["KeyId"])
everything = kms.list_keys()
assert everything["Truncated"] is False and "NextMarker" not in everything
listed = {k["KeyId"]: k["KeyArn"] for k in everything["Keys"]}
assert set(listed) == made, (listed, made)
assert all(listed[k] == key_arn(k) for k in listed)
seen, marker, pages = [], None, 0
while True:
    kw = {"Limit": 2}
    if marker:
        kw["Marker"] = marker
    p = kms.list_keys(**kw)
    pages += 1
    assert len(p["Keys"]) <= 2
    seen += [k["KeyId"] for k in p["Keys"]]
    if not p["Truncated"]:
        assert "NextMarker" not in p
        break
    assert len(p["Keys"]) == 2 and p["NextMarker"]
    marker = p["NextMarker"]
assert pages == 4 and len(seen) == 7 and set(seen) == made, (pages, seen)
paged = [k["KeyId"] for pg in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 3})
         for k in pg["Keys"]]
assert sorted(paged) == sorted(made), paged

# UpdateKeyDescription.
kms.update_key_description(KeyId="alias/first", Description="renamed")
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["Description"] == "renamed"
kms.update_key_description(KeyId=alias_arn("alias/first"), Description="first key")
assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Description"] == "first key"

# Encrypt / Decrypt (with and without KeyId) in every key id form.
ctx = {"purpose": "test", "tenant": "t1"}
for i, f in enumerate(forms):
    plain = f"secret number {i}".encode()
    e = kms.encrypt(KeyId=f, Plaintext=plain, EncryptionContext=ctx)
    assert e["KeyId"] == arn and e["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", e
    blob = e["CiphertextBlob"]
    assert isinstance(blob, bytes) and len(blob) > len(plain) and plain not in blob
    d = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
    assert d["Plaintext"] == plain and d["KeyId"] == arn and d["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", d
    for g in forms:
        assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx, KeyId=g)["Plaintext"] == plain, g
    error("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx, KeyId=forms2[i])
    error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"purpose": "test"})
    error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)
# Binary plaintexts of 1 and 4096 bytes; no context.
for n in (1, 4096):
    plain = bytes(range(256)) * (n // 256) if n >= 256 else b"\x00"
    blob = kms.encrypt(KeyId=kid, Plaintext=plain)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plain
# Two encryptions of the same plaintext differ.
a = kms.encrypt(KeyId=kid, Plaintext=b"same")["CiphertextBlob"]
b = kms.encrypt(KeyId=kid, Plaintext=b"same")["CiphertextBlob"]
assert a != b

# ReEncrypt: to another key and context, source key given or not.
blob = kms.encrypt(KeyId="alias/first", Plaintext=b"moving data", EncryptionContext={"a": "1"})["CiphertextBlob"]
for src, dst in [(None, "alias/second"), (kid, arn2), ("alias/first", alias_arn("alias/second"))]:
    kw = {"SourceKeyId": src} if src else {}
    r = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"a": "1"}, DestinationKeyId=dst,
                       DestinationEncryptionContext={"b": "2"}, **kw)
    assert r["SourceKeyId"] == arn and r["KeyId"] == arn2, r
    assert r["SourceEncryptionAlgorithm"] == r["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    d = kms.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert d["Plaintext"] == b"moving data" and d["KeyId"] == arn2
    error("IncorrectKeyException", kms.decrypt, CiphertextBlob=r["CiphertextBlob"], EncryptionContext={"b": "2"},
          KeyId=kid)
error("IncorrectKeyException", kms.re_encrypt, CiphertextBlob=blob, SourceEncryptionContext={"a": "1"},
      SourceKeyId=kid2, DestinationKeyId=kid2)
error("InvalidCiphertextException", kms.re_encrypt, CiphertextBlob=blob, SourceEncryptionContext={"a": "2"},
      DestinationKeyId=kid2)

# GenerateDataKey (+WithoutPlaintext).
for f, spec, n in [(forms[0], "AES_256", 32), (forms[1], "AES_128", 16), (forms[2], None, 64), (forms[3], None, 1),
                   (kid, None, 1024)]:
    kw = {"KeySpec": spec} if spec else {"NumberOfBytes": n}
    g = kms.generate_data_key(KeyId=f, EncryptionContext={"dk": "1"}, **kw)
    assert g["KeyId"] == arn and len(g["Plaintext"]) == n, (f, len(g["Plaintext"]))
    d = kms.decrypt(CiphertextBlob=g["CiphertextBlob"], EncryptionContext={"dk": "1"})
    assert d["Plaintext"] == g["Plaintext"] and d["KeyId"] == arn
    w = kms.generate_data_key_without_plaintext(KeyId=f, **kw)
    assert "Plaintext" not in w and w["KeyId"] == arn, w
    assert len(kms.decrypt(CiphertextBlob=w["CiphertextBlob"])["Plaintext"]) == n
k1 = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")["Plaintext"]
k2 = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")["Plaintext"]
assert k1 != k2

# GenerateRandom.
for n in (1, 32, 1024):
    assert len(kms.generate_random(NumberOfBytes=n)["Plaintext"]) == n
r1, r2 = (kms.generate_random(NumberOfBytes=32)["Plaintext"] for _ in range(2))
assert r1 != r2 and r1 != bytes(32)

# Enable/DisableKeyRotation, GetKeyRotationStatus.
for f in forms:
    s = kms.get_key_rotation_status(KeyId=f)
    assert s["KeyRotationEnabled"] is False and "RotationPeriodInDays" not in s, s
kms.enable_key_rotation(KeyId="alias/first", RotationPeriodInDays=180)
s = kms.get_key_rotation_status(KeyId=arn)
assert s["KeyRotationEnabled"] is True and s["RotationPeriodInDays"] == 180 and s["KeyId"] == arn, s
near(s["NextRotationDate"], now + datetime.timedelta(days=180), slack=86400)
kms.disable_key_rotation(KeyId=alias_arn("alias/first"))
assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False
kms.enable_key_rotation(KeyId=kid)
s = kms.get_key_rotation_status(KeyId=kid)
assert s["KeyRotationEnabled"] is True and s["RotationPeriodInDays"] == 365, s
kms.disable_key_rotation(KeyId=kid)

# RotateKeyOnDemand, ListKeyRotations: old ciphertexts still decrypt.
assert kms.list_key_rotations(KeyId=kid)["Rotations"] == []
old = kms.encrypt(KeyId=kid, Plaintext=b"before rotation")["CiphertextBlob"]
old_dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
r = kms.rotate_key_on_demand(KeyId="alias/first")
assert r["KeyId"] == arn, r
new = kms.encrypt(KeyId=kid, Plaintext=b"after rotation")["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"
assert kms.decrypt(CiphertextBlob=old, KeyId=kid)["Plaintext"] == b"before rotation"
assert kms.decrypt(CiphertextBlob=old_dk["CiphertextBlob"])["Plaintext"] == old_dk["Plaintext"]
assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after rotation"
rot = kms.list_key_rotations(KeyId=arn)
assert len(rot["Rotations"]) == 1 and rot["Truncated"] is False, rot
assert rot["Rotations"][0]["KeyId"] == arn
near(rot["Rotations"][0]["RotationDate"], now)
kms.rotate_key_on_demand(KeyId=alias_arn("alias/first"))
assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"
assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after rotation"
assert len(kms.list_key_rotations(KeyId="alias/first")["Rotations"]) == 2
p1 = kms.list_key_rotations(KeyId=kid, Limit=1)
assert len(p1["Rotations"]) == 1 and p1["Truncated"] is True, p1
p2 = kms.list_key_rotations(KeyId=kid, Limit=1, Marker=p1["NextMarker"])
assert len(p2["Rotations"]) == 1 and p2["Truncated"] is False, p2
# ReEncrypt moves an old ciphertext to the current version of the same key.
r = kms.re_encrypt(CiphertextBlob=old, DestinationKeyId=kid)
assert r["CiphertextBlob"] != old and kms.decrypt(CiphertextBlob=r["CiphertextBlob"])["Plaintext"] == b"before rotation"

# Get/PutKeyPolicy, ListKeyPolicies.
for f in forms:
    assert kms.list_key_policies(KeyId=f)["PolicyNames"] == ["default"]
pol = json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
st = pol["Statement"]
assert any(s["Effect"] == "Allow" and s["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"} and s["Action"] == "kms:*"
           for s in st), pol
assert json.loads(kms.get_key_policy(KeyId="alias/first")["Policy"]) == pol  # PolicyName is optional
new_policy = json.dumps({"Version": "2012-10-17", "Id": "custom", "Statement": [
    {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
     "Resource": "*"},
    {"Sid": "bob", "Effect": "Allow", "Principal": {"AWS": user_arn("bob")}, "Action": "kms:DescribeKey",
     "Resource": "*"}]})
kms.put_key_policy(KeyId="alias/second", PolicyName="default", Policy=new_policy)
assert kms.get_key_policy(KeyId=kid2, PolicyName="default")["Policy"] == new_policy
# The new policy is in force: bob (no identity policy) may now describe the key, nothing more.
bob = client("bob")
assert bob.describe_key(KeyId=kid2)["KeyMetadata"]["Arn"] == arn2
denied(bob.describe_key, KeyId=kid)
denied(bob.encrypt, KeyId=kid2, Plaintext=b"x")

# Tag/UntagResource, ListResourceTags.
assert kms.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "team", "TagValue": "red"}]
kms.tag_resource(KeyId="alias/first", Tags=[{"TagKey": "env", "TagValue": "prod"},
                                           {"TagKey": "team", "TagValue": "blue"}])
tags = kms.list_resource_tags(KeyId=arn)
assert tags["Truncated"] is False
assert {t["TagKey"]: t["TagValue"] for t in tags["Tags"]} == {"env": "prod", "team": "blue"}, tags
p1 = kms.list_resource_tags(KeyId=kid, Limit=1)
assert len(p1["Tags"]) == 1 and p1["Truncated"] is True
p2 = kms.list_resource_tags(KeyId=kid, Limit=1, Marker=p1["NextMarker"])
assert len(p2["Tags"]) == 1 and p2["Truncated"] is False and p1["Tags"] != p2["Tags"]
kms.untag_resource(KeyId=alias_arn("alias/first"), TagKeys=["team", "absent"])
assert kms.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "env", "TagValue": "prod"}]
assert kms.list_resource_tags(KeyId=kid2)["Tags"] == []

# CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.
g = kms.create_grant(KeyId="alias/first", GranteePrincipal=user_arn("bob"), Operations=["Encrypt", "Decrypt"],
                     RetiringPrincipal=user_arn("alice"), Name="bob-grant",
                     Constraints={"EncryptionContextEquals": {"app": "x"}})
gid, gtok = g["GrantId"], g["GrantToken"]
assert gid and gtok and gid != gtok
g2 = kms.create_grant(KeyId=kid, GranteePrincipal=user_arn("enc"), Operations=["GenerateDataKey"])
g3 = kms.create_grant(KeyId=arn2, GranteePrincipal=user_arn("dec"), Operations=["Decrypt"],
                      RetiringPrincipal=user_arn("alice"))
grants = kms.list_grants(KeyId=alias_arn("alias/first"))
assert grants["Truncated"] is False
by_id = {x["GrantId"]: x for x in grants["Grants"]}
assert set(by_id) == {gid, g2["GrantId"]}, by_id
x = by_id[gid]
assert x["KeyId"] == arn and x["GranteePrincipal"] == user_arn("bob") and x["Name"] == "bob-grant"
assert sorted(x["Operations"]) == ["Decrypt", "Encrypt"] and x["RetiringPrincipal"] == user_arn("alice")
assert x["Constraints"] == {"EncryptionContextEquals": {"app": "x"}}, x
assert x["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT}:root"
near(x["CreationDate"], now)
only = kms.list_grants(KeyId=kid, GrantId=gid)["Grants"]
assert [y["GrantId"] for y in only] == [gid]
assert [y["GrantId"] for y in kms.list_grants(KeyId=kid, GranteePrincipal=user_arn("enc"))["Grants"]] == [g2["GrantId"]]
# The grant works: bob may now encrypt under the first key, with the context.
bob_blob = bob.encrypt(KeyId=kid, Plaintext=b"granted", EncryptionContext={"app": "x"})["CiphertextBlob"]
assert bob.decrypt(CiphertextBlob=bob_blob, EncryptionContext={"app": "x"})["Plaintext"] == b"granted"
denied(bob.encrypt, KeyId=kid, Plaintext=b"granted", EncryptionContext={"app": "y"})
retirable = kms.list_retirable_grants(RetiringPrincipal=user_arn("alice"))["Grants"]
assert sorted(y["GrantId"] for y in retirable) == sorted([gid, g3["GrantId"]]), retirable
assert {y["GrantId"]: y["KeyId"] for y in retirable}[g3["GrantId"]] == arn2
kms.retire_grant(GrantToken=gtok)
assert [y["GrantId"] for y in kms.list_grants(KeyId=kid)["Grants"]] == [g2["GrantId"]]
denied(bob.encrypt, KeyId=kid, Plaintext=b"granted", EncryptionContext={"app": "x"})
kms.retire_grant(KeyId=arn2, GrantId=g3["GrantId"])
assert kms.list_grants(KeyId=kid2)["Grants"] == []
kms.revoke_grant(KeyId="alias/first", GrantId=g2["GrantId"])
assert kms.list_grants(KeyId=kid)["Grants"] == []
assert kms.list_retirable_grants(RetiringPrincipal=user_arn("alice"))["Grants"] == []

# Enable/DisableKey.
kms.disable_key(KeyId="alias/second")
d = kms.describe_key(KeyId=kid2)["KeyMetadata"]
assert d["KeyState"] == "Disabled" and d["Enabled"] is False, d
error("DisabledException", kms.encrypt, KeyId=kid2, Plaintext=b"x")
kms.enable_key(KeyId=alias_arn("alias/second"))
d = kms.describe_key(KeyId=kid2)["KeyMetadata"]
assert d["KeyState"] == "Enabled" and d["Enabled"] is True, d
assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=kid2, Plaintext=b"y")["CiphertextBlob"])["Plaintext"] == b"y"

# ScheduleKeyDeletion / CancelKeyDeletion.
pending = kms.encrypt(KeyId=kid2, Plaintext=b"kept")["CiphertextBlob"]
s = kms.schedule_key_deletion(KeyId="alias/second", PendingWindowInDays=7)
assert s["KeyId"] == arn2 and s["KeyState"] == "PendingDeletion" and s["PendingWindowInDays"] == 7, s
near(s["DeletionDate"], now + datetime.timedelta(days=7), slack=86400)
d = kms.describe_key(KeyId=kid2)["KeyMetadata"]
assert d["KeyState"] == "PendingDeletion" and d["Enabled"] is False, d
near(d["DeletionDate"], s["DeletionDate"], slack=5)
assert d["PendingDeletionWindowInDays"] == 7, d
error("KMSInvalidStateException", kms.encrypt, KeyId=kid2, Plaintext=b"x")
error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=pending)
c = kms.cancel_key_deletion(KeyId=alias_arn("alias/second"))
assert c["KeyId"] == arn2, c
d = kms.describe_key(KeyId=kid2)["KeyMetadata"]
assert d["KeyState"] == "Disabled" and "DeletionDate" not in d, d  # as AWS: cancelled keys come back disabled
kms.enable_key(KeyId=kid2)
assert kms.decrypt(CiphertextBlob=pending)["Plaintext"] == b"kept"
s = kms.schedule_key_deletion(KeyId=kid2)
assert s["PendingWindowInDays"] == 30, s
near(s["DeletionDate"], now + datetime.timedelta(days=30), slack=86400)
assert kid2 in [k["KeyId"] for k in kms.list_keys()["Keys"]]  # still listed while pending

check("operations")
