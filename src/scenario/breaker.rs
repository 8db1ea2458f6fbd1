//! inference-perf's circuit breakers: named breakers (`circuit_breakers`), the ones a run uses
//! (`load.circuit_breakers`), and the expressions that pick the requests they watch.
//!
//! inference-perf writes `matches` and `rules` in JMESPath over its request record. infergate never
//! evaluates code from a scenario: it parses the forms its examples use, over the request's error,
//! and refuses any other with a message that lists these forms:
//!
//! - `error` (the request failed or timed out), `!error`;
//! - `error.error_type == 'TimeoutError'` (or `!=`), with inference-perf's error types: `TimeoutError`
//!   (a timed-out request), `HTTP Error 503` (a status), `ClientConnectorError` (no connection),
//!   `ClientPayloadError` (a broken stream), `ValueError` (a response that is not the API's),
//!   `ServerError` (an error event in the stream), `NoContent`;
//! - `contains(error.error_msg, 'text')`;
//! - any of these joined with `&&` and `||` (`&&` binds tighter), in parentheses if need be.

use std::time::Duration;

/// One named breaker.
#[derive(Debug, Clone, PartialEq)]
pub struct Breaker {
    pub name: String,
    /// A request is watched when any of these holds.
    pub matches: Vec<Expr>,
    /// A watched request is a hit when any of these holds (every watched one when there are none).
    pub rules: Vec<Expr>,
    /// The breaker opens when any of these fires.
    pub triggers: Vec<Trigger>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// This many hits in a row.
    Consecutive(u32),
    /// More than `threshold` of the watched requests in the last `window` were hits, once at least
    /// `min_samples` were watched.
    RateOverWindow {
        window: Duration,
        threshold: f64,
        min_samples: u32,
    },
}

/// A request's outcome as the expressions see it: its error type and message, if it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome<'a> {
    pub error: Option<(&'a str, &'a str)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Failed,
    ErrorTypeIs(String),
    ErrorMessageContains(String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// The forms `parse` understands, for error messages.
pub const FORMS: &str = "`error`, `!error`, `error.error_type == 'TimeoutError'` (or `!=`), \
    `contains(error.error_msg, 'text')`, joined with `&&` and `||`";

impl Expr {
    pub fn holds(&self, outcome: &Outcome<'_>) -> bool {
        match self {
            Expr::Failed => outcome.error.is_some(),
            Expr::ErrorTypeIs(t) => outcome.error.is_some_and(|(kind, _)| kind == t),
            Expr::ErrorMessageContains(m) => outcome.error.is_some_and(|(_, msg)| msg.contains(m)),
            Expr::Not(e) => !e.holds(outcome),
            Expr::And(a, b) => a.holds(outcome) && b.holds(outcome),
            Expr::Or(a, b) => a.holds(outcome) || b.holds(outcome),
        }
    }

    /// Parses one expression, or says which forms are supported.
    pub fn parse(text: &str) -> Result<Expr, String> {
        let tokens = lex(text)?;
        let mut p = Parser { tokens, at: 0 };
        let expr = p.or()?;
        if p.at != p.tokens.len() {
            return Err(format!("unexpected `{}`", p.tokens[p.at].shown()));
        }
        Ok(expr)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Op(&'static str),
}

impl Token {
    fn shown(&self) -> String {
        match self {
            Token::Ident(s) => s.clone(),
            Token::Str(s) => format!("'{s}'"),
            Token::Op(o) => o.to_string(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '\'' | '`' | '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(ch) => s.push(ch),
                        None => return Err("a quoted string is not closed".into()),
                    }
                }
                tokens.push(Token::Str(s));
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if !(ch.is_alphanumeric() || ch == '_' || ch == '.') {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                tokens.push(Token::Ident(s));
            }
            _ => {
                let rest: String = chars.clone().take(2).collect();
                let op = ["==", "!=", "&&", "||"]
                    .into_iter()
                    .find(|op| rest.starts_with(op))
                    .or_else(|| {
                        ["!", "(", ")", ","]
                            .into_iter()
                            .find(|op| rest.starts_with(op))
                    })
                    .ok_or_else(|| format!("unexpected `{c}`"))?;
                for _ in 0..op.len() {
                    chars.next();
                }
                tokens.push(Token::Op(op));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, op: &'static str) -> bool {
        if self.peek() == Some(&Token::Op(op)) {
            self.at += 1;
            return true;
        }
        false
    }

    fn expect(&mut self, op: &'static str) -> Result<(), String> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(format!("expected `{op}`"))
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            self.expect(")")?;
            return Ok(inner);
        }
        let Some(Token::Ident(name)) = self.peek().cloned() else {
            return Err("expected `error`, `error.error_type` or `contains(...)`".into());
        };
        self.at += 1;
        match name.as_str() {
            "error" => Ok(Expr::Failed),
            "error.error_type" => {
                let negated = if self.eat("==") {
                    false
                } else if self.eat("!=") {
                    true
                } else {
                    return Err("`error.error_type` is compared with `==` or `!=`".into());
                };
                let value = self.string()?;
                let is = Expr::ErrorTypeIs(value);
                Ok(if negated { Expr::Not(Box::new(is)) } else { is })
            }
            "contains" => {
                self.expect("(")?;
                match self.peek().cloned() {
                    Some(Token::Ident(f)) if f == "error.error_msg" => self.at += 1,
                    _ => return Err("`contains` looks in `error.error_msg` only".into()),
                }
                self.expect(",")?;
                let text = self.string()?;
                self.expect(")")?;
                Ok(Expr::ErrorMessageContains(text))
            }
            other => Err(format!(
                "`{other}` is not a field infergate's breakers can read"
            )),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Token::Str(s)) => {
                self.at += 1;
                Ok(s)
            }
            _ => Err("expected a quoted string".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed<'a>(kind: &'a str, msg: &'a str) -> Outcome<'a> {
        Outcome {
            error: Some((kind, msg)),
        }
    }

    #[test]
    fn inference_perfs_example_and_the_other_forms() {
        let e = Expr::parse("error.error_type == 'TimeoutError'").unwrap();
        assert!(e.holds(&failed("TimeoutError", "")));
        assert!(!e.holds(&failed("HTTP Error 503", "")));
        assert!(!e.holds(&Outcome { error: None }));
        let e = Expr::parse(
            "error && (error.error_type != 'TimeoutError' || contains(error.error_msg, 'busy'))",
        )
        .unwrap();
        assert!(e.holds(&failed("HTTP Error 503", "")));
        assert!(e.holds(&failed("TimeoutError", "server busy")));
        assert!(!e.holds(&failed("TimeoutError", "slow")));
        assert!(
            Expr::parse("!error")
                .unwrap()
                .holds(&Outcome { error: None })
        );
    }

    #[test]
    fn other_expressions_are_refused_with_what_is_wrong() {
        for (text, says) in [
            ("end_time - start_time > `5`", "unexpected `-`"),
            ("request_data == 'x'", "`request_data` is not a field"),
            ("error.error_type > 'a'", "unexpected `>`"),
            ("error.error_type 'a'", "compared with `==` or `!=`"),
            ("contains(request_data, 'x')", "error.error_msg"),
            ("error.error_type == 'a", "not closed"),
            ("(error", "expected `)`"),
        ] {
            let e = Expr::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
