//! The one way infergate builds an HTTP client. The load client, the pre-flight check, the version
//! probe, the `/metrics` scraper and the tokenizer download all start from `Http`, so each applies the
//! scenario's TLS files (`server.ca_cert_path`, `server.cert_path`/`key_path`), the bearer key and
//! the extra headers the same way, and none of them can forget one.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::ClientError;
use super::tls;
use crate::scenario::{Secret, TlsFiles};

/// How to reach one place: whom to trust, who we are, which key to show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Http {
    tls: TlsFiles,
    api_key: Option<Secret>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    via_proxy: bool,
}

/// Connections that cannot be made within this long fail as `connect` errors.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Http {
    /// The endpoint under test, reached directly (never through `HTTP(S)_PROXY`: a benchmark measures
    /// the target, not a proxy), with the scenario's TLS files and key.
    pub fn to_target(tls: &TlsFiles, api_key: Option<&Secret>) -> Http {
        Http {
            tls: tls.clone(),
            api_key: api_key.cloned(),
            ..Http::default()
        }
    }

    /// A download from a model hub: the system's roots, the environment's proxy, the hub token.
    pub fn to_hub(token: Option<&Secret>) -> Http {
        Http {
            api_key: token.cloned(),
            via_proxy: true,
            ..Http::default()
        }
    }

    /// The same settings without the key (for a URL on another host than the target's, which must
    /// never see the target's credentials).
    pub fn without_key(&self) -> Http {
        Http {
            api_key: None,
            ..self.clone()
        }
    }

    /// Headers sent with every request (`api.headers`).
    pub fn headers(mut self, headers: &[(String, String)]) -> Http {
        self.headers = headers.to_vec();
        self
    }

    /// A limit on every whole request.
    pub fn timeout(mut self, timeout: Duration) -> Http {
        self.timeout = Some(timeout);
        self
    }

    /// The client; errors name the setting and the file at fault.
    pub fn build(&self) -> Result<reqwest::Client, ClientError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ClientError::HeaderName(name.clone()))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ClientError::HeaderValue(name.to_string()))?;
            headers.insert(name, value);
        }
        if let Some(key) = &self.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
                .map_err(|_| ClientError::ApiKey)?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut builder = tls::apply(&self.tls, reqwest::Client::builder())?
            .default_headers(headers)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(usize::MAX)
            .connect_timeout(CONNECT_TIMEOUT);
        if !self.via_proxy {
            builder = builder.no_proxy();
        }
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        builder.build().map_err(ClientError::Build)
    }
}

/// The origin (`scheme://host:port`) of a URL, to tell whether two URLs are the same server.
pub fn origin(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    Some(url.origin().ascii_serialization())
}

/// The URL without user name or password.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.as_str().trim_end_matches('/').to_string()
        }
        Err(_) => "<invalid url>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_in_urls() {
        assert_eq!(
            redact_url("https://user:hunter2@example.com:8000/"),
            "https://example.com:8000"
        );
        assert_eq!(redact_url("http://127.0.0.1:8000"), "http://127.0.0.1:8000");
        assert_eq!(redact_url("not a url"), "<invalid url>");
    }
}
