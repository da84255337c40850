"""SigV4 refusals (signed by botocore's SigV4Auth, then spoiled), the body
size limit, and x-amzn-RequestId on every response."""

import json
import uuid

from kmstest import *

kms = client("alice")
kid = kms.create_key()["KeyMetadata"]["KeyId"]
body = {"KeyId": kid}
ids = set()


def rid(resp):
    st, h, b = resp
    r = h.get("x-amzn-requestid")
    assert r and uuid.UUID(r), (st, h, b)
    assert r not in ids, "request ids repeat"
    ids.add(r)
    return resp


# The reference: signed correctly, the request is served.
st, h, out = rid(send(signed("DescribeKey", body)))
assert st == 200 and out["KeyMetadata"]["KeyId"] == kid, out
assert h["content-type"] == "application/x-amz-json-1.1"
# boto3 sees the request id too.
assert kms.describe_key(KeyId=kid)["ResponseMetadata"]["RequestId"]

# Wrong secret.
ak, sk = creds("alice")
bad_secret = sk[:-1] + ("A" if sk[-1] != "A" else "B")
expect_raw("InvalidSignatureException", 400, rid(send(signed("DescribeKey", body, secret=bad_secret))))
# Another principal's secret with alice's key id.
expect_raw("InvalidSignatureException", 400, rid(send(signed("DescribeKey", body, secret=creds("bob")[1],
                                                             access_key=ak))))
# Through boto3 the same way.
import boto3
wrong = boto3.client("kms", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=ak,
                     aws_secret_access_key=bad_secret, config=CONFIG)
error("InvalidSignatureException", wrong.describe_key, KeyId=kid)

# Unknown access key id.
expect_raw("UnrecognizedClientException", 400,
           rid(send(signed("DescribeKey", body, access_key="AKIAIOSFODNN7EXAMPLE"))))
unknown = boto3.client("kms", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                       aws_secret_access_key=sk, config=CONFIG)
error("UnrecognizedClientException", unknown.list_keys)

# No Authorization header at all.
req = signed("DescribeKey", body)
del req.headers["Authorization"]
expect_raw("MissingAuthenticationTokenException", 400, rid(send(req)))
expect_raw("MissingAuthenticationTokenException", 400,
           rid(send({"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"}, b"{}")))

# A malformed Authorization header.
req = signed("DescribeKey", body)
req.headers.replace_header("Authorization", "AWS4-HMAC-SHA256 Credential=nonsense")
expect_raw("InvalidSignatureException", 400, rid(send(req)))

# Stale X-Amz-Date: 20 minutes old, and 20 minutes ahead (the skew allowed is 15).
for offset in (-20 * 60, 20 * 60):
    with clock_offset(offset):
        req = signed("DescribeKey", body)
    expect_raw("InvalidSignatureException", 400, rid(send(req)))
# 5 minutes off is within the skew.
with clock_offset(-5 * 60):
    req = signed("DescribeKey", body)
st, _, out = rid(send(req))
assert st == 200 and out["KeyMetadata"]["KeyId"] == kid, out

# Body tampered with after signing.
req = signed("Encrypt", {"KeyId": kid, "Plaintext": "aGVsbG8="})
tampered = json.dumps({"KeyId": kid, "Plaintext": "ZXZpbA=="}).encode()
expect_raw("InvalidSignatureException", 400, rid(send(dict(req.headers.items()), tampered)))

# X-Amz-Target changed after signing: a signed DescribeKey turned into ScheduleKeyDeletion.
req = signed("DescribeKey", body)
req.headers.replace_header("X-Amz-Target", "TrentService.ScheduleKeyDeletion")
expect_raw("InvalidSignatureException", 400, rid(send(req)))
# X-Amz-Target not signed at all (added after signing).
req = signed(None, body)
assert "x-amz-target" not in req.headers["Authorization"]
req.headers["X-Amz-Target"] = "TrentService.ScheduleKeyDeletion"
expect_raw("InvalidSignatureException", 400, rid(send(req)))
# Region of the credential scope not the server's.
req = AWSRequest(method="POST", url=ENDPOINT + "/", data=json.dumps(body).encode(),
                 headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.DescribeKey"})
SigV4Auth(Credentials(ak, sk), "kms", "eu-west-1").add_auth(req)
expect_raw("InvalidSignatureException", 400, rid(send(req)))
# Service of the scope not kms.
req = AWSRequest(method="POST", url=ENDPOINT + "/", data=json.dumps(body).encode(),
                 headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.DescribeKey"})
SigV4Auth(Credentials(ak, sk), "s3", REGION).add_auth(req)
expect_raw("InvalidSignatureException", 400, rid(send(req)))
# None of the refused requests did anything.
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"

# Oversized bodies (> 64 KiB): refused with 413, by Content-Length or as chunks arrive.
big = json.dumps({"KeyId": kid, "Description": "d" * (70 * 1024)}).encode()
req = signed("UpdateKeyDescription", big)
st, h, out = rid(send(req))
assert st == 413 and out["__type"] == "RequestEntityTooLargeException", (st, out)
headers = {k: v for k, v in signed("UpdateKeyDescription", big).headers.items() if k.lower() != "content-length"}
st, h, out = rid(send(headers, chunks=(big[i:i + 8192] for i in range(0, len(big), 8192))))
assert st == 413 and out["__type"] == "RequestEntityTooLargeException", (st, out)
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["Description"] == ""
# Just under the limit is read (and refused only for its content).
fits = json.dumps({"KeyId": kid, "Description": "d" * 9000}).encode()
expect_raw("ValidationException", 400, rid(send(signed("UpdateKeyDescription", fits))))

# Not POST / or no known target: refused, still with a request id.
expect_raw("UnknownOperationException", 400, rid(send(signed("FlyToTheMoon", body))))
conn = http.client.HTTPConnection(HOSTPORT, timeout=10)
conn.request("GET", "/")
r = conn.getresponse()
r.read()
assert r.status >= 400 and r.getheader("x-amzn-RequestId"), (r.status, r.getheaders())
conn.close()

# Keep-alive: several signed requests over one connection.
conn = http.client.HTTPConnection(HOSTPORT, timeout=10)
for _ in range(5):
    req = signed("DescribeKey", body)
    conn.request("POST", "/", body=req.body, headers=dict(req.headers.items()))
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["KeyMetadata"]["KeyId"] == kid
    assert r.getheader("x-amzn-RequestId")
conn.close()

check("sigv4")
