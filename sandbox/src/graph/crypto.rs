//! Graph's side of rich notifications, written independently of the bridge: encrypting resource
//! data for a subscription's certificate, and signing validation tokens with a key published as a
//! JWKS. Algorithms as Microsoft describes them in
//! <https://learn.microsoft.com/en-us/graph/change-notifications-with-resource-data>.
//!
//! **The independent implementation for tests.** The emulator uses these functions for its own
//! notifications, and a bridge test may use them (with [`super::wire`]) to build a Graph
//! notification collection without the bridge's code: [`EncryptionCertificate::from_base64_der`]
//! and [`encrypt_resource`] for `encryptedContent`, and the emulator's
//! `GraphEmulator::sign_validation_token` (or a [`TokenSigner`] of one's own) for
//! `validationTokens` that verify against the emulator's JWKS. These are stable public API.

use anyhow::{Context, anyhow};
use aws_lc_rs::cipher::{AES_256, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{
    KeyPair as RsaKeyPair, KeySize, OAEP_SHA1_MGF1SHA1, OaepPublicEncryptingKey,
    PublicEncryptingKey, PublicKeyComponents,
};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// The Microsoft Graph Change Tracking app: the `azp` of every validation token.
pub const CHANGE_TRACKING_APP_ID: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";

/// Random bytes from aws-lc's CSPRNG. Failing here means the OS has no entropy: nothing sane to do.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if aws_lc_rs::rand::fill(&mut out).is_err() {
        panic!("the system random number generator failed");
    }
    out
}

/// An opaque random string (base64url), for tokens, codes and ids.
pub(crate) fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// A subscription's encryption certificate, reduced to what encryption needs.
/// Public data only, so `Debug` is safe.
#[derive(Clone, Debug)]
pub struct EncryptionCertificate {
    spki_der: Vec<u8>,
    /// Hex SHA-1 of the certificate DER, upper case as Graph writes it.
    pub thumbprint: String,
}

impl EncryptionCertificate {
    /// From `encryptionCertificate` as a subscription carries it (base64 DER X.509, RSA
    /// 2048–4096 bits). The error names the problem.
    pub fn from_base64_der(certificate: &str) -> Result<Self, String> {
        parse_encryption_certificate(certificate)
    }

    /// Hex SHA-1 of the certificate, upper case (`encryptionCertificateThumbprint`).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

/// Parses `encryptionCertificate` (base64 DER X.509) and checks it holds an RSA key of 2048–4096
/// bits, as Graph requires. The error names the problem.
pub(crate) fn parse_encryption_certificate(b64: &str) -> Result<EncryptionCertificate, String> {
    let der = STANDARD
        .decode(b64.trim())
        .map_err(|_| "encryptionCertificate is not valid base64".to_owned())?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|_| "encryptionCertificate is not a DER X.509 certificate".to_owned())?;
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(_)) => {}
        _ => return Err("encryptionCertificate must hold an RSA public key".to_owned()),
    }
    let key = PublicEncryptingKey::from_der(spki.raw)
        .map_err(|_| "encryptionCertificate's RSA key is not usable".to_owned())?;
    let bits = key.key_size_bits();
    if !(2048..=4096).contains(&bits) {
        return Err(format!(
            "encryptionCertificate's RSA key has {bits} bits; 2048 to 4096 are allowed"
        ));
    }
    let thumbprint = digest(&SHA1_FOR_LEGACY_USE_ONLY, &der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(EncryptionCertificate {
        spki_der: spki.raw.to_vec(),
        thumbprint,
    })
}

/// `encryptedContent` exactly as Graph makes it: a fresh 32-byte key, RSA-OAEP-SHA1 wrapped;
/// AES-256-CBC/PKCS7 with IV = key[0..16]; HMAC-SHA256(key, ciphertext). `cert_id` is the
/// subscription's `encryptionCertificateId`; `plaintext` the resource JSON (e.g.
/// [`super::wire::presence_resource`]).
pub fn encrypt_resource(
    cert: &EncryptionCertificate,
    cert_id: &str,
    plaintext: &[u8],
) -> anyhow::Result<Value> {
    let key: [u8; 32] = random_bytes();
    let public = PublicEncryptingKey::from_der(&cert.spki_der)
        .map_err(|_| anyhow!("certificate key rejected"))?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| anyhow!("RSA-OAEP unavailable"))?;
    let mut wrapped = vec![0u8; oaep.ciphertext_size()];
    let wrapped_len = oaep
        .encrypt(&OAEP_SHA1_MGF1SHA1, &key, &mut wrapped, None)
        .map_err(|_| anyhow!("RSA-OAEP encryption failed"))?
        .len();
    wrapped.truncate(wrapped_len);

    let cipher_key =
        UnboundCipherKey::new(&AES_256, &key).map_err(|_| anyhow!("AES key rejected"))?;
    let aes = PaddedBlockEncryptingKey::cbc_pkcs7(cipher_key)
        .map_err(|_| anyhow!("AES-CBC unavailable"))?;
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&key[..16]);
    let mut data = plaintext.to_vec();
    aes.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(&iv)))
        .map_err(|_| anyhow!("AES-CBC encryption failed"))?;

    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &data);
    Ok(json!({
        "data": STANDARD.encode(&data),
        "dataSignature": STANDARD.encode(mac.as_ref()),
        "dataKey": STANDARD.encode(&wrapped),
        "encryptionCertificateId": cert_id,
        "encryptionCertificateThumbprint": cert.thumbprint,
    }))
}

