# Re-run (only when the vectors must change; CI reads the committed files):
#   python3 -m venv /tmp/tv && /tmp/tv/bin/pip install cryptography && /tmp/tv/bin/python infra/testvectors/make_vectors.py
"""Rich-notification test vectors made with Python's `cryptography` (OpenSSL), not with our Rust code,
so tests/crypto_vectors.rs checks our decryption against an independent implementation of Graph's
algorithm (docs/architecture.md#rich-notification-decryption):

  dataKey       = base64(RSA-OAEP(SHA-1, MGF1-SHA-1, no label)(32-byte key))
  data          = base64(AES-256-CBC/PKCS7(key, IV = key[:16])(resource JSON))
  dataSignature = base64(HMAC-SHA256(key, base64-decoded data))

Writes into tests/fixtures/crypto/ (run from the repository root or anywhere):
  key2048.pkcs8.pem, key2048.pkcs1.pem, key2048.cert.pem, key2048.p12 (password in manifest)
  key4096.pkcs8.pem, key4096.cert.pem
  other2048.pkcs8.pem                   a second 2048-bit key: "wrong key" cases
  weak1024.pkcs8.pem, ec-p256.pkcs8.pem  keys that must be refused (too small, not RSA)
  notifications-2048.json, notifications-4096.json   Graph changeNotificationCollection shape (docs/architecture.md#change-notification-payload)
  manifest.json                         which files belong together and each item's expected bytes
The LAST item of each collection is tampered (one ciphertext byte flipped after signing):
manifest marks it `"tampered": true` and it must fail signature verification.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "crypto"
P12_PASSWORD = b"vector-test-password"
TENANT = "a1b2c3d4-0000-4000-8000-00000000aaaa"
CLIENT_STATE = "vector-client-state"
USERS = [
    "11111111-2222-4333-8444-555555555501",
    "11111111-2222-4333-8444-555555555502",
    "11111111-2222-4333-8444-555555555503",
    "11111111-2222-4333-8444-555555555504",
]


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def presence(user, availability, activity, ooo, message, seq, pad_to_block=False):
    doc = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#communications/presences/$entity",
        "@odata.id": f"users/{user}/presence",
        "@odata.type": "#microsoft.graph.presence",
        "id": user,
        "availability": availability,
        "activity": activity,
        "outOfOfficeSettings": {"message": message, "isOutOfOffice": ooo},
        "sequenceNumber": seq,
    }
    # ensure_ascii=False: the bytes on the wire are raw UTF-8, as Graph sends them.
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if pad_to_block:
        # Exactly n*16 bytes: PKCS7 then adds a whole padding block (an edge case for unpadding).
        text += b" " * ((-len(text)) % 16)
        assert len(text) % 16 == 0
    return text


def encrypt(public_key, plaintext: bytes):
    key = os.urandom(32)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    data = enc.update(padded) + enc.finalize()
    sig = hmac.new(key, data, hashlib.sha256).digest()
    data_key = public_key.encrypt(
        key,
        asym_padding.OAEP(mgf=asym_padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
    )
    return data, sig, data_key


def self_signed(key, name):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def write(name, data: bytes):
    (OUT / name).write_bytes(data)


def pem_pkcs8(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def collection(key, cert, cert_id, bits):
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()
    plaintexts = [
        presence(USERS[0], "Available", "Available", False, None, "638000000000000001"),
        presence(USERS[1], "Busy", "InACall", False, None, "638000000000000002", pad_to_block=True),
        presence(
            USERS[2],
            "Away",
            "OffWork",
            True,
            "Bin im Urlaub – zurück am 3. März. Dringendes bitte an Zoë Ångström 🌴 (ÄÖÜß €)",
            "638000000000000003",
        ),
        presence(
            USERS[3],
            "DoNotDisturb",
            "Presenting",
            False,
            "Präsentation läuft; " + "bitte nicht stören. " * 20,
            "638000000000000004",
        ),
        # Tampered below: a valid-looking item whose data no longer matches its signature.
        presence(USERS[0], "Offline", "OffWork", False, None, "638000000000000005"),
    ]
    items, expected = [], []
    for i, pt in enumerate(plaintexts):
        data, sig, data_key = encrypt(key.public_key(), pt)
        tampered = i == len(plaintexts) - 1
        if tampered:
            flipped = bytearray(data)
            flipped[len(flipped) // 2] ^= 0x01
            data = bytes(flipped)
        user = USERS[i % len(USERS)]
        items.append(
            {
                "subscriptionId": f"5f0e2c1a-0000-4000-8000-{bits:06d}{i:06d}",
                "clientState": CLIENT_STATE,
                "changeType": "updated",
                "tenantId": TENANT,
                "resource": f"communications/presences/{user}",
                "subscriptionExpirationDateTime": "2026-09-14T10:00:00.0000000Z",
                "resourceData": {
                    "@odata.id": f"users/{user}/presence",
                    "@odata.type": "#microsoft.graph.presence",
                    "id": user,
                },
                "organizationId": TENANT,
                "encryptedContent": {
                    "data": b64(data),
                    "dataSignature": b64(sig),
                    "dataKey": b64(data_key),
                    "encryptionCertificateId": cert_id,
                    "encryptionCertificateThumbprint": thumbprint,
                },
            }
        )
        expected.append(
            {
                "index": i,
                "tampered": tampered,
                "plaintextBase64": None if tampered else b64(pt),
                "plaintextLength": len(pt),
            }
        )
    doc = {"value": items, "validationTokens": ["placeholder-not-a-jwt"]}
    return json.dumps(doc, indent=2).encode("utf-8") + b"\n", expected


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {"generator": f"python cryptography, {pathlib.Path(__file__).name}", "sets": []}
    key2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key4096 = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    other2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    write("key2048.pkcs8.pem", pem_pkcs8(key2048))
    write(
        "key2048.pkcs1.pem",
        key2048.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )
    write("key4096.pkcs8.pem", pem_pkcs8(key4096))
    write("other2048.pkcs8.pem", pem_pkcs8(other2048))
    write("weak1024.pkcs8.pem", pem_pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    write("ec-p256.pkcs8.pem", pem_pkcs8(ec.generate_private_key(ec.SECP256R1())))

    for key, bits, cert_id in [(key2048, 2048, "vector-cert-2048"), (key4096, 4096, "vector-cert-4096")]:
        cert = self_signed(key, f"presence-bridge test vector {bits}")
        write(f"key{bits}.cert.pem", cert.public_bytes(serialization.Encoding.PEM))
        if bits == 2048:
            write(
                "key2048.p12",
                pkcs12.serialize_key_and_certificates(
                    b"vector-2048",
                    key,
                    cert,
                    None,
                    serialization.BestAvailableEncryption(P12_PASSWORD),
                ),
            )
        body, expected = collection(key, cert, cert_id, bits)
        write(f"notifications-{bits}.json", body)
        manifest["sets"].append(
            {
                "bits": bits,
                "certificateId": cert_id,
                "pkcs8": f"key{bits}.pkcs8.pem",
                "pkcs1": "key2048.pkcs1.pem" if bits == 2048 else None,
                "certificate": f"key{bits}.cert.pem",
                "pkcs12": {"file": "key2048.p12", "password": P12_PASSWORD.decode()} if bits == 2048 else None,
                "notifications": f"notifications-{bits}.json",
                "expected": expected,
            }
        )
    manifest["wrongKey2048"] = "other2048.pkcs8.pem"
    manifest["refused"] = ["weak1024.pkcs8.pem", "ec-p256.pkcs8.pem"]
    write("manifest.json", json.dumps(manifest, indent=2).encode("utf-8") + b"\n")


if __name__ == "__main__":
    main()
