//! Our decryption against vectors made by other implementations (Python `cryptography`, see
//! infra/testvectors/make_vectors.py, and the sandbox's Graph emulator), plus the failure cases a
//! webhook must tell apart.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use presence_bridge::graph::crypto::{
    DecryptError, KeyError, NotificationKeys, public_key_der_from_private_pem,
};
use presence_bridge::graph::notification::{ChangeNotificationCollection, EncryptedContent};
use presence_sandbox::graph::{EncryptionCertificate, encrypt_resource};
use serde_json::Value;

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/crypto")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap()
}

struct Vector {
    content: EncryptedContent,
    tampered: bool,
    plaintext: Option<Vec<u8>>,
}

struct Set {
    bits: u64,
    certificate_id: String,
    pkcs8: Vec<u8>,
    vectors: Vec<Vector>,
}

fn sets() -> Vec<Set> {
    let manifest: Value = serde_json::from_slice(&read("manifest.json")).unwrap();
    let sets = manifest["sets"].as_array().unwrap();
    assert_eq!(sets.len(), 2, "2048 and 4096-bit sets expected");
    sets.iter()
        .map(|set| {
            let collection: ChangeNotificationCollection =
                serde_json::from_slice(&read(set["notifications"].as_str().unwrap())).unwrap();
            let expected = set["expected"].as_array().unwrap();
            assert_eq!(expected.len(), collection.value.len());
            let vectors = collection
                .value
                .into_iter()
                .zip(expected)
                .map(|(item, exp)| Vector {
                    content: item.encrypted_content.unwrap(),
                    tampered: exp["tampered"].as_bool().unwrap(),
                    plaintext: exp["plaintextBase64"]
                        .as_str()
                        .map(|b| B64.decode(b).unwrap()),
                })
                .collect();
            Set {
                bits: set["bits"].as_u64().unwrap(),
                certificate_id: set["certificateId"].as_str().unwrap().to_owned(),
                pkcs8: read(set["pkcs8"].as_str().unwrap()),
                vectors,
            }
        })
        .collect()
}

fn keys(id: Option<&str>, pems: &[&[u8]]) -> NotificationKeys {
    let mut keys = NotificationKeys::new();
    for pem in pems {
        keys.add_pem(id, pem).unwrap();
    }
    keys
}

#[test]
fn every_vector_decrypts_byte_for_byte() {
    for set in sets() {
        let keys = keys(Some(&set.certificate_id), &[&set.pkcs8]);
        let good: Vec<_> = set.vectors.iter().filter(|v| !v.tampered).collect();
        assert!(good.len() >= 4, "{} bits: too few vectors", set.bits);
        for (i, v) in good.iter().enumerate() {
            let plain = keys.decrypt(&v.content).unwrap();
            assert_eq!(
                Some(&plain),
                v.plaintext.as_ref(),
                "{} bits, item {i}",
                set.bits
            );
        }
        // The vectors cover what the task asks for: non-ASCII text, many blocks, a whole-block payload.
        let texts: Vec<_> = good.iter().filter_map(|v| v.plaintext.as_ref()).collect();
        assert!(
            texts
                .iter()
                .any(|t| std::str::from_utf8(t).unwrap().contains("zurück"))
        );
        assert!(texts.iter().any(|t| t.len() > 512));
        assert!(texts.iter().any(|t| t.len() % 16 == 0));
    }
}

#[test]
fn tampered_data_fails_the_signature_check() {
    for set in sets() {
        let keys = keys(Some(&set.certificate_id), &[&set.pkcs8]);
        let tampered: Vec<_> = set.vectors.iter().filter(|v| v.tampered).collect();
        assert_eq!(tampered.len(), 1);
        let err = keys.decrypt(&tampered[0].content).unwrap_err();
        assert!(
            matches!(err, DecryptError::Signature),
            "{} bits: {err}",
            set.bits
        );
        assert!(err.to_string().contains("signature"), "{err}");
    }
}

#[test]
fn the_wrong_key_cannot_unwrap_the_data_key() {
    let sets = sets();
    let other = read("other2048.pkcs8.pem");
    let set2048 = sets.iter().find(|s| s.bits == 2048).unwrap();
    let keys_other = keys(Some(&set2048.certificate_id), &[&other]);
    let err = keys_other.decrypt(&set2048.vectors[0].content).unwrap_err();
    assert!(matches!(err, DecryptError::KeyUnwrap), "{err}");

    // A 4096-bit dataKey under a configured 2048-bit key is also the wrong key, not malformed input.
    let set4096 = sets.iter().find(|s| s.bits == 4096).unwrap();
    let keys_small = keys(Some(&set4096.certificate_id), &[&set2048.pkcs8]);
    let err = keys_small.decrypt(&set4096.vectors[0].content).unwrap_err();
    assert!(matches!(err, DecryptError::KeyUnwrap), "{err}");
}

#[test]
fn an_unknown_certificate_id_is_named() {
    let sets = sets();
    let set4096 = sets.iter().find(|s| s.bits == 4096).unwrap();
    let set2048 = sets.iter().find(|s| s.bits == 2048).unwrap();
    let keys = keys(Some(&set4096.certificate_id), &[&set4096.pkcs8]);
    let err = keys.decrypt(&set2048.vectors[0].content).unwrap_err();
    assert!(
        matches!(&err, DecryptError::UnknownCertificate(id) if *id == set2048.certificate_id),
        "{err}"
    );
    assert!(err.to_string().contains(&set2048.certificate_id), "{err}");
}

