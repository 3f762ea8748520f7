#!/usr/bin/env bash
# Makes the key pair Graph encrypts rich notifications for: an RSA-2048 private key (PKCS#8 PEM,
# goes to Secrets Manager) and a self-signed certificate (its base64 DER goes into every
# subscription's `encryptionCertificate`). Prints the certificate id to deploy with
# (EncryptionCertificateId / the `id` in GRAPH_ENCRYPTION_KEYS).
#
# Usage: infra/make-encryption-cert.sh [OUT_DIR] [CERT_ID]
#   OUT_DIR  default ./notify-cert        CERT_ID  default bridge-notify-<YYYYMMDD>
set -euo pipefail

out=${1:-notify-cert}
id=${2:-bridge-notify-$(date -u +%Y%m%d)}
if ! [[ $id =~ ^[A-Za-z0-9._-]{1,128}$ ]]; then
  echo "certificate id '$id': use 1-128 of A-Z a-z 0-9 . _ -" >&2
  exit 2
fi
if [ -e "$out/private-key.pem" ]; then
  echo "$out/private-key.pem exists; refusing to overwrite a key in use" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 2; }

mkdir -p "$out"
umask 077
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/private-key.pem" 2>/dev/null
# Graph only uses the public key; validity covers a rotation period with room to spare.
openssl req -new -x509 -key "$out/private-key.pem" -days 730 -subj "/CN=presence-bridge $id" \
  -out "$out/certificate.pem" 2>/dev/null
openssl x509 -in "$out/certificate.pem" -outform DER | base64 | tr -d '\n' > "$out/certificate.b64"
printf '%s\n' "$id" > "$out/certificate-id.txt"

echo "private key (to Secrets Manager):   $out/private-key.pem"
echo "certificate (base64 DER, for Graph): $out/certificate.b64"
echo "certificate id:                      $id"
