"""The aws CLI (v1, `python -m awscli`) against the server: create-key,
encrypt (fileb://), decrypt, list-keys, create-alias, describe-key with an
alias; the encryptor/decryptor flow; credentials from the environment."""

import base64
import json
import os
import subprocess
import sys

from kmstest import *


def aws(who, *args, ok=True):
    ak, sk = creds(who)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk)
    env.pop("PYTHONPATH", None)
    p = subprocess.run([sys.executable, "-m", "awscli", "kms", *args, "--endpoint-url", ENDPOINT,
                        "--region", REGION, "--output", "json"], env=env, capture_output=True, text=True)
    if ok:
        assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
        return json.loads(p.stdout) if p.stdout.strip() else None
    assert p.returncode != 0, (args, p.stdout)
    return p.stderr


import awscli

assert awscli.__version__.startswith("1."), awscli.__version__

md = aws("alice", "create-key", "--description", "from the cli")["KeyMetadata"]
kid = md["KeyId"]
assert md["Arn"] == key_arn(kid) and md["Description"] == "from the cli" and md["KeyState"] == "Enabled", md
assert aws("alice", "create-alias", "--alias-name", "alias/cli", "--target-key-id", kid) is None
d = aws("alice", "describe-key", "--key-id", "alias/cli")["KeyMetadata"]
assert d["KeyId"] == kid and d["Arn"] == key_arn(kid), d
assert kid in [k["KeyId"] for k in aws("alice", "list-keys")["Keys"]]

# encrypt a file (fileb://), write the ciphertext out, decrypt it from a file.
with open("plain.bin", "wb") as f:
    f.write(bytes(range(256)) * 4)
e = aws("alice", "encrypt", "--key-id", "alias/cli", "--plaintext", "fileb://plain.bin",
        "--encryption-context", "purpose=cli,stage=test")
assert e["KeyId"] == key_arn(kid) and e["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", e
with open("cipher.bin", "wb") as f:
    f.write(base64.b64decode(e["CiphertextBlob"]))
d = aws("alice", "decrypt", "--ciphertext-blob", "fileb://cipher.bin", "--encryption-context", "purpose=cli,stage=test")
assert base64.b64decode(d["Plaintext"]) == bytes(range(256)) * 4 and d["KeyId"] == key_arn(kid), d
err = aws("alice", "describe-key", "--key-id", "alias/nope", ok=False)
assert "NotFoundException" in err, err

# The encryptor/decryptor flow as an operator would run it.
with open("msg.txt", "wb") as f:
    f.write(b"hello decryptors")
e = aws("enc", "encrypt", "--key-id", "alias/cli", "--plaintext", "fileb://msg.txt")
with open("msg.enc", "wb") as f:
    f.write(base64.b64decode(e["CiphertextBlob"]))
assert base64.b64decode(aws("dec", "decrypt", "--ciphertext-blob", "fileb://msg.enc")["Plaintext"]) == b"hello decryptors"
err = aws("enc", "decrypt", "--ciphertext-blob", "fileb://msg.enc", ok=False)
assert "AccessDeniedException" in err and user_arn("enc") in err, err
err = aws("dec", "encrypt", "--key-id", "alias/cli", "--plaintext", "fileb://msg.txt", ok=False)
assert "AccessDeniedException" in err, err

check("awscli")
