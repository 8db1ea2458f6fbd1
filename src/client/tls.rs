//! TLS for every HTTP client infergate builds (through `http::Http`): extra trusted roots (a private
//! CA) on top of the system's, and a client certificate for targets that require one (mutual TLS).

use std::path::Path;

use reqwest::{Certificate, ClientBuilder, Identity};

use super::ClientError;
use crate::scenario::TlsFiles;

fn read(path: &Path, setting: &'static str) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::ReadFile {
        setting,
        path: path.to_path_buf(),
        source,
    })
}

/// Adds the files' settings to a client builder; errors name the file and what is wrong with it.
pub fn apply(files: &TlsFiles, mut builder: ClientBuilder) -> Result<ClientBuilder, ClientError> {
    if let Some(path) = &files.ca_cert {
        let pem = read(path, "server.ca_cert_path")?;
        let certs = Certificate::from_pem_bundle(&pem).map_err(|source| ClientError::NotPem {
            path: path.clone(),
            source,
        })?;
        if certs.is_empty() {
            return Err(ClientError::NoCertificate(path.clone()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if let Some((cert, key)) = &files.client_cert {
        let mut pem = read(cert, "server.cert_path")?;
        pem.push(b'\n');
        pem.extend(read(key, "server.key_path")?);
        let identity = Identity::from_pem(&pem).map_err(|source| ClientError::NotIdentity {
            cert: cert.clone(),
            key: key.clone(),
            source,
        })?;
        builder = builder.identity(identity);
    }
    Ok(builder)
}
