//! `api` and `server`: which API, streaming, headers; where the target is and how to reach it.

use std::path::Path;

use serde_yaml::Value;

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
    ] {
        if value.is_some() {
            return Err(c.unsupported(&[Step::Key("api"), Step::Key(key)], key));
        }
    }
    let response_format = match &api.response_format {
        Some(v) => Some(response_format(c, v)?),
        None => None,
    };
    let session_id_header = header_name(c, "session_id_header_key", &api.session_id_header_key)?;
    let session_token_header =
        header_name(c, "session_token_header_key", &api.session_token_header_key)?;
    Ok(Api {
        kind,
        session_id_header,
        session_token_header,
        streaming: api.streaming,
        response_format,
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

/// A header name given under `api.KEY`: a non-empty HTTP token.
fn header_name(
    c: &Checker<'_>,
    key: &'static str,
    value: &Option<Value>,
) -> Result<Option<String>, ScenarioError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let at = [Step::Key("api"), Step::Key(key)];
    match value.as_str() {
        Some(name)
            if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) =>
        {
            Ok(Some(name.to_string()))
        }
        _ => Err(c.error(&at, "a header name, such as `x-session-id`")),
    }
}

/// inference-perf's `ResponseFormat` (`type` json_schema or json_object, `name`, `json_schema`), turned
/// into the request parameter it sends (`to_api_format`).
fn response_format(c: &Checker<'_>, value: &Value) -> Result<serde_json::Value, ScenarioError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        #[serde(rename = "type", default)]
        kind: Option<String>,
        name: Option<String>,
        json_schema: Option<Value>,
    }
    let at = [Step::Key("api"), Step::Key("response_format")];
    let raw: Raw =
        serde_yaml::from_value(value.clone()).map_err(|e| c.error(&at, e.to_string()))?;
    match raw.kind.as_deref().unwrap_or("json_schema") {
        "json_object" => Ok(serde_json::json!({"type": "json_object"})),
        "json_schema" => {
            let Some(schema) = raw.json_schema else {
                return Err(c.error(
                    &at,
                    "`type: json_schema` needs `json_schema`: the schema the output must follow",
                ));
            };
            let schema = serde_json::to_value(&schema)
                .map_err(|e| c.error(&at, format!("json_schema: {e}")))?;
            Ok(serde_json::json!({
                "type": "json_schema",
                "json_schema": {"name": raw.name.as_deref().unwrap_or("structured_output"), "schema": schema},
            }))
        }
        other => Err(c.error(
            &[
                Step::Key("api"),
                Step::Key("response_format"),
                Step::Key("type"),
            ],
            format!("unknown type `{other}`; allowed: json_schema, json_object"),
        )),
    }
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
