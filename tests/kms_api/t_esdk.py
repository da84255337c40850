"""The AWS Encryption SDK (4.x) with FerroHSM keys; its master key
providers make their own boto3 clients, pointed at the server by
AWS_ENDPOINT_URL_KMS (credentials from the environment too).

  esdk.py encrypt DIR        make three keys, encrypt under the first two
  esdk.py decrypt DIR N      decrypt with a provider holding only key N
  esdk.py decrypt-other DIR  a provider holding only the third key fails
"""

import json
import os
import sys

import aws_encryption_sdk
import boto3
import botocore.session
from aws_encryption_sdk import CommitmentPolicy, StrictAwsKmsMasterKeyProvider

from kmstest import check

mode, work = sys.argv[1], sys.argv[2]
assert os.environ["AWS_ENDPOINT_URL_KMS"].startswith("http://127.0.0.1:")
sdk = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
CONTEXT = {"purpose": "esdk-test", "tenant": "t1"}
PLAIN = os.urandom(3000) + b"the message"


def provider(arns):
    return StrictAwsKmsMasterKeyProvider(key_ids=arns, botocore_session=botocore.session.Session())


def path(name):
    return os.path.join(work, name)


if mode == "encrypt":
    kms = boto3.client("kms", region_name="us-east-1")  # endpoint and credentials from the environment
    arns = [kms.create_key(Description=f"esdk {i}")["KeyMetadata"]["Arn"] for i in range(3)]
    message, header = sdk.encrypt(source=PLAIN, key_provider=provider(arns[:2]), encryption_context=CONTEXT)
    assert PLAIN not in message
    edks = sorted(k.key_provider.key_info.decode() for k in header.encrypted_data_keys)
    assert edks == sorted(arns[:2]), edks
    assert all(k.key_provider.provider_id == "aws-kms" for k in header.encrypted_data_keys)
    for k, v in CONTEXT.items():
        assert header.encryption_context[k] == v
    with open(path("message.bin"), "wb") as f:
        f.write(message)
    with open(path("plain.bin"), "wb") as f:
        f.write(PLAIN)
    with open(path("keys.json"), "w") as f:
        json.dump(arns, f)
    print(f"encrypted under {arns[:2]}")
elif mode in ("decrypt", "decrypt-other"):
    with open(path("keys.json")) as f:
        arns = json.load(f)
    with open(path("message.bin"), "rb") as f:
        message = f.read()
    with open(path("plain.bin"), "rb") as f:
        want = f.read()
    if mode == "decrypt":
        n = int(sys.argv[3])
        plain, header = sdk.decrypt(source=message, key_provider=provider([arns[n]]))
        assert plain == want, "wrong plaintext"
        for k, v in CONTEXT.items():
            assert header.encryption_context[k] == v
        # Altering the message is caught.
        bad = bytearray(message)
        bad[len(bad) // 2] ^= 1
        try:
            sdk.decrypt(source=bytes(bad), key_provider=provider([arns[n]]))
        except Exception as e:  # the SDK lets cryptography's InvalidTag through
            assert type(e).__name__ in ("InvalidTag", "SerializationError") or \
                isinstance(e, aws_encryption_sdk.exceptions.AWSEncryptionSDKClientError), repr(e)
        else:
            raise AssertionError("an altered message decrypted")
        print(f"decrypted with key {n}")
    else:
        try:
            sdk.decrypt(source=message, key_provider=provider([arns[2]]))
            raise AssertionError("decrypted without any of its keys")
        except aws_encryption_sdk.exceptions.DecryptKeyError as e:
            print(f"refused as it should be: {e}")
else:
    raise SystemExit(f"unknown mode {mode}")
check("esdk " + mode)
