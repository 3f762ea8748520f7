#!/usr/bin/env python3
"""Writes the fuzz targets' fixtures and seed inputs (run from the repository root, needs openssl).

- fuzz/fixtures/jwks.json: the public half of tests/fixtures/jwt/key1.pem, the key the seeds'
  validation tokens are signed with (the targets verify against it, never fetching);
- fuzz/seeds/TARGET/: seeds from the test fixtures (tests/fixtures/crypto: Graph's encryption, so
  decryption is reached) and from the verbatim payloads of the Graph research notes (section 9
  of graph.md, passed as an argument when present).

The committed corpora (fuzz/corpus/TARGET) are these seeds plus what fuzzing found, minimised
(`cargo fuzz cmin`). The constants below are the targets' own (fuzz/fuzz_targets/common/mod.rs).
"""

import base64
import hashlib
import hmac
import json
import pathlib
import re
import subprocess
import sys

APP_ID = "8e1f5b2a-0000-4000-8000-00000000f022"
TENANT = "a1b2c3d4-0000-4000-8000-00000000aaaa"
NOW = 1_789_376_400  # 2026-09-14T09:00:00Z, the targets' frozen clock (seconds)
KID = "fuzz-key-1"
CHANGE_TRACKING = "0bf30f3b-4a52-48df-9a82-234910c4a086"
KEY = "tests/fixtures/jwt/key1.pem"
ROOT = pathlib.Path("fuzz")
# The Swyx -> bridge events' signing secret of the webhook_signature target.
WHSEC = "whsec_" + base64.b64encode(b"fuzz-signing-secret-32-bytes-ok!").decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_public_numbers(pem: str) -> tuple[bytes, bytes]:
    text = subprocess.run(
        ["openssl", "rsa", "-in", pem, "-noout", "-modulus"],
        check=True, capture_output=True, text=True,
    ).stdout
    modulus = bytes.fromhex(text.strip().split("=", 1)[1])
    return modulus, (65537).to_bytes(3, "big")


def sign(claims: dict, header: dict | None = None) -> str:
    header = header or {"typ": "JWT", "alg": "RS256", "kid": KID}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", KEY],
        input=signing_input.encode(), check=True, capture_output=True,
    ).stdout
    return signing_input + "." + b64url(signature)


def claims(version: str) -> dict:
    c = {"aud": APP_ID, "tid": TENANT, "ver": version, "iat": NOW - 300, "nbf": NOW - 300,
         "exp": NOW + 3600}
    if version == "2.0":
        c |= {"azp": CHANGE_TRACKING, "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0"}
    else:
        c |= {"appid": CHANGE_TRACKING, "iss": f"https://sts.windows.net/{TENANT}/"}
    return c


def write(target: str, name: str, data: bytes) -> None:
    d = ROOT / "seeds" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def research_blocks(path: str) -> list[tuple[str, str]]:
    """The json code blocks of section 9, with their subsection title."""
    text = pathlib.Path(path).read_text()
    section = text[text.index("## 9."):]
    out, title = [], ""
    for m in re.finditer(r"^### ([^\n]*)$|^```json\n(.*?)^```", section, re.M | re.S):
        if m.group(1):
            title = m.group(1)
        else:
            out.append((title, m.group(2)))
    return out