#[test]
fn rotation_keeps_old_and_new_certificates_working() {
    let sets = sets();
    let mut keys = NotificationKeys::new();
    for set in &sets {
        keys.add_pem(Some(&set.certificate_id), &set.pkcs8).unwrap();
    }
    assert_eq!(
        keys.certificate_ids(),
        vec!["vector-cert-2048", "vector-cert-4096"]
    );
    for set in &sets {
        let v = &set.vectors[0];
        assert_eq!(Some(keys.decrypt(&v.content).unwrap()), v.plaintext);
    }
}

#[test]
fn pkcs1_and_pkcs8_of_one_key_decrypt_alike() {
    let sets = sets();
    let set = sets.iter().find(|s| s.bits == 2048).unwrap();
    let p8 = keys(Some(&set.certificate_id), &[&set.pkcs8]);
    let p1 = keys(Some(&set.certificate_id), &[&read("key2048.pkcs1.pem")]);
    for v in set.vectors.iter().filter(|v| !v.tampered) {
        let from_p1 = p1.decrypt(&v.content).unwrap();
        assert_eq!(from_p1, p8.decrypt(&v.content).unwrap());
        assert_eq!(Some(from_p1), v.plaintext);
    }
    assert_eq!(
        public_key_der_from_private_pem(&read("key2048.pkcs1.pem")).unwrap(),
        public_key_der_from_private_pem(&set.pkcs8).unwrap()
    );
}

/// The certificate of a fixture key, as Graph's `encryptionCertificate` (a PEM body is base64 DER).
fn certificate(bits: u64) -> EncryptionCertificate {
    let pem = String::from_utf8(read(&format!("key{bits}.cert.pem"))).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    EncryptionCertificate::from_base64_der(&body).unwrap()
}

#[test]
fn what_the_sandbox_encrypts_decrypts_for_2048_and_4096_bit_keys() {
    for set in sets() {
        let keys = keys(Some("sandbox"), &[&set.pkcs8]);
        let cert = certificate(set.bits);
        let long = "Bin im Urlaub – zurück am 3. März 🌴 ".repeat(30);
        for plaintext in [&b""[..], b"0123456789abcdef", long.as_bytes()] {
            let value = encrypt_resource(&cert, "sandbox", plaintext).unwrap();
            let content: EncryptedContent = serde_json::from_value(value).unwrap();
            assert_eq!(content.encryption_certificate_id, "sandbox");
            assert_eq!(
                B64.decode(&content.data_key).unwrap().len() as u64 * 8,
                set.bits
            );
            assert_eq!(
                keys.decrypt(&content).unwrap(),
                plaintext,
                "{} bits",
                set.bits
            );
        }
    }
}

#[test]
fn garbage_fields_are_malformed_and_never_panic() {
    let sets = sets();
    let set = sets.iter().find(|s| s.bits == 2048).unwrap();
    let keys = keys(Some(&set.certificate_id), &[&set.pkcs8]);
    let good = &set.vectors[0].content;
    let garbage = ["%%%not base64%%%", "AAA", "ÄÖÜ", "QUJD\n=="];
    for junk in garbage {
        for field in ["data", "dataSignature", "dataKey"] {
            let mut c = good.clone();
            match field {
                "data" => c.data = junk.to_owned(),
                "dataSignature" => c.data_signature = junk.to_owned(),
                _ => c.data_key = junk.to_owned(),
            }
            let err = keys.decrypt(&c).unwrap_err();
            assert!(
                matches!(err, DecryptError::Malformed(m) if m.starts_with(&format!("{field} "))),
                "{field} = {junk:?}: {err}"
            );
        }
    }
    let mut empty_key = good.clone();
    empty_key.data_key = String::new();
    assert!(
        matches!(keys.decrypt(&empty_key), Err(DecryptError::Malformed(m)) if m.contains("dataKey"))
    );
    // Valid base64 of the wrong size for the key: it was not made for this key.
    let mut short = good.clone();
    short.data_key = B64.encode([7u8; 100]);
    assert!(matches!(keys.decrypt(&short), Err(DecryptError::KeyUnwrap)));
}

#[test]
fn unsuitable_keys_are_refused_with_a_reason() {
    let mut keys = NotificationKeys::new();
    let err = keys.add_pem(None, &read("weak1024.pkcs8.pem")).unwrap_err();
    assert!(matches!(err, KeyError::KeySize(_)), "{err}");
    assert!(err.to_string().contains("2048"), "{err}");
    let err = keys.add_pem(None, &read("ec-p256.pkcs8.pem")).unwrap_err();
    assert!(matches!(err, KeyError::NotRsa), "{err}");
    let err = keys.add_pem(None, &read("key2048.cert.pem")).unwrap_err();
    assert!(matches!(err, KeyError::NoPrivateKey), "{err}");
    let err = keys.add_pem(None, &read("key2048.p12")).unwrap_err();
    assert!(matches!(err, KeyError::NoPrivateKey), "{err}");
    assert!(keys.is_empty());
}
