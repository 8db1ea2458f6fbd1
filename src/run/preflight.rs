//! The pre-flight check: before any load, the target must answer `GET /v1/models` and serve the model,
//! so a wrong URL or model is one clear error instead of minutes of failed requests. With a readiness
//! wait, a target that is down or still starting (connection refused, 5xx) is polled until it answers.

use std::time::{Duration, Instant};

use crate::client::{Http, describe_error};
use crate::run::RunError;

/// The engine's own version, when it reports one: vLLM and SGLang answer `GET /version`, TGI
/// `GET /info`, llama.cpp `GET /props` (`build_info`). Best effort: two seconds per try, errors ignored.
/// `access` is how the target is reached (TLS files, key).
pub async fn server_version(base_url: &str, access: &Http) -> Option<String> {
    let http = access
        .clone()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    for (path, field) in [
        ("/version", "version"),
        ("/info", "version"),
        ("/props", "build_info"),
    ] {
        let request = http.get(format!("{}{path}", base_url.trim_end_matches('/')));
        let Ok(response) = request.send().await else {
            continue;
        };
        if !response.status().is_success() {
            continue;
        }
        let Ok(body) = response.json::<serde_json::Value>().await else {
            continue;
        };
        if let Some(version) = body[field].as_str().filter(|v| !v.is_empty()) {
            return Some(version.chars().take(120).collect());
        }
    }
    None
}

/// How often a starting target is polled.
const POLL: Duration = Duration::from_millis(500);

/// Returns the model to request: `model_name` if the target serves it, else the first it lists. One
/// client (from `access`: TLS files, key) serves every attempt of a readiness wait.
pub async fn check(
    base_url: &str,
    target: &str,
    (model_name, adapters): (Option<&str>, &[String]),
    access: &Http,
    wait_ready: Option<Duration>,
) -> Result<String, RunError> {
    let http = access
        .clone()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| RunError::Target {
            target: target.to_string(),
            reason: e.to_string(),
        })?;
    let deadline = wait_ready.map(|w| Instant::now() + w);
    loop {
        match attempt(&http, base_url, model_name, adapters).await {
            Ok(model) => return Ok(model),
            Err(Problem { reason, retry }) => {
                if retry && deadline.is_some_and(|d| Instant::now() + POLL < d) {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                let waited = match wait_ready {
                    Some(w) if retry => format!(" (still, after waiting {}s)", w.as_secs_f64()),
                    _ => String::new(),
                };
                return Err(RunError::Target {
                    target: target.to_string(),
                    reason: reason + &waited,
                });
            }
        }
    }
}

struct Problem {
    reason: String,
    /// Worth asking again when waiting for readiness.
    retry: bool,
}

fn problem(reason: impl Into<String>, retry: bool) -> Problem {
    Problem {
        reason: reason.into(),
        retry,
    }
}

async fn attempt(
    http: &reqwest::Client,
    base_url: &str,
    model_name: Option<&str>,
    adapters: &[String],
) -> Result<String, Problem> {
    let request = http.get(format!("{}/v1/models", base_url.trim_end_matches('/')));
    let response = request.send().await.map_err(|e| {
        if e.is_connect() {
            problem(
                format!("nothing answers there ({})", describe_error(&e)),
                true,
            )
        } else if e.is_timeout() {
            problem("GET /v1/models did not answer within 10 s", true)
        } else {
            problem(e.without_url().to_string(), false)
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return match model_name {
            // Some servers have no model list; with a configured model we can still go on.
            Some(model) if status.as_u16() == 404 => Ok(model.to_string()),
            _ => Err(problem(
                format!("GET /v1/models answered HTTP {}", status.as_u16()),
                status.is_server_error(),
            )),
        };
    }
    #[derive(serde::Deserialize)]
    struct Models {
        data: Vec<ModelEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ModelEntry {
        id: String,
    }
    let models: Models = response.json().await.map_err(|e| {
        problem(
            format!("GET /v1/models did not return a model list: {e}"),
            false,
        )
    })?;
    let ids: Vec<String> = models.data.into_iter().map(|m| m.id).collect();
    let missing: Vec<&str> = adapters
        .iter()
        .filter(|a| !ids.contains(a))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(problem(
            format!(
                "it does not serve LoRA adapter(s) {} (load.lora_traffic_split); it serves: {}",
                missing.join(", "),
                ids.join(", ")
            ),
            false,
        ));
    }
    match model_name {
        Some(model) if ids.iter().any(|id| id == model) => Ok(model.to_string()),
        Some(model) => Err(problem(
            format!(
                "it does not serve model `{model}` (server.model_name); it serves: {}",
                ids.join(", ")
            ),
            false,
        )),
        None => ids.into_iter().next().ok_or_else(|| {
            problem(
                "GET /v1/models lists no model; set server.model_name",
                false,
            )
        }),
    }
}
