//! What a scenario may hold that must never be shown: the API key and hub token (`Secret`, printed as
//! `***`) and the TLS files that identify the client (`TlsFiles`, paths only; `client::tls` reads them).

use std::fmt;
use std::path::PathBuf;

/// PEM files named by the scenario (`server.ca_cert_path`, `server.cert_path`, `server.key_path`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificates to trust in addition to the system roots.
    pub ca_cert: Option<PathBuf>,
    /// Client certificate and its private key, both PEM.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// A value that must never reach logs, reports or JUnit. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    /// The value itself, for the one place that sends it (the HTTP Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
