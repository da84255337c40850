"""Shared by the KMS API test scripts (run by tests/kms_api.rs): the
server's endpoint and the principals' access keys from the environment,
boto3 clients, expected-error checks, and raw SigV4-signed requests made
with botocore's own signer."""

import datetime
import http.client
import json
import os
import sys
import urllib.parse
from contextlib import contextmanager

import boto3
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ["FERROHSM_KMS_ENDPOINT"]
CREDS = os.environ["FERROHSM_KMS_CREDS"]
REGION = "us-east-1"
ACCOUNT = "111122223333"
HOSTPORT = urllib.parse.urlparse(ENDPOINT).netloc

# No retries (an error must show as it is) and no client-side parameter
# validation (the server's own checks are under test).
CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False)


def creds(name):
    with open(os.path.join(CREDS, name + ".json")) as f:
        ak = json.load(f)["AccessKey"]
    return ak["AccessKeyId"], ak["SecretAccessKey"]


def client(name, **kw):
    ak, sk = creds(name)
    return boto3.client("kms", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=ak,
                        aws_secret_access_key=sk, config=CONFIG, **kw)


def user_arn(name):
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def key_arn(key_id):
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def alias_arn(alias):
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"


def error(code, fn, *args, **kwargs):
    """fn(*args, **kwargs) must fail with the AWS error `code`; the error."""
    try:
        r = fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"{fn.__name__}: expected {code}, got {got}: {e}"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        assert e.response["ResponseMetadata"].get("RequestId"), e.response
        return e
    raise AssertionError(f"{fn.__name__}: expected {code}, but it succeeded: {r}")


def denied(fn, *args, **kwargs):
    return error("AccessDeniedException", fn, *args, **kwargs)


@contextmanager
def clock_offset(seconds):
    """botocore's signer sees the clock `seconds` off."""
    real = botocore.auth.get_current_datetime

    def shifted(*a, **kw):
        return real(*a, **kw) + datetime.timedelta(seconds=seconds)

    botocore.auth.get_current_datetime = shifted
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = real


def signed(op, body, name="alice", secret=None, access_key=None, headers=None):
    """An AWSRequest for TrentService.`op` with `body` (bytes, or an object
    sent as JSON) signed by botocore's SigV4Auth as principal `name` (or
    the given access key / secret)."""
    ak, sk = creds(name) if name else (None, None)
    ak = access_key or ak
    sk = secret or sk
    if not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
    h = {"Content-Type": "application/x-amz-json-1.1"}
    if op is not None:
        h["X-Amz-Target"] = "TrentService." + op
    h.update(headers or {})
    req = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers=h)
    SigV4Auth(Credentials(ak, sk), "kms", REGION).add_auth(req)
    return req


def send(req_or_headers, body=None, chunks=None):
    """Sends a request (an AWSRequest, or raw headers + body, or headers +
    an iterable of chunks sent chunked) over a fresh connection: (status,
    headers as a lower-case dict, parsed JSON body or raw bytes)."""
    if isinstance(req_or_headers, AWSRequest):
        headers = dict(req_or_headers.headers.items())
        body = req_or_headers.body
    else:
        headers = dict(req_or_headers)
    conn = http.client.HTTPConnection(HOSTPORT, timeout=20)
    try:
        if chunks is not None:
            conn.request("POST", "/", body=chunks, headers=headers, encode_chunked=True)
        else:
            conn.request("POST", "/", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        rh = {k.lower(): v for k, v in r.getheaders()}
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return r.status, rh, parsed
    finally:
        conn.close()


def expect_raw(code, status, resp):
    """A raw response must be the AWS error `code` with HTTP `status`."""
    st, h, body = resp
    assert st == status, f"expected HTTP {status} {code}, got {st}: {body}"
    assert isinstance(body, dict) and body.get("__type") == code, f"expected {code}, got {st}: {body}"
    assert h.get("x-amzn-requestid"), h
    assert h.get("content-type") == "application/x-amz-json-1.1", h


def check(name):
    """Marks a script's end: it printed this only if every assert held."""
    print(f"{name}: all checks passed")
    sys.stdout.flush()
