//! `otel_trace_replay.filter`: inference-perf evaluates it as a Python lambda (`eval`); infergate
//! never evaluates code from a scenario file. It parses a small, documented subset of Python
//! instead and refuses anything else by name:
//!
//! ```text
//! lambda x: <test>
//! test    := or-test
//! or      := and ("or" and)*          and := not ("and" not)*
//! not     := "not" not | compare | "(" test ")"
//! compare := value (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") value)?
//! value   := x["k"] | x['k'] | x.get('k') | x.get('k', literal) | len(value) | 'k' in x
//!          | number | 'string' | "string" | True | False | None | value["k"] (nested)
//! ```
//!
//! `x` is the trace record: the trace file's JSON object, with inference-perf's added fields
//! (`session_id`, `max_tokens`, `total_tokens`, `models`, `harness`, `benchmark`). A missing key
//! read with `x['k']` makes the record fail the filter (Python would raise); `x.get` gives the
//! default.

use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub source: String,
    test: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Box<Expr>, Op, Box<Expr>),
    /// The record itself (`x`).
    Record,
    /// `value[key]`: missing keys fail the record.
    Index(Box<Expr>, String),
    /// `value.get(key, default)`.
    Get(Box<Expr>, String, Value),
    Len(Box<Expr>),
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

impl Filter {
    /// Parses `lambda x: ...`, or says what is not in the subset.
    pub fn parse(source: &str) -> Result<Filter, String> {
        let tokens = lex(source)?;
        let mut p = Parser {
            tokens,
            at: 0,
            var: None,
        };
        p.expect(&Tok::Name("lambda".into()))?;
        let Some(Tok::Name(var)) = p.next() else {
            return Err("a filter is `lambda x: <test>`".into());
        };
        p.expect(&Tok::Punct(":"))?;
        p.var = Some(var);
        let test = p.or()?;
        if let Some(t) = p.peek() {
            return Err(format!("unexpected {} after the test", t.show()));
        }
        Ok(Filter {
            source: source.to_string(),
            test,
        })
    }

