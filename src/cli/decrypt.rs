//! Core of `presence-bridge decrypt --key KEY.pem`: decrypts a captured rich-notification collection
//! offline, to see exactly what Graph sent (the clap wiring lives in the binary).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::graph::crypto::{DecryptError, NotificationKeys};
use crate::graph::notification::{ChangeNotification, ChangeNotificationCollection};

pub struct DecryptArgs {
    pub keys: Vec<PathBuf>,
    pub password: Option<String>,
}

/// Reads a notification collection (JSON) from `input`, prints each item's decrypted resource
/// byte for byte as decrypted, one per line. Every key is tried for any certificate id.
/// Err when the JSON is bad, a key cannot be read, or any item fails; the message names the
/// item (index and subscriptionId) and says "signature" for a mismatch or names the missing key.
pub fn run(args: &DecryptArgs, input: &mut dyn Read, out: &mut dyn Write) -> anyhow::Result<()> {
    let keys = load_keys(args)?;
    let mut body = Vec::new();
    input
        .read_to_end(&mut body)
        .context("could not read the notification collection from the input")?;
    let collection: ChangeNotificationCollection = serde_json::from_slice(&body).context(
        "the input is not a Graph change-notification collection (JSON with a \"value\" array)",
    )?;

    // Every item is attempted so one bad item does not hide what the others contain.
    let mut failures = Vec::new();
    for (index, item) in collection.value.iter().enumerate() {
        match decrypt_item(&keys, args.keys.len(), item) {
            Ok(resource) => {
                out.write_all(&resource)
                    .and_then(|()| out.write_all(b"\n"))
                    .context("could not write the decrypted output")?;
            }
            Err(problem) => failures.push(format!(
                "item {index} (subscriptionId {}): {problem}",
                item.subscription_id.as_deref().unwrap_or("<none>")
            )),
        }
    }
    out.flush()
        .context("could not write the decrypted output")?;
    if !failures.is_empty() {
        bail!(
            "{} of {} items could not be decrypted:\n{}",
            failures.len(),
            collection.value.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

fn load_keys(args: &DecryptArgs) -> anyhow::Result<NotificationKeys> {
    if args.keys.is_empty() {
        bail!("no private key given (--key KEY.pem)");
    }
    if args.password.is_some() {
        // PKCS#12 is not supported (no audited parser without the `rsa` crate); say how to convert.
        bail!(
            "a password is only needed for PKCS#12 (.p12/.pfx) keys, which are not supported; \
             convert with `openssl pkcs12 -in KEY.p12 -nocerts -nodes -out KEY.pem` and pass the PEM"
        );
    }
    let mut keys = NotificationKeys::new();
    for path in &args.keys {
        let pem = std::fs::read(path)
            .with_context(|| format!("could not read key file {}", path.display()))?;
        keys.add_pem(None, &pem)
            .with_context(|| format!("key file {}{}", path.display(), der_hint(path, &pem)))?;
    }
    Ok(keys)
}

/// PKCS#12 and DER files start with an ASN.1 SEQUENCE and have no PEM armour.
fn der_hint(path: &Path, bytes: &[u8]) -> String {
    let armoured = bytes.windows(10).any(|w| w == b"-----BEGIN");
    if !armoured && bytes.first() == Some(&0x30) {
        format!(
            " (binary DER/PKCS#12? convert with `openssl pkcs12 -in {} -nocerts -nodes -out KEY.pem`)",
            path.display()
        )
    } else {
        String::new()
    }
}

fn decrypt_item(
    keys: &NotificationKeys,
    key_count: usize,
    item: &ChangeNotification,
) -> Result<Vec<u8>, String> {
    let content = item
        .encrypted_content
        .as_ref()
        .ok_or("no encryptedContent (not a rich notification)")?;
    keys.decrypt(content).map_err(|e| match e {
        DecryptError::KeyUnwrap => format!(
            "none of the {key_count} given key(s) decrypts the dataKey: the private key for \
             encryptionCertificateId {:?} is missing",
            content.encryption_certificate_id
        ),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::Value;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/crypto")
            .join(name)
    }

    fn json(name: &str) -> Value {
        serde_json::from_slice(&std::fs::read(fixture(name)).unwrap()).unwrap()
    }

    /// The expected output lines (from the Python-made manifest) of one set's untampered items.
    fn expected_output(bits: u64) -> Vec<u8> {
        let manifest = json("manifest.json");
        let set = manifest["sets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["bits"] == bits)
            .unwrap();
        let mut out = Vec::new();
        for item in set["expected"].as_array().unwrap() {
            if let Some(b64) = item["plaintextBase64"].as_str() {
                out.extend(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                );
                out.push(b'\n');
            }
        }
        out
    }

    /// A collection with the tampered (last) item of each named file dropped.
    fn untampered(files: &[&str]) -> Vec<u8> {
        let mut value = Vec::new();
        for f in files {
            let mut items = json(f)["value"].as_array().unwrap().clone();
            items.pop();
            value.extend(items);
        }
        serde_json::to_vec(&serde_json::json!({ "value": value })).unwrap()
    }

    fn args(keys: &[&str]) -> DecryptArgs {
        DecryptArgs {
            keys: keys.iter().map(|k| fixture(k)).collect(),
            password: None,
        }
    }

    fn run_on(args: &DecryptArgs, input: &[u8]) -> (anyhow::Result<()>, Vec<u8>) {
        let mut out = Vec::new();
        let result = run(args, &mut &input[..], &mut out);
        (result, out)
    }

    #[test]
    fn prints_every_resource_byte_for_byte_one_per_line() {
        let (result, out) = run_on(
            &args(&["key2048.pkcs8.pem"]),
            &untampered(&["notifications-2048.json"]),
        );
        result.unwrap();
        assert_eq!(out, expected_output(2048));
    }

    #[test]
    fn every_key_is_tried_for_every_certificate_id() {
        let input = untampered(&["notifications-2048.json", "notifications-4096.json"]);
        let (result, out) = run_on(&args(&["key4096.pkcs8.pem", "key2048.pkcs1.pem"]), &input);
        result.unwrap();
        let mut expected = expected_output(2048);
        expected.extend(expected_output(4096));
        assert_eq!(out, expected);
    }

    #[test]
    fn a_tampered_item_fails_by_name_after_the_good_ones_are_printed() {
        let input = std::fs::read(fixture("notifications-2048.json")).unwrap();
        let (result, out) = run_on(&args(&["key2048.pkcs8.pem"]), &input);
        let message = format!("{:#}", result.unwrap_err());
        assert!(message.contains("item 4"), "{message}");
        assert!(
            message.contains("5f0e2c1a-0000-4000-8000-002048000004"),
            "{message}"
        );
        assert!(message.contains("signature"), "{message}");
        assert_eq!(out, expected_output(2048));
    }

    #[test]
    fn a_missing_key_is_named_by_its_certificate_id() {
        let input = untampered(&["notifications-2048.json"]);
        let (result, out) = run_on(&args(&["key4096.pkcs8.pem"]), &input);
        let message = format!("{:#}", result.unwrap_err());
        assert!(
            message.contains("\"vector-cert-2048\" is missing"),
            "{message}"
        );
        assert!(
            message.contains("item 0 (subscriptionId 5f0e2c1a-"),
            "{message}"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn bad_json_is_reported_as_such() {
        let (result, _) = run_on(&args(&["key2048.pkcs8.pem"]), b"{\"value\": [");
        let message = format!("{:#}", result.unwrap_err());
        assert!(
            message.contains("not a Graph change-notification collection"),
            "{message}"
        );
    }

    #[test]
    fn an_unreadable_or_unusable_key_file_is_named() {
        let (result, _) = run_on(&args(&["does-not-exist.pem"]), b"{\"value\": []}");
        let message = format!("{:#}", result.unwrap_err());
        assert!(message.contains("does-not-exist.pem"), "{message}");

        let (result, _) = run_on(&args(&["key2048.p12"]), b"{\"value\": []}");
        let message = format!("{:#}", result.unwrap_err());
        assert!(
            message.contains("key2048.p12") && message.contains("openssl pkcs12"),
            "{message}"
        );

        let (result, _) = run_on(&args(&["key2048.cert.pem"]), b"{\"value\": []}");
        let message = format!("{:#}", result.unwrap_err());
        assert!(message.contains("no private key"), "{message}");
    }

    #[test]
    fn a_password_is_refused_with_the_conversion_command() {
        let mut a = args(&["key2048.pkcs8.pem"]);
        a.password = Some("vector-test-password".into());
        let (result, _) = run_on(&a, b"{\"value\": []}");
        let message = format!("{:#}", result.unwrap_err());
        assert!(
            message.contains("PKCS#12") && !message.contains("vector-test-password"),
            "{message}"
        );
    }

    #[test]
    fn an_item_without_encrypted_content_is_reported() {
        let input = br#"{"value":[{"subscriptionId":"sub-1","changeType":"updated"}]}"#;
        let (result, _) = run_on(&args(&["key2048.pkcs8.pem"]), input);
        let message = format!("{:#}", result.unwrap_err());
        assert!(
            message.contains("item 0 (subscriptionId sub-1)"),
            "{message}"
        );
        assert!(message.contains("no encryptedContent"), "{message}");
    }
}
