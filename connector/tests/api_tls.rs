//! The contract API over HTTPS (`server.tls_cert_file`, `server.tls_key_file`): what a bridge
//! that reaches the connector over a network needs, since it refuses a plain-HTTP connector URL
//! that is not on loopback.

use crate::support::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::path::Path;

const LOG_WRITER: &str = "[writer]\nkind = \"log\"\n";

/// A test CA, and a certificate for 127.0.0.1 it signed, written as `api.crt` / `api.key`;
/// returns the CA's PEM.
fn write_certificate(dir: &Path) -> String {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("api.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("api.key"), key.serialize_pem()).unwrap();
    ca.pem()
}

/// The configuration of `support::config` with `server` lines added to its `[server]` section.
fn config_with(dir: &Path, server: &str) -> Result<swyx_connector::Config, String> {
    let base = config(
        dir,
        "http://127.0.0.1:9/",
        "[sip]\nenabled = false",
        LOG_WRITER,
        USERS,
    );
    drop(base); // writes users.csv and connector.toml
    let path = dir.join("connector.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("[server]\n", &format!("[server]\n{server}\n"), 1);
    std::fs::write(&path, text).unwrap();
    swyx_connector::Config::load(&path).map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_api_answers_over_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_certificate(dir.path());
    let cfg = config_with(
        dir.path(),
        "tls_cert_file = \"api.crt\"\ntls_key_file = \"api.key\"",
    )
    .unwrap();
    let c = swyx_connector::start(cfg, std::future::pending())
        .await
        .unwrap();
    assert!(c.api_url().starts_with("https://"), "{}", c.api_url());

    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let listed = client
        .get(format!("{}/v1/users", c.api_url()))
        .headers(signed(b""))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let body: serde_json::Value = listed.json().await.unwrap();
    assert_eq!(body["users"][0]["swyxUserId"], "1001", "{body}");

    // The same port does not answer plain HTTP: nothing travels unencrypted.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/v1/users", c.api_addr))
        .headers(signed(b""))
        .send()
        .await;
    assert!(
        plain.as_ref().map_or(true, |r| !r.status().is_success()),
        "{plain:?}"
    );
    c.stop().await;
}

#[tokio::test]
async fn a_certificate_without_its_key_or_with_another_key_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write_certificate(dir.path());
    let alone = config_with(dir.path(), "tls_cert_file = \"api.crt\"").unwrap_err();
    assert!(alone.contains("server.tls_key_file"), "{alone}");
    assert!(
        alone.contains("required with server.tls_cert_file"),
        "{alone}"
    );

    let dir = tempfile::tempdir().unwrap();
    write_certificate(dir.path());
    std::fs::write(
        dir.path().join("other.key"),
        KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let mismatch = config_with(
        dir.path(),
        "tls_cert_file = \"api.crt\"\ntls_key_file = \"other.key\"",
    )
    .unwrap_err();
    assert!(mismatch.contains("server.tls_key_file"), "{mismatch}");
    assert!(
        mismatch.contains("cannot be used with the certificate"),
        "{mismatch}"
    );

    let missing = config_with(
        dir.path(),
        "tls_cert_file = \"nowhere.crt\"\ntls_key_file = \"api.key\"",
    )
    .unwrap_err();
    assert!(missing.contains("server.tls_cert_file"), "{missing}");
    assert!(missing.contains("nowhere.crt"), "{missing}");
}
