//! `${NAME}` in a scenario value is replaced by the environment variable NAME when the file loads, so
//! secrets such as API keys live in CI secrets rather than in the repository.

/// Expands every `${NAME}` in `text`; `$` not followed by `{` is kept as written.
pub fn expand(text: &str) -> Result<String, String> {
    expand_with(text, |name| std::env::var(name).ok())
}

/// `expand` with a chosen lookup (tests pass their own).
pub fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "`${` is not closed; write `${NAME}`".to_string())?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`${{{name}}}` is not an environment variable name"));
        }
        let value =
            lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        (name == "KEY").then(|| "sk-123".to_string())
    }

    #[test]
    fn expands_names_and_keeps_the_rest() {
        assert_eq!(expand_with("${KEY}", lookup).unwrap(), "sk-123");
        assert_eq!(
            expand_with("Bearer ${KEY}!", lookup).unwrap(),
            "Bearer sk-123!"
        );
        assert_eq!(expand_with("cost $5", lookup).unwrap(), "cost $5");
        assert!(
            expand_with("${MISSING}", lookup)
                .unwrap_err()
                .contains("MISSING is not set")
        );
        assert!(
            expand_with("${KEY", lookup)
                .unwrap_err()
                .contains("not closed")
        );
        assert!(
            expand_with("${a-b}", lookup)
                .unwrap_err()
                .contains("not an environment variable name")
        );
    }
}
