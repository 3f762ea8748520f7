"""A Graph change notification as Microsoft sends it, for infra/measure_lambdas.py: one
encrypted presence item (RSA-OAEP-SHA1 wrapped AES-256-CBC key, HMAC-SHA256 signature) of a
subscription the store knows, with a validation token signed by a key a loopback JWKS server
publishes (Microsoft's identity platform's part). Uses `cryptography`, which moto brings."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# Graph's change-tracking app: the caller every validation token names (azp).
CHANGE_TRACKING_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"
SUBSCRIPTION_ID = "5b6a3c1e-7d2f-4e8a-9c0b-1f2e3d4c5b6a"
CLIENT_STATE = "figures-client-state"
USER = "00000000-0000-4000-8000-0000000000f1"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Signs validation tokens (RS256) and serves its public key as a JWKS on loopback; also
    answers client-credentials token requests (`authority_url`), as Entra does for a function
    that fetches its app-only Graph token as it starts (swyx-webhook). Those are not counted as
    waits: no measured event waits for one."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        self.kid = b64url(hashlib.sha1(n).digest())
        jwks = json.dumps({"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "n": b64url(n),
                                     "e": b64url(numbers.e.to_bytes(3, "big"))}]}).encode()
        self.spans, lock = [], threading.Lock()  # (arrived, answered) per key fetch
        spans = self.spans

        class Keys(http.server.BaseHTTPRequestHandler):
            # Headers and body go out in separate writes: with Nagle's algorithm the body would
            # wait for the client's delayed ACK (40 ms on Linux).
            disable_nagle_algorithm = True

            def parse_request(self):
                self.arrived = time.perf_counter()
                return super().parse_request()

            def do_GET(self):
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(jwks)))
                self.end_headers()
                self.wfile.write(jwks)
                with lock:
                    spans.append((self.arrived, time.perf_counter()))

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length") or 0))
                answer = json.dumps({"token_type": "Bearer", "expires_in": 3599,
                                     "access_token": "figures-app-token"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keys)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.authority_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.jwks_url = f"{self.authority_url}/discovery/v2.0/keys"
        self.lock = lock

    def take_spans(self):
        """The key fetches since the last call, as (arrived, answered)."""
        with self.lock:
            taken = list(self.spans)
            self.spans.clear()
        return taken

    def token(self, app_id, tenant):
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        claims = {"aud": app_id, "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
                  "azp": CHANGE_TRACKING_APP_ID, "tid": tenant, "ver": "2.0",
                  "iat": now, "nbf": now, "exp": now + 3600}
        signing_input = (b64url(json.dumps(header).encode()) + "."
                         + b64url(json.dumps(claims).encode())).encode()
        signature = self.key.sign(signing_input, asym.PKCS1v15(), hashes.SHA256())
        return signing_input.decode() + "." + b64url(signature)

    def close(self):
        self.server.shutdown()


def encrypted_content(cert_pem, cert_id, plaintext):
    """`encryptedContent` as Graph makes it: a fresh 32-byte key wrapped with RSA-OAEP-SHA1,
    AES-256-CBC/PKCS7 with IV = key[0:16], HMAC-SHA256(key, ciphertext)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = os.urandom(32)
    wrapped = cert.public_key().encrypt(
        key, asym.OAEP(mgf=asym.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    data = encryptor.update(padded) + encryptor.finalize()
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return {"data": base64.b64encode(data).decode(),
            "dataSignature": base64.b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode(),
            "dataKey": base64.b64encode(wrapped).decode(),
            "encryptionCertificateId": cert_id, "encryptionCertificateThumbprint": thumbprint}


def collection(issuer, cert_pem, cert_id, app_id, tenant):
    """One rich presence item (a user nobody linked) and its validation token, as JSON bytes."""
    presence = {"@odata.id": f"users/{USER}/presence", "@odata.type": "#microsoft.graph.presence",
                "id": USER, "availability": "Busy", "activity": "InACall",
                "outOfOfficeSettings": {"message": None, "isOutOfOffice": False}}
    item = {"subscriptionId": SUBSCRIPTION_ID, "clientState": CLIENT_STATE,
            "changeType": "updated", "tenantId": tenant,
            "resource": f"communications/presences/{USER}",
            "subscriptionExpirationDateTime": "2030-09-14T10:00:00.0000000Z",
            "resourceData": {"@odata.id": f"users/{USER}/presence",
                             "@odata.type": "#microsoft.graph.presence", "id": USER},
            "organizationId": tenant,
            "encryptedContent": encrypted_content(cert_pem, cert_id,
                                                  json.dumps(presence).encode())}
    return json.dumps({"value": [item],
                       "validationTokens": [issuer.token(app_id, tenant)]}).encode()


def subscription_item(cert_id):
    """The store's record of the item's subscription (src/store/dynamodb/items.rs: partition
    SUBSCRIPTIONS, the record as JSON in `data`; times in milliseconds)."""
    record = {"id": SUBSCRIPTION_ID, "client_state": CLIENT_STATE,
              "expires_at": int(time.time() * 1000) + 3_600_000,
              "resource": "/communications/presences", "encryption_certificate_id": cert_id}
    return {"pk": {"S": "SUBSCRIPTIONS"}, "sk": {"S": SUBSCRIPTION_ID},
            "data": {"S": json.dumps(record)}}