/// Signs validation tokens as Microsoft's identity platform would (RS256, one key, `kid` in the
/// header) and publishes the public half as a JWKS. No `Debug`: it holds a private key.
pub struct TokenSigner {
    key: RsaKeyPair,
    kid: String,
    n: String,
    e: String,
}

impl TokenSigner {
    /// A fresh RSA-2048 key.
    pub fn generate() -> anyhow::Result<Self> {
        let key = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow!("RSA key generation failed"))?;
        let public = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
        let n = URL_SAFE_NO_PAD.encode(&public.n);
        // Like Entra, the kid is derived from the key (here: its SHA-1), so it is stable per key.
        let kid = URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, &public.n).as_ref());
        Ok(Self {
            key,
            kid,
            n,
            e: URL_SAFE_NO_PAD.encode(&public.e),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// `{"keys": [<the public key as a JWK>]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [{
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "alg": "RS256",
            "n": self.n, "e": self.e,
        }]})
    }

    /// A compact RS256 JWT over any claims (for negative tests: wrong audience, expired, …).
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let header = json!({ "typ": "JWT", "alg": "RS256", "kid": self.kid, "x5t": self.kid });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| anyhow!("RS256 signing failed"))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&sig)))
    }

    /// A Graph v2.0 validation token for `app_id` in `tenant_id`, issued at `now_secs`.
    pub fn validation_token(
        &self,
        app_id: &str,
        tenant_id: &str,
        now_secs: i64,
    ) -> anyhow::Result<String> {
        self.sign(&validation_token_claims(app_id, tenant_id, now_secs))
    }
}

/// The claims of a Graph v2.0 validation token (the example claim set of
/// <https://learn.microsoft.com/en-us/graph/change-notifications-with-resource-data>), living
/// one hour. Pass wall-clock seconds: a bridge checks `exp`/`nbf` against the real time,
/// whatever the sandbox clock says.
pub fn validation_token_claims(app_id: &str, tenant_id: &str, now_secs: i64) -> Value {
    let principal = uuid::Uuid::new_v4().to_string();
    json!({
        "aud": app_id,
        "iss": format!("https://login.microsoftonline.com/{tenant_id}/v2.0"),
        "iat": now_secs,
        "nbf": now_secs,
        "exp": now_secs + 3600,
        "aio": random_token::<24>(),
        "azp": CHANGE_TRACKING_APP_ID,
        "azpacr": "2",
        "oid": principal,
        "sub": principal,
        "tid": tenant_id,
        "uti": random_token::<16>(),
        "ver": "2.0",
    })
}

/// A fresh RSA-2048 key and a self-signed certificate for it, as a bridge operator would make
/// them: `(PKCS#8 PEM private key, base64 DER certificate)` — the latter is what goes into a
/// subscription's `encryptionCertificate`.
pub fn make_encryption_certificate() -> anyhow::Result<(String, String)> {
    let key =
        RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow!("RSA key generation failed"))?;
    let pkcs8 = key.as_der().map_err(|_| anyhow!("PKCS#8 export failed"))?;
    let key_pair =
        rcgen::KeyPair::try_from(pkcs8.as_ref()).context("rcgen rejected the RSA key")?;
    let params = rcgen::CertificateParams::new(vec!["presence-bridge.sandbox".to_owned()])
        .context("certificate parameters")?;
    let cert = params
        .self_signed(&key_pair)
        .context("self-signing the certificate")?;
    Ok((key_pair.serialize_pem(), STANDARD.encode(cert.der())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_round_trip_gives_an_upper_hex_sha1_thumbprint() {
        let (pem, cert_b64) = make_encryption_certificate().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let cert = parse_encryption_certificate(&cert_b64).unwrap();
        assert_eq!(cert.thumbprint.len(), 40);
        assert!(
            cert.thumbprint
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        let content = encrypt_resource(&cert, "cert-1", b"{}").unwrap();
        // 2048-bit RSA wraps the key into 256 bytes; "{}" pads to one AES block.
        assert_eq!(
            STANDARD
                .decode(content["dataKey"].as_str().unwrap())
                .unwrap()
                .len(),
            256
        );
        assert_eq!(
            STANDARD
                .decode(content["data"].as_str().unwrap())
                .unwrap()
                .len(),
            16
        );
        assert_eq!(content["encryptionCertificateId"], "cert-1");
    }

    #[test]
    fn rejects_what_is_not_an_rsa_certificate() {
        assert!(
            parse_encryption_certificate("%%%")
                .unwrap_err()
                .contains("base64")
        );
        assert!(
            parse_encryption_certificate("AAAA")
                .unwrap_err()
                .contains("X.509")
        );
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x".to_owned()])
            .unwrap()
            .self_signed(&ec)
            .unwrap();
        let err = parse_encryption_certificate(&STANDARD.encode(cert.der())).unwrap_err();
        assert!(err.contains("RSA"), "{err}");
    }

    #[test]
    fn signed_tokens_name_the_published_kid() {
        let signer = TokenSigner::generate().unwrap();
        let token = signer
            .validation_token("app", "tenant", 1_700_000_000)
            .unwrap();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["kid"], signer.kid());
        assert_eq!(signer.jwks()["keys"][0]["kid"], signer.kid());
        assert_eq!(signer.jwks()["keys"][0]["e"], "AQAB");
    }
}
