//! Which roots a Lambda function's HTTPS clients trust, shown on a local HTTPS server whose
//! certificate a test CA issued: Mozilla's roots refuse it, `SSL_CERT_FILE` naming the test CA
//! reaches it (the AWS client and the Graph/connector client alike), and a bundle that cannot be
//! read fails each request with its name, never a panic. Then the AWS connector's behaviour the
//! SDK relies on: one TLS setup for all of a function's clients, its timeouts, its retries.

use super::*;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A test CA, and a server certificate for 127.0.0.1 it issued.
struct TestPki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: PrivateKeyDer<'static>,
}

fn test_pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    TestPki {
        ca_pem: ca.pem(),
        server_cert: server_cert.der().clone(),
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
    }
}

/// An HTTPS server on loopback answering every request as DynamoDB answers `ListTables`, and
/// how many requests reached it.
async fn https_server(pki: &TestPki) -> (String, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.server_cert.clone()], pki.server_key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reached);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, counter) = (acceptor.clone(), Arc::clone(&counter));
            tokio::spawn(async move {
                // A handshake the client refuses ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if !read_request_head(&mut tls).await {
                    return;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                answer_list_tables(&mut tls, "reached").await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, reached)
}

/// Reads a request up to the end of its head; false when the connection ends first.
async fn read_request_head(conn: &mut (impl tokio::io::AsyncRead + Unpin)) -> bool {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// Answers as DynamoDB answers `ListTables`, with one table named `table`.
async fn answer_list_tables(conn: &mut (impl tokio::io::AsyncWrite + Unpin), table: &str) {
    let body = format!(r#"{{"TableNames":["{table}"]}}"#);
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes()).await;
    let _ = conn.write_all(body.as_bytes()).await;
}

/// A DynamoDB client on the Lambda functions' HTTPS client trusting `roots`, without retries.
fn dynamodb(url: &str, roots: RootsSource) -> aws_sdk_dynamodb::Client {
    dynamodb_retrying(url, roots, aws_config::retry::RetryConfig::disabled())
}

/// As [`dynamodb`], retrying as `retry` says.
fn dynamodb_retrying(
    url: &str,
    roots: RootsSource,
    retry: aws_config::retry::RetryConfig,
) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(url)
        .retry_config(retry)
        .http_client(ConnectOnUse::new(roots))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn write_file(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn mozillas_roots_refuse_a_server_a_private_ca_certified() {
    let pki = test_pki();
    let (url, reached) = https_server(&pki).await;
    let result = dynamodb(&url, RootsSource::Mozilla)
        .list_tables()
        .send()
        .await;
    let error = result.expect_err("a certificate of a private CA is not trusted");
    let text = format!("{:?}", aws_sdk_dynamodb::error::DisplayErrorContext(&error));
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert_eq!(reached.load(Ordering::SeqCst), 0, "no request got through");
}

#[tokio::test]
async fn ssl_cert_file_naming_the_private_ca_reaches_the_server() {
    let pki = test_pki();
    let (url, reached) = https_server(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = write_file(dir.path(), "ca.pem", pki.ca_pem.as_bytes());
    let roots = RootsSource::from_env(|k| (k == "SSL_CERT_FILE").then(|| bundle.clone().into()));
    assert_eq!(roots, RootsSource::File(bundle.clone()));
    let tables = dynamodb(&url, roots).list_tables().send().await.unwrap();
    assert_eq!(tables.table_names(), ["reached"]);
    assert_eq!(reached.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unreadable_bundle_fails_each_request_with_its_name() {
    let pki = test_pki();
    let (url, reached) = https_server(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.pem");
    let client = dynamodb(&url, RootsSource::File(missing.clone()));
    for _ in 0..2 {
        let error = client.list_tables().send().await.unwrap_err();
        let text = format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&error));
        assert!(
            text.contains(&format!(
                "SSL_CERT_FILE {}: cannot be read",
                missing.display()
            )),
            "{text}"
        );
        assert!(text.contains("No such file"), "the cause is kept: {text}");
    }
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}

/// The store's connect timeout in the test below (as `store.dynamodb_connect_timeout_ms` sets it).
const STORE_CONNECT: Duration = Duration::from_millis(1_000);

/// A Lambda function's configuration (`http`, `timeouts`) with test credentials and region
/// instead of the environment's, every service at `endpoint`.
fn test_lambda_config(
    http: ConnectOnUse,
    timeouts: Option<TimeoutConfig>,
    endpoint: &str,
) -> aws_config::SdkConfig {
    lambda_config_with(http, timeouts)
        .to_builder()
        .region(Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "test",
        )))
        .endpoint_url(endpoint)
        .build()
}

/// The clients of a Lambda function's cold start, as it makes them: Secrets Manager on the
/// function's AWS configuration, the DynamoDB store with its own timeouts on top; each makes one
/// request (to a port nothing listens on, so each fails at once, after its connector is made).
/// Returns the HTTPS clients (TLS setups) made for them.
async fn connectors_for_secrets_and_store(connect_timeout: Option<Duration>) -> usize {
    let http = ConnectOnUse::new(RootsSource::Mozilla);
    let made = Arc::clone(&http.connectors_made);
    let timeouts = connect_timeout.map(|c| TimeoutConfig::builder().connect_timeout(c).build());
    let conf = test_lambda_config(http, timeouts, "http://127.0.0.1:9")
        .to_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let secrets = aws_sdk_secretsmanager::Client::new(&conf)
        .batch_get_secret_value()
        .secret_id_list("arn:aws:secretsmanager:eu-west-1:1:secret:x")
        .send()
        .await;
    assert!(secrets.is_err(), "nothing answers");
    let store_config = crate::config::StoreConfig::DynamoDb {
        table: "bridge".into(),
        endpoint_url: None,
        timeouts: crate::config::DynamoTimeouts {
            connect: STORE_CONNECT,
            attempt: Duration::from_millis(500),
            operation: Duration::from_millis(1_000),
        },
    };
    let store = crate::app::open_store_with(&store_config, Some(&conf))
        .await
        .unwrap();
    assert!(store.list_subscriptions().await.is_err(), "nothing answers");
    made.load(Ordering::SeqCst)
}

#[tokio::test]
async fn a_lambda_functions_secrets_and_store_share_one_tls_setup() {
    // On the store's connect timeout (as a Lambda function's configuration is loaded): one.
    let shared = connectors_for_secrets_and_store(Some(STORE_CONNECT)).await;
    assert_eq!(shared, 1);
    // On the SDK's default for Secrets Manager: one each, two connection pools.
    let apart = connectors_for_secrets_and_store(None).await;
    assert_eq!(apart, 2);
}

/// A Secrets Manager read of a Lambda function on a connection nobody answers (as after the
/// process was frozen with it in flight) fails within the store's operation timeout, which the
/// function's AWS configuration gives every client, instead of holding the event until the
/// function times out.
#[tokio::test]
async fn a_secrets_read_nobody_answers_fails_within_the_stores_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    // Accepts every connection and keeps it open without a word.
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            open.push(conn);
        }
    });
    let timeouts = crate::config::DynamoTimeouts {
        connect: STORE_CONNECT,
        attempt: Duration::from_millis(200),
        operation: Duration::from_millis(500),
    };
    let conf = test_lambda_config(
        ConnectOnUse::new(RootsSource::Mozilla),
        Some(crate::app::store::timeout_config(timeouts)),
        &url,
    );
    let read = aws_sdk_secretsmanager::Client::new(&conf)
        .batch_get_secret_value()
        .secret_id_list("arn:aws:secretsmanager:eu-west-1:1:secret:x")
        .send();
    let outcome = tokio::time::timeout(Duration::from_secs(30), read).await;
    held.abort();
    let error = outcome
        .expect("the read ends by itself, not held until the function's timeout")
        .expect_err("nobody answered");
    assert!(
        matches!(
            error,
            aws_sdk_secretsmanager::error::SdkError::TimeoutError(_)
        ),
        "{error:?}"
    );
}