def main() -> None:
    n, e = rsa_public_numbers(KEY)
    jwks = {"keys": [{"kty": "RSA", "use": "sig", "kid": KID, "n": b64url(n), "e": b64url(e)}]}
    (ROOT / "fixtures").mkdir(parents=True, exist_ok=True)
    (ROOT / "fixtures" / "jwks.json").write_text(json.dumps(jwks, indent=1) + "\n")

    v2, v1 = sign(claims("2.0")), sign(claims("1.0"))
    write("validation_token", "v2", v2.encode())
    write("validation_token", "v1", v1.encode())
    write("validation_token", "expired", sign(claims("2.0") | {"exp": NOW - 3600}).encode())
    write("validation_token", "none-alg", (b64url(b'{"alg":"none","kid":"fuzz-key-1"}') + "."
                                           + v2.split(".")[1] + ".").encode())

    crypto = pathlib.Path("tests/fixtures/crypto")
    # Every 2048-bit vector, and one 4096-bit one (each of those decryptions costs ~10 times more).
    for bits in (2048, 4096):
        collection = json.loads((crypto / f"notifications-{bits}.json").read_text())
        collection["validationTokens"] = [v2]
        if bits == 2048:
            write("notification_collection", f"fixture-{bits}", json.dumps(collection).encode())
        for i, item in enumerate(collection["value"][: 5 if bits == 2048 else 1]):
            one = {"value": [item], "validationTokens": [v1 if i % 2 else v2]}
            write("notification_collection", f"fixture-{bits}-item{i}", json.dumps(one).encode())
    lifecycle = {"value": [{"subscriptionId": "5f0e2c1a-0000-4000-8000-002048000000",
                            "clientState": "vector-client-state", "tenantId": TENANT,
                            "lifecycleEvent": "reauthorizationRequired"}]}
    write("notification_collection", "lifecycle", json.dumps(lifecycle).encode())

    # config: the README's examples and the unit tests' file
    readme = pathlib.Path("README.md").read_text()
    for i, block in enumerate(re.findall(r"^```toml\n(.*?)^```", readme, re.M | re.S)):
        target = "mapping_rules" if "[[rule]]" in block else "config_toml"
        write(target, f"readme-{i}", block.encode())
    tests = pathlib.Path("src/config/tests.rs").read_text()
    good = re.search(r'const GOOD: &str = r#"(.*?)"#;', tests, re.S)
    if good:
        write("config_toml", "tests-good", good.group(1).encode())
    write("mapping_rules", "default", pathlib.Path("src/domain/default_rules.toml").read_bytes())

    events = [
        {"type": "speaking.started", "swyxUserId": "1001", "callId": "c-1",
         "at": "2026-09-14T09:00:00.123Z"},
        {"type": "speaking.ended", "swyxUserId": "1001", "callId": "c-1",
         "at": "2026-09-14T09:05:00+02:00"},
        {"type": "status.changed", "swyxUserId": "1002", "status": "DoNotDisturb",
         "origin": "user", "at": "2026-09-14T09:00:00Z"},
        {"type": "future.thing", "swyxUserId": "1003", "at": "2026-09-14T09:00:00Z"},
    ]
    key = base64.b64decode(WHSEC.removeprefix("whsec_"))
    for i, event in enumerate(events):
        body = json.dumps(event).encode()
        write("swyx_event", f"event-{i}", body)
        msg_id = f"msg_{i:032x}"
        mac = hmac.new(key, f"{msg_id}.{NOW}.".encode() + body, hashlib.sha256).digest()
        signature = "v1," + base64.b64encode(mac).decode()
        write("webhook_signature", f"event-{i}",
              f"{msg_id}\n{NOW}\n{signature} v1,bm90IGl0\n".encode() + body)

    page = {"users": [
        {"swyxUserId": "1001", "name": "Ada", "email": "ada@example.com", "groups": ["Sales"],
         "teamsStatus": {"swyxUserId": "1001", "status": "DoNotDisturb", "revision": 7}},
        {"swyxUserId": "1002", "name": "Bob", "email": None}],
        "nextCursor": "c2"}
    write("connector_responses", "users-page", b"\x00" + json.dumps(page).encode())
    write("connector_responses", "users-last-page", b"\x00" + b'{"users":[]}')
    write("connector_responses", "error", b"\x01" + b'{"error":"bad_request","message":"x"}')

    if len(sys.argv) > 1:
        for i, (title, block) in enumerate(research_blocks(sys.argv[1])):
            body = block.encode()
            name = f"graph-md-{i:02}"
            write("notification_collection", name, body)
            write("swyx_event", name, body)
            for kind in range(8):
                write("graph_responses", f"{name}-kind{kind}", bytes([kind]) + body)
            if "presences" in block or "getPresencesByUserId" in title:
                write("graph_responses", f"{name}-list", b"\x02" + body)
            if "subscription" in title.lower():
                wrapped = b'{"value":[' + body + b"]}"
                write("graph_responses", f"{name}-listed", b"\x01" + wrapped)


if __name__ == "__main__":
    main()
