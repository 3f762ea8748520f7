use super::*;
use aws_lc_rs::cipher::{EncryptionContext, PaddedBlockEncryptingKey};
use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey};

/// Graph's side of the algorithm, for these unit tests only (integration tests encrypt with the
/// sandbox's independent implementation): encrypts `plaintext` for the RSA public key (X.509
/// SubjectPublicKeyInfo DER) under a fresh random 32-byte key.
fn encrypt_resource(
    public_key_der_spki: &[u8],
    certificate_id: &str,
    plaintext: &[u8],
) -> Result<EncryptedContent, KeyError> {
    let public =
        PublicEncryptingKey::from_der(public_key_der_spki).map_err(|_| KeyError::PublicKey)?;
    let public = OaepPublicEncryptingKey::new(public).map_err(|_| KeyError::PublicKey)?;
    let mut key = DataKey([0u8; DATA_KEY_LEN]);
    aws_lc_rs::rand::fill(&mut key.0).map_err(|_| KeyError::Encrypt("no randomness"))?;

    let mut data = plaintext.to_vec();
    let cipher_key = UnboundCipherKey::new(&AES_256, &key.0)
        .map_err(|_| KeyError::Encrypt("AES key setup failed"))?;
    PaddedBlockEncryptingKey::cbc_pkcs7(cipher_key)
        .and_then(|k| {
            k.less_safe_encrypt(
                &mut data,
                EncryptionContext::Iv128(FixedLength::from(key.iv())),
            )
        })
        .map_err(|_| KeyError::Encrypt("AES-256-CBC failed"))?;
    let signature = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key.0), &data);

    let mut wrapped = vec![0u8; public.ciphertext_size()];
    let wrapped_len = public
        .encrypt(&OAEP_SHA1_MGF1SHA1, &key.0, &mut wrapped, None)
        .map_err(|_| KeyError::Encrypt("RSA-OAEP failed"))?
        .len();
    wrapped.truncate(wrapped_len);

    Ok(EncryptedContent {
        data: B64.encode(&data),
        data_signature: B64.encode(signature.as_ref()),
        data_key: B64.encode(&wrapped),
        encryption_certificate_id: certificate_id.to_owned(),
        encryption_certificate_thumbprint: None,
    })
}

const KEY_2048: &[u8] = include_bytes!("../../../tests/fixtures/crypto/key2048.pkcs8.pem");
const OTHER_2048: &[u8] = include_bytes!("../../../tests/fixtures/crypto/other2048.pkcs8.pem");

fn keys_with(id: Option<&str>, pem: &[u8]) -> NotificationKeys {
    let mut keys = NotificationKeys::new();
    keys.add_pem(id, pem).unwrap();
    keys
}

fn encrypted(id: &str, plaintext: &[u8]) -> EncryptedContent {
    let spki = public_key_der_from_private_pem(KEY_2048).unwrap();
    encrypt_resource(&spki, id, plaintext).unwrap()
}

#[test]
fn keys_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<NotificationKeys>();
    assert_send_sync::<DataKey>();
}

#[test]
fn an_explicit_key_is_used_only_for_its_certificate_id() {
    let keys = keys_with(Some("cert-a"), KEY_2048);
    assert_eq!(keys.certificate_ids(), vec!["cert-a".to_owned()]);
    let plaintext = br#"{"availability":"Busy"}"#;
    assert_eq!(
        keys.decrypt(&encrypted("cert-a", plaintext)).unwrap(),
        plaintext
    );
    let err = keys.decrypt(&encrypted("cert-b", plaintext)).unwrap_err();
    assert!(matches!(&err, DecryptError::UnknownCertificate(id) if id == "cert-b"));
    assert!(err.to_string().contains("cert-b"), "{err}");
}

#[test]
fn keys_for_any_id_are_tried_in_turn() {
    let mut keys = keys_with(None, OTHER_2048);
    keys.add_pem(None, KEY_2048).unwrap();
    assert!(keys.certificate_ids().is_empty());
    let plaintext = "Abwesend – zurück am Montag".as_bytes();
    assert_eq!(
        keys.decrypt(&encrypted("whatever", plaintext)).unwrap(),
        plaintext
    );
}