    /// Whether `record` passes (an error, such as a missing key, fails it).
    pub fn keeps(&self, record: &Value) -> bool {
        eval(&self.test, record).is_ok_and(|v| truthy(&v))
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn eval(e: &Expr, x: &Value) -> Result<Value, ()> {
    Ok(match e {
        Expr::Or(a, b) => Value::Bool(truthy(&eval(a, x)?) || truthy(&eval(b, x)?)),
        Expr::And(a, b) => Value::Bool(truthy(&eval(a, x)?) && truthy(&eval(b, x)?)),
        Expr::Not(a) => Value::Bool(!truthy(&eval(a, x)?)),
        Expr::Record => x.clone(),
        Expr::Index(v, k) => eval(v, x)?.get(k).cloned().ok_or(())?,
        Expr::Get(v, k, d) => eval(v, x)?.get(k).cloned().unwrap_or_else(|| d.clone()),
        Expr::Len(v) => match eval(v, x)? {
            Value::String(s) => Value::from(s.chars().count()),
            Value::Array(a) => Value::from(a.len()),
            Value::Object(o) => Value::from(o.len()),
            _ => return Err(()),
        },
        Expr::Literal(v) => v.clone(),
        Expr::Compare(a, op, b) => Value::Bool(compare(&eval(a, x)?, *op, &eval(b, x)?)?),
    })
}

fn compare(a: &Value, op: Op, b: &Value) -> Result<bool, ()> {
    use std::cmp::Ordering;
    let order = || -> Result<Ordering, ()> {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .zip(y.as_f64())
                .and_then(|(x, y)| x.partial_cmp(&y))
                .ok_or(()),
            (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
            _ => Err(()),
        }
    };
    let equal = || match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    };
    let contains = || -> Result<bool, ()> {
        match b {
            Value::Array(items) => Ok(items.iter().any(|i| compare(a, Op::Eq, i) == Ok(true))),
            Value::Object(o) => Ok(a.as_str().is_some_and(|k| o.contains_key(k))),
            Value::String(s) => Ok(s.contains(a.as_str().ok_or(())?)),
            _ => Err(()),
        }
    };
    Ok(match op {
        Op::Eq => equal(),
        Op::Ne => !equal(),
        Op::Lt => order()? == Ordering::Less,
        Op::Le => order()? != Ordering::Greater,
        Op::Gt => order()? == Ordering::Greater,
        Op::Ge => order()? != Ordering::Less,
        Op::In => contains()?,
        Op::NotIn => !contains()?,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Num(f64),
    Punct(&'static str),
}

impl Tok {
    fn show(&self) -> String {
        match self {
            Tok::Name(n) => format!("`{n}`"),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Num(n) => format!("{n}"),
            Tok::Punct(p) => format!("`{p}`"),
        }
    }
}

const PUNCT: [&str; 14] = [
    "==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ",", ":", ".", "-",
];

fn lex(source: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c || d == '\\')
                .ok_or("a string is not closed")?;
            if chars[i + 1 + end] == '\\' {
                return Err("escapes in strings are not supported in filters".into());
            }
            out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c.is_ascii_digit() {
            let len = chars[i..]
                .iter()
                .take_while(|d| d.is_ascii_digit() || **d == '.' || **d == '_')
                .count();
            let text: String = chars[i..i + len].iter().filter(|d| **d != '_').collect();
            out.push(Tok::Num(
                text.parse().map_err(|_| format!("bad number {text}"))?,
            ));
            i += len;
        } else if c.is_alphabetic() || c == '_' {
            let len = chars[i..]
                .iter()
                .take_while(|d| d.is_alphanumeric() || **d == '_')
                .count();
            out.push(Tok::Name(chars[i..i + len].iter().collect()));
            i += len;
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let p = PUNCT
                .iter()
                .find(|p| rest.starts_with(**p))
                .ok_or_else(|| format!("`{c}` is not in the filter subset infergate reads"))?;
            out.push(Tok::Punct(p));
            i += p.len();
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
    var: Option<String>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn eat(&mut self, t: &Tok) -> bool {
        let hit = self.peek() == Some(t);
        self.at += usize::from(hit);
        hit
    }
    fn expect(&mut self, t: &Tok) -> Result<(), String> {
        match self.next() {
            Some(got) if &got == t => Ok(()),
            Some(got) => Err(format!("expected {}, found {}", t.show(), got.show())),
            None => Err(format!("expected {} at the end", t.show())),
        }
    }
    fn word(&mut self, w: &str) -> bool {
        self.eat(&Tok::Name(w.into()))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.word("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.word("and") {
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }
    fn not(&mut self) -> Result<Expr, String> {
        if self.word("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        let left = self.value()?;
        let op = match self.peek() {
            Some(Tok::Punct("==")) => Op::Eq,
            Some(Tok::Punct("!=")) => Op::Ne,
            Some(Tok::Punct("<")) => Op::Lt,
            Some(Tok::Punct("<=")) => Op::Le,
            Some(Tok::Punct(">")) => Op::Gt,
            Some(Tok::Punct(">=")) => Op::Ge,
            Some(Tok::Name(n)) if n == "in" => Op::In,
            Some(Tok::Name(n)) if n == "not" => {
                self.at += 1;
                if self.peek() != Some(&Tok::Name("in".into())) {
                    return Err("expected `in` after `not`".into());
                }
                Op::NotIn
            }
            _ => return Ok(left),
        };
        self.at += 1;
        Ok(Expr::Compare(Box::new(left), op, Box::new(self.value()?)))
    }

    fn value(&mut self) -> Result<Expr, String> {
        let mut e = match self.next() {
            Some(Tok::Punct("(")) => {
                let e = self.or()?;
                self.expect(&Tok::Punct(")"))?;
                e
            }
            Some(Tok::Punct("-")) => match self.next() {
                Some(Tok::Num(n)) => Expr::Literal(number(-n)),
                _ => return Err("`-` goes before a number".into()),
            },
            Some(Tok::Num(n)) => Expr::Literal(number(n)),
            Some(Tok::Punct("[")) => {
                self.expect(&Tok::Punct("]"))
                    .map_err(|_| "only the empty list `[]` is a list literal".to_string())?;
                Expr::Literal(Value::Array(Vec::new()))
            }
            Some(Tok::Str(s)) => Expr::Literal(Value::String(s)),
            Some(Tok::Name(n)) => match n.as_str() {
                "True" => Expr::Literal(Value::Bool(true)),
                "False" => Expr::Literal(Value::Bool(false)),
                "None" => Expr::Literal(Value::Null),
                "len" => {
                    self.expect(&Tok::Punct("("))?;
                    let inner = self.value()?;
                    self.expect(&Tok::Punct(")"))?;
                    Expr::Len(Box::new(inner))
                }
                _ if Some(&n) == self.var.as_ref() => Expr::Record,
                other => {
                    return Err(format!(
                        "`{other}` is not in the filter subset infergate reads (the record, \
                         [key], .get(key, default), len(), literals, comparisons, in, and/or/not)"
                    ));
                }
            },
            Some(t) => return Err(format!("unexpected {}", t.show())),
            None => return Err("the filter ends too soon".into()),
        };
        loop {
            if self.eat(&Tok::Punct("[")) {
                let Some(Tok::Str(key)) = self.next() else {
                    return Err("only string keys are read: x['key']".into());
                };
                self.expect(&Tok::Punct("]"))?;
                e = Expr::Index(Box::new(e), key);
            } else if self.eat(&Tok::Punct(".")) {
                match self.next() {
                    Some(Tok::Name(m)) if m == "get" => {}
                    Some(t) => {
                        return Err(format!(
                            "only .get(key, default) is read, not .{}",
                            t.show()
                        ));
                    }
                    None => return Err("the filter ends too soon".into()),
                }
                self.expect(&Tok::Punct("("))?;
                let Some(Tok::Str(key)) = self.next() else {
                    return Err("only string keys are read: x.get('key', default)".into());
                };
                let default = if self.eat(&Tok::Punct(",")) {
                    self.literal()?
                } else {
                    Value::Null
                };
                self.expect(&Tok::Punct(")"))?;
                e = Expr::Get(Box::new(e), key, default);
            } else {
                return Ok(e);
            }
        }
    }

    /// A `.get` default: a literal (`[]` included).
    fn literal(&mut self) -> Result<Value, String> {
        match self.value()? {
            Expr::Literal(v) => Ok(v),
            _ => Err("a .get default must be a literal".into()),
        }
    }
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inference_perfs_filters_parse_and_judge_records() {
        let f = Filter::parse("lambda x: x.get('max_tokens', 0) < 28000").unwrap();
        assert!(f.keeps(&json!({"max_tokens": 27999})));
        assert!(!f.keeps(&json!({"max_tokens": 28000})));
        assert!(f.keeps(&json!({})));
        let f = Filter::parse(
            "lambda x: x.get('max_tokens', 0) < 40960 and len(x.get('spans', [])) < 20",
        )
        .unwrap();
        assert!(f.keeps(&json!({"spans": [1, 2]})));
        assert!(!f.keeps(&json!({"spans": vec![0; 20]})));
        let f = Filter::parse("lambda x: x['benchmark'] == 'gsm8k'").unwrap();
        assert!(f.keeps(&json!({"benchmark": "gsm8k"})));
        assert!(!f.keeps(&json!({"benchmark": "other"})));
        assert!(!f.keeps(&json!({})), "a missing key fails the record");
        let f = Filter::parse("lambda x: 'spans' in x and not len(x['spans']) <= 5").unwrap();
        assert!(f.keeps(&json!({"spans": [1, 2, 3, 4, 5, 6]})));
        assert!(!f.keeps(&json!({"spans": [1]})));
        assert!(!f.keeps(&json!({"other": 1})));
        let f = Filter::parse("lambda r: r['models'] != None or (r.get('n', -1) >= 2.5)").unwrap();
        assert!(f.keeps(&json!({"models": ["m"]})));
        assert!(!f.keeps(&json!({"models": null})));
    }

    #[test]
    fn code_outside_the_subset_is_refused_by_name() {
        for (source, says) in [
            (
                "lambda x: __import__('os').system('id')",
                "`__import__` is not in the filter subset",
            ),
            ("x['a'] == 1", "expected `lambda`"),
            ("lambda x: x.keys()", "only .get(key, default) is read"),
            ("lambda x: x[0] == 1", "only string keys"),
            ("lambda x: x['a'] + 1", "`+` is not in the filter subset"),
            ("lambda x: open('f')", "`open` is not in the filter subset"),
            ("lambda x: x['a'] == 'b", "not closed"),
        ] {
            let e = Filter::parse(source).unwrap_err();
            assert!(e.contains(says), "{source}: {e}");
        }
    }
}
