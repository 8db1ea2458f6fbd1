//! HTTPS against a local TLS server on 127.0.0.1 that requires a client certificate: a private CA from
//! `server.ca_cert_path`, a client identity from `server.cert_path`/`server.key_path`, and clear errors
//! when either is missing. Certificates are generated for each run; none are stored in the repository.

use std::path::Path;
use std::sync::Arc;

use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::Scenario;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

struct Pki {
    dir: tempfile::TempDir,
    server: rustls::ServerConfig,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert, key)
    };
    let (server_cert, server_key) = leaf(
        vec!["127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(
        vec!["infergate-client".into()],
        ExtendedKeyUsagePurpose::ClientAuth,
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("client.pem"), client_cert.pem()).unwrap();
    std::fs::write(dir.path().join("client.key"), client_key.serialize_pem()).unwrap();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    Pki { dir, server }
}

/// A vLLM-named `/metrics` page, for the scraper.
const METRICS_PAGE: &str =
    "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\nvllm:generation_tokens_total 42\n";

/// An HTTPS server that answers `/v1/models` and `/metrics` and streams a three-token completion.
async fn tls_server(config: rustls::ServerConfig) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = if request.starts_with(b"GET /metrics") {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{METRICS_PAGE}",
                        METRICS_PAGE.len()
                    )
                } else if request.starts_with(b"GET") {
                    let body = r#"{"data":[{"id":"secure"}]}"#;
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    let token = "data: {\"choices\":[{\"text\":\" t\"}]}\n\n";
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{}data: [DONE]\n\n",
                        token.repeat(3)
                    )
                };
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

async fn run_with(
    dir: &Path,
    url: &str,
    server_yaml: &str,
) -> Result<infergate::run::RunResult, String> {
    let yaml = format!(
        "api: {{streaming: true}}\nload:\n  stages: [{{rate: 4, duration: 0.5}}]\nserver:\n{server_yaml}"
    );
    let s = Scenario::from_source(&dir.join("tls.yaml"), &yaml).map_err(|e| e.to_string())?;
    let options = RunOptions {
        target: Target::Url(url.to_string()),
        ..RunOptions::default()
    };
    run_scenario(&s, &options).await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "current_thread")]
async fn mutual_tls_with_a_private_ca() {
    let _turn = crate::support::turn().await;
    let pki = pki();
    let url = tls_server(pki.server.clone()).await;
    let dir = pki.dir.path();
    let full = "  ca_cert_path: ca.pem\n  cert_path: client.pem\n  key_path: client.key\n";
    let run = run_with(dir, &url, full).await.unwrap();
    assert_eq!((run.total.ok, run.total.accounted()), (2, 2));
    assert_eq!(run.model, "secure");
    // The scraper reaches the engine's /metrics with the same CA and client certificate.
    let server = run.stages[0]
        .server
        .as_ref()
        .expect("the target's /metrics was scraped over mutual TLS");
    assert_eq!(server.engines, vec!["vllm".to_string()]);
    assert!(
        server.scrapes >= 1 && server.failed_scrapes == 0,
        "{server:?}"
    );

    let no_client_cert = run_with(dir, &url, "  ca_cert_path: ca.pem\n")
        .await
        .unwrap_err();
    assert!(no_client_cert.contains("is not usable"), "{no_client_cert}");
    let no_ca = run_with(
        dir,
        &url,
        "  cert_path: client.pem\n  key_path: client.key\n",
    )
    .await
    .unwrap_err();
    assert!(no_ca.to_lowercase().contains("certificate"), "{no_ca}");
    let half = run_with(dir, &url, "  cert_path: client.pem\n")
        .await
        .unwrap_err();
    assert!(
        half.contains("needs both server.cert_path and server.key_path"),
        "{half}"
    );
    let missing = run_with(dir, &url, "  ca_cert_path: nowhere.pem\n")
        .await
        .unwrap_err();
    assert!(
        missing.contains("server.ca_cert_path: cannot read"),
        "{missing}"
    );
}
