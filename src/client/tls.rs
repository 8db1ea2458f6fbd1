//! TLS settings shared by every HTTP client infergate builds: extra trusted roots (a private CA) on top
//! of the system's, and a client certificate for targets that require one (mutual TLS).

use std::path::PathBuf;

use reqwest::{Certificate, ClientBuilder, Identity};

/// PEM files named by the scenario (`server.ca_cert_path`, `server.cert_path`, `server.key_path`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificates to trust in addition to the system roots.
    pub ca_cert: Option<PathBuf>,
    /// Client certificate and its private key, both PEM.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

fn read(path: &PathBuf, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what}: cannot read {}: {e}", path.display()))
}

impl TlsFiles {
    /// Adds these settings to a client builder; errors name the file and what is wrong with it.
    pub fn apply(&self, mut builder: ClientBuilder) -> Result<ClientBuilder, String> {
        if let Some(path) = &self.ca_cert {
            let pem = read(path, "server.ca_cert_path")?;
            let certs = Certificate::from_pem_bundle(&pem).map_err(|e| {
                format!(
                    "server.ca_cert_path: {} is not PEM certificates: {e}",
                    path.display()
                )
            })?;
            if certs.is_empty() {
                return Err(format!(
                    "server.ca_cert_path: {} holds no certificate",
                    path.display()
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        if let Some((cert, key)) = &self.client_cert {
            let mut pem = read(cert, "server.cert_path")?;
            pem.push(b'\n');
            pem.extend(read(key, "server.key_path")?);
            let identity = Identity::from_pem(&pem).map_err(|e| {
                format!(
                    "server.cert_path/key_path: {} and {} are not a PEM certificate and key: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
            builder = builder.identity(identity);
        }
        Ok(builder)
    }
}
