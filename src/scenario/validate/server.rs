//! `api` and `server`: which API, streaming, headers; where the target is and how to reach it.

use std::path::Path;

use super::Checker;
use crate::scenario::locate::Step;
use crate::scenario::raw::{ApiType, RawScenario};
use crate::scenario::{Api, ApiKind, ScenarioError, Secret, Server, TlsFiles};

pub(super) fn check_api(c: &Checker<'_>, raw: &RawScenario) -> Result<Api, ScenarioError> {
    let api = &raw.api;
    let kind = match api.kind {
        ApiType::Completion => ApiKind::Completion,
        ApiType::Chat => ApiKind::Chat,
        ApiType::AnthropicMessages | ApiType::Embeddings => {
            return Err(c.error(
                &[Step::Key("api"), Step::Key("type")],
                "infergate supports `completion` and `chat`",
            ));
        }
    };
    for (key, value) in [
        ("slo_unit", &api.slo_unit),
        ("slo_tpot_header", &api.slo_tpot_header),
        ("slo_ttft_header", &api.slo_ttft_header),
        ("response_format", &api.response_format),
        ("session_id_header_key", &api.session_id_header_key),
        ("session_token_header_key", &api.session_token_header_key),
    ] {
        if value.is_some() {
            return Err(c.unsupported(&[Step::Key("api"), Step::Key(key)], key));
        }
    }
    Ok(Api {
        kind,
        streaming: api.streaming,
        headers: api
            .headers
            .iter()
            .flatten()
            .map(|(k, v)| {
                let at = [
                    Step::Key("api"),
                    Step::Key("headers"),
                    Step::Key(k.as_str()),
                ];
                Ok((
                    k.clone(),
                    crate::scenario::env::expand(v).map_err(|m| c.error(&at, m))?,
                ))
            })
            .collect::<Result<_, ScenarioError>>()?,
    })
}

pub(super) fn check_server(c: &Checker<'_>, raw: &RawScenario) -> Result<Server, ScenarioError> {
    let Some(server) = &raw.server else {
        return Ok(Server {
            base_url: None,
            model_name: None,
            ignore_eos: true,
            api_key: None,
            tls: TlsFiles::default(),
        });
    };
    // Relative paths are relative to the scenario file, so a suite can ship its certificates.
    let beside = |p: &String| c.path.parent().unwrap_or(Path::new(".")).join(p);
    let client_cert = match (&server.cert_path, &server.key_path) {
        (Some(cert), Some(key)) => Some((beside(cert), beside(key))),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            let missing = if server.cert_path.is_some() {
                "key_path"
            } else {
                "cert_path"
            };
            return Err(c.error(
                &[Step::Key("server"), Step::Key(missing)],
                "a client certificate needs both server.cert_path and server.key_path",
            ));
        }
    };
    let tls = TlsFiles {
        ca_cert: server.ca_cert_path.as_ref().map(beside),
        client_cert,
    };
    let expanded =
        |key: &'static str, value: &Option<String>| -> Result<Option<String>, ScenarioError> {
            value
                .as_deref()
                .map(|v| {
                    crate::scenario::env::expand(v)
                        .map_err(|m| c.error(&[Step::Key("server"), Step::Key(key)], m))
                })
                .transpose()
        };
    let base_url = expanded("base_url", &server.base_url)?;
    if let Some(url) = &base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(c.error(
            &[Step::Key("server"), Step::Key("base_url")],
            format!("`{url}` must start with http:// or https://"),
        ));
    }
    Ok(Server {
        base_url,
        model_name: server.model_name.clone(),
        ignore_eos: server.ignore_eos,
        api_key: expanded("api_key", &server.api_key)?.map(Secret::new),
        tls,
    })
}