/// A connection that breaks before its answer (an idle connection the far end dropped, a load
/// balancer restarting) is an error the SDK retries, as with its own client: the request is
/// sent again on a new connection and succeeds. Without the retry, it fails.
#[tokio::test]
async fn a_connection_closed_before_its_answer_is_retried_on_a_new_one() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    let server = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            read_request_head(&mut tcp).await;
            // Every other request: the connection is dropped without a word.
            if seen.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                continue;
            }
            answer_list_tables(&mut tcp, "second try").await;
        }
    });
    let standard = aws_config::retry::RetryConfig::standard()
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_attempts(2);
    let tables = dynamodb_retrying(&url, RootsSource::Mozilla, standard)
        .list_tables()
        .send()
        .await
        .unwrap();
    assert_eq!(tables.table_names(), ["second try"]);
    assert_eq!(requests.load(Ordering::SeqCst), 2, "sent once more");
    let error = dynamodb(&url, RootsSource::Mozilla)
        .list_tables()
        .send()
        .await
        .expect_err("the first connection breaks");
    assert!(
        matches!(error, aws_sdk_dynamodb::error::SdkError::DispatchFailure(ref e) if e.is_io()),
        "a broken connection is an I/O failure: {error:?}"
    );
    server.abort();
}

/// A Lambda function's Graph, Entra and connector client trusts what its AWS client trusts:
/// Mozilla's roots (refusing the private CA), or the bundle `SSL_CERT_FILE` names (reaching the
/// server). A bundle that cannot be read stops the app's build with the setting named.
#[tokio::test]
async fn a_lambda_functions_graph_and_connector_client_trusts_the_same_roots() {
    let pki = test_pki();
    let (url, reached) = https_server(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = write_file(dir.path(), "ca.pem", pki.ca_pem.as_bytes());
    let get = |roots: RootsSource| {
        let trust = crate::app::outbound_trust(crate::app::Role::SwyxWebhook, roots).unwrap();
        let client = crate::outbound::http::client(STORE_CONNECT, trust).unwrap();
        let url = url.clone();
        async move { client.get(&url).send().await }
    };
    let refused = get(RootsSource::Mozilla).await.unwrap_err();
    let text = format!("{refused:?}");
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert_eq!(reached.load(Ordering::SeqCst), 0);
    let answer = get(RootsSource::File(bundle)).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(reached.load(Ordering::SeqCst), 1);
    let missing = dir.path().join("nowhere.pem");
    let Err(e) = crate::app::outbound_trust(
        crate::app::Role::Maintenance,
        RootsSource::File(missing.clone()),
    ) else {
        panic!("an unreadable bundle is refused");
    };
    let text = crate::telemetry::with_causes(&e);
    assert!(
        text.contains(&format!(
            "SSL_CERT_FILE {}: cannot be read",
            missing.display()
        )),
        "{text}"
    );
    // serve and the CLI trust the platform's roots, whatever SSL_CERT_FILE says to the Lambda.
    assert!(matches!(
        crate::app::outbound_trust(crate::app::Role::Everything, RootsSource::Mozilla),
        Ok(crate::outbound::tls::Trust::Platform)
    ));
}