#[test]
fn an_explicit_key_for_the_id_wins_over_keys_for_any_id() {
    let mut keys = keys_with(Some("rotated"), OTHER_2048);
    keys.add_pem(None, KEY_2048).unwrap();
    let err = keys.decrypt(&encrypted("rotated", b"x")).unwrap_err();
    assert!(matches!(err, DecryptError::KeyUnwrap), "{err}");
}

#[test]
fn the_same_certificate_id_cannot_be_configured_twice() {
    let mut keys = keys_with(Some("cert-a"), KEY_2048);
    let err = keys.add_pem(Some("cert-a"), OTHER_2048).unwrap_err();
    assert!(matches!(err, KeyError::DuplicateCertificateId(_)), "{err}");
}

#[test]
fn an_empty_set_knows_no_certificate() {
    let keys = NotificationKeys::new();
    assert!(keys.is_empty());
    assert!(!keys_with(None, KEY_2048).is_empty());
    let err = keys.unwrap_data_key("c", "AAAA").unwrap_err();
    assert!(matches!(err, DecryptError::UnknownCertificate(_)));
}

#[test]
fn a_data_key_is_never_printed() {
    let keys = keys_with(Some("c"), KEY_2048);
    let content = encrypted("c", b"x");
    let key = keys.unwrap_data_key("c", &content.data_key).unwrap();
    assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
    let debug = format!("{keys:?}");
    assert!(debug.contains("\"c\"") && !debug.contains("MII"), "{debug}");
}

#[test]
fn a_wrong_length_signature_is_malformed_and_a_flipped_one_is_a_mismatch() {
    let keys = keys_with(Some("c"), KEY_2048);
    let mut content = encrypted("c", b"payload");
    content.data_signature = B64.encode([0u8; 16]);
    let err = keys.decrypt(&content).unwrap_err();
    assert!(matches!(err, DecryptError::Malformed(m) if m.contains("dataSignature")));
    content.data_signature = B64.encode([0u8; 32]);
    let err = keys.decrypt(&content).unwrap_err();
    assert!(matches!(err, DecryptError::Signature));
    assert!(err.to_string().contains("signature"), "{err}");
}

#[test]
fn a_signed_but_badly_padded_ciphertext_is_a_cipher_error() {
    // Blocks that decrypt to zeros (padding byte 0), correctly signed: only unpadding can object.
    let keys = keys_with(Some("c"), KEY_2048);
    let mut content = encrypted("c", b"payload");
    let key = keys.unwrap_data_key("c", &content.data_key).unwrap();
    let mut blocks = [0u8; 32];
    let raw =
        aws_lc_rs::cipher::EncryptingKey::cbc(UnboundCipherKey::new(&AES_256, &key.0).unwrap())
            .unwrap();
    raw.less_safe_encrypt(
        &mut blocks,
        EncryptionContext::Iv128(FixedLength::from(key.iv())),
    )
    .unwrap();
    content.data = B64.encode(blocks);
    content.data_signature = B64.encode(hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &key.0),
        &blocks,
    ));
    assert!(matches!(keys.decrypt(&content), Err(DecryptError::Cipher)));
}

#[test]
fn a_data_key_of_the_wrong_size_is_malformed() {
    let keys = keys_with(Some("c"), KEY_2048);
    let spki = public_key_der_from_private_pem(KEY_2048).unwrap();
    let public = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&spki).unwrap());
    let public = public.unwrap();
    let mut wrapped = vec![0u8; public.ciphertext_size()];
    public
        .encrypt(&OAEP_SHA1_MGF1SHA1, &[1u8; 16], &mut wrapped, None)
        .unwrap();
    let err = keys
        .unwrap_data_key("c", &B64.encode(&wrapped))
        .unwrap_err();
    assert!(
        matches!(err, DecryptError::Malformed(m) if m.contains("32-byte")),
        "{err}"
    );
}

#[test]
fn encrypting_for_a_bad_public_key_names_the_problem() {
    let err = encrypt_resource(b"not der", "c", b"x").unwrap_err();
    assert!(matches!(err, KeyError::PublicKey), "{err}");
}
