//! Hand-written tokenizer and recursive-descent parser for the filter grammar of RFC 7644
//! §3.4.2.2 (Figure 1). Precedence, loosest first: `or`, `and`, `not`/grouping/value path.
//! `and` and `or` chains are left-associative and parsed in loops, so only grouping (`(`,
//! `not (`, `[`) recurses; [`MAX_DEPTH`] bounds that and [`MAX_FILTER_LEN`] bounds everything
//! else, so a hostile filter cannot exhaust the stack or the CPU.
//!
//! Positions in error messages are byte offsets into the filter, counted from 0.
use super::FilterError;
use super::{AttrPath, CompareOp, Filter, Value};

/// Longest filter accepted, in bytes. Real IdPs send filters of well under 200 bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not (…)` and value-path brackets accepted.
pub const MAX_DEPTH: usize = 32;

/// Parses a SCIM filter.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(invalid(format!(
            "the filter is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
            input.len()
        )));
    }
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(invalid("the filter is empty".into()));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: input.len(),
    };
    let filter = parser.or_expr(false)?;
    if let Some((tok, at)) = parser.peek() {
        return Err(invalid(format!(
            "unexpected {} at {at} after a complete filter",
            tok.describe()
        )));
    }
    Ok(filter)
}

/// Parses an attribute path on its own (`[schema ":"] attr ["." sub]`), as used by `sortBy`,
/// `attributes` and PATCH paths, and by [`Schema`](super::Schema) to name its attributes.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, FilterError> {
    split_attr_path(input).map_err(|m| invalid(format!("invalid attribute path '{input}': {m}")))
}

fn invalid(message: String) -> FilterError {
    FilterError::InvalidFilter(message)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// An attribute path, keyword or literal name (`true`, `false`, `null`).
    Word(String),
    Str(String),
    Num(f64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// `.sub` right after `]`: Entra ID's `emails[type eq "work"].value eq "…"`.
    SubAttr(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("'{w}'"),
            Token::Str(s) => format!("string {}", serde_json::Value::from(s.as_str())),
            Token::Num(n) => format!("number {n}"),
            Token::LParen => "'('".into(),
            Token::RParen => "')'".into(),
            Token::LBracket => "'['".into(),
            Token::RBracket => "']'".into(),
            Token::SubAttr(s) => format!("'.{s}'"),
        }
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '$'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '$')
}

fn tokenize(input: &str) -> Result<Vec<(Token, usize)>, FilterError> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                let tok = match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    '[' => Token::LBracket,
                    _ => Token::RBracket,
                };
                tokens.push((tok, at));
                if c == ']' && matches!(chars.peek(), Some(&(_, '.'))) {
                    let (dot, _) = chars.next().expect("peeked");
                    let mut end = dot + 1;
                    while let Some(&(i, c)) = chars.peek() {
                        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$') {
                            end = i + c.len_utf8();
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    if end == dot + 1 {
                        return Err(invalid(format!(
                            "expected a sub-attribute name after '.' at {dot}"
                        )));
                    }
                    tokens.push((Token::SubAttr(input[dot + 1..end].to_string()), dot));
                }
            }
            '"' => {
                chars.next();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end =
                    end.ok_or_else(|| invalid(format!("unterminated string starting at {at}")))?;
                let s: String = serde_json::from_str(&input[at..=end])
                    .map_err(|e| invalid(format!("invalid string starting at {at}: {e}")))?;
                tokens.push((Token::Str(s), at));
            }
            '-' | '0'..='9' => {
                let mut end = at;
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E') {
                        end = i + 1;
                        chars.next();
                    } else {
                        break;
                    }
                }
                let text = &input[at..end];
                let n: f64 = serde_json::from_str(text)
                    .map_err(|_| invalid(format!("invalid number '{text}' at {at}")))?;
                tokens.push((Token::Num(n), at));
            }
            c if is_word_start(c) => {
                let mut end = at;
                while let Some(&(i, c)) = chars.peek() {
                    if is_word_char(c) {
                        end = i + c.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push((Token::Word(input[at..end].to_string()), at));
            }
            _ => {
                let shown = if bytes[at].is_ascii_graphic() {
                    format!("'{c}'")
                } else {
                    format!("U+{:04X}", c as u32)
                };
                return Err(invalid(format!("unexpected character {shown} at {at}")));
            }
        }
    }
    Ok(tokens)
}

fn is_attr_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if is_word_start(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Splits `[schema ":"] attr ["." sub]`. The URN may itself contain dots (`…:2.0:User`), so the
/// attribute starts after the last colon.
fn split_attr_path(word: &str) -> Result<AttrPath, String> {
    let (schema, rest) = match word.rfind(':') {
        Some(i) => {
            let schema = &word[..i];
            if schema.is_empty() || schema.ends_with(':') {
                return Err("the schema URN is empty or malformed".into());
            }
            (Some(schema.to_string()), &word[i + 1..])
        }
        None => (None, word),
    };
    let mut parts = rest.split('.');
    let attr = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() {
        return Err("only one level of sub-attribute is allowed".into());
    }
    if !is_attr_name(attr) {
        return Err(format!("'{attr}' is not an attribute name"));
    }
    if let Some(sub) = sub {
        if !is_attr_name(sub) {
            return Err(format!("'{sub}' is not a sub-attribute name"));
        }
    }
    Ok(AttrPath {
        schema,
        attr: attr.to_string(),
        sub: sub.map(str::to_string),
    })
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    depth: usize,
    /// Byte length of the input, for "at end of filter" positions.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<(&Token, usize)> {
        self.tokens.get(self.pos).map(|(t, at)| (t, *at))
    }

    fn next(&mut self) -> Option<(Token, usize)> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some((Token::Word(w), _)) if w.eq_ignore_ascii_case(keyword))
    }

    fn found(&self) -> String {
        match self.peek() {
            Some((tok, at)) => format!("{} at {at}", tok.describe()),
            None => format!("the end of the filter at {}", self.end),
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid(format!(
                "the filter nests deeper than {MAX_DEPTH} levels (at {at})"
            )));
        }
        Ok(())
    }

    fn expect_close(&mut self, close: Token, open_at: usize) -> Result<(), FilterError> {
        match self.peek() {
            Some((tok, _)) if *tok == close => {
                self.next();
                self.depth -= 1;
                Ok(())
            }
            _ => Err(invalid(format!(
                "expected {} to close the {} opened at {open_at}, found {}",
                close.describe(),
                if close == Token::RParen { "'('" } else { "'['" },
                self.found()
            ))),
        }
    }

    /// `or_expr := and_expr ("or" and_expr)*`. `in_value_path` forbids nested value paths
    /// (`valFilter` cannot contain one).
    fn or_expr(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        let mut left = self.and_expr(in_value_path)?;
        while self.peek_keyword("or") {
            self.next();
            let right = self.and_expr(in_value_path)?;
            left = Filter::or(left, right);
        }
        Ok(left)
    }

    fn and_expr(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        let mut left = self.unary(in_value_path)?;
        while self.peek_keyword("and") {
            self.next();
            let right = self.unary(in_value_path)?;
            left = Filter::and(left, right);
        }
        Ok(left)
    }

    fn unary(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        let Some((tok, at)) = self.peek().map(|(t, at)| (t.clone(), at)) else {
            return Err(invalid(format!(
                "expected an attribute path, 'not' or '(', found {}",
                self.found()
            )));
        };
        match tok {
            Token::LParen => {
                self.next();
                self.enter(at)?;
                let inner = self.or_expr(in_value_path)?;
                self.expect_close(Token::RParen, at)?;
                Ok(inner)
            }
            Token::Word(w)
                if w.eq_ignore_ascii_case("not")
                    && matches!(self.tokens.get(self.pos + 1), Some((Token::LParen, _))) =>
            {
                self.next();
                let (_, open_at) = self.next().expect("peeked");
                self.enter(open_at)?;
                let inner = self.or_expr(in_value_path)?;
                self.expect_close(Token::RParen, open_at)?;
                Ok(Filter::not(inner))
            }
            Token::Word(w) => {
                self.next();
                let path = split_attr_path(&w)
                    .map_err(|m| invalid(format!("invalid attribute path '{w}' at {at}: {m}")))?;
                self.after_path(path, &w, in_value_path)
            }
            other => Err(invalid(format!(
                "expected an attribute path, 'not' or '(', found {} at {at}",
                other.describe()
            ))),
        }
    }

    /// What follows an attribute path: `[valFilter]`, `pr`, or `op compValue`.
    fn after_path(
        &mut self,
        path: AttrPath,
        word: &str,
        in_value_path: bool,
    ) -> Result<Filter, FilterError> {
        let Some((tok, at)) = self.next() else {
            return Err(invalid(format!(
                "expected an operator after '{word}', found the end of the filter at {}",
                self.end
            )));
        };
        let op_word = match tok {
            Token::LBracket if in_value_path => {
                return Err(invalid(format!(
                    "value paths cannot be nested ('[' at {at})"
                )));
            }
            Token::LBracket => {
                if path.sub.is_some() {
                    return Err(invalid(format!(
                        "a value filter applies to an attribute, not to the sub-attribute '{word}' (at {at})"
                    )));
                }
                self.enter(at)?;
                let inner = self.or_expr(true)?;
                self.expect_close(Token::RBracket, at)?;
                // Entra ID's form `attr[filter].sub op value` (not in the RFC's ABNF) means
                // `attr[filter and sub op value]`: one value satisfies both.
                if let Some((Token::SubAttr(sub), _)) = self.tokens.get(self.pos).cloned() {
                    self.next();
                    let cmp = self.after_path(AttrPath::new(sub.clone()), &sub, true)?;
                    return Ok(Filter::value_path(path, Filter::and(inner, cmp)));
                }
                return Ok(Filter::value_path(path, inner));
            }
            Token::Word(op) => op,
            other => {
                return Err(invalid(format!(
                    "expected an operator after '{word}', found {} at {at}",
                    other.describe()
                )));
            }
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(&op_word) else {
            if word.eq_ignore_ascii_case("not") {
                return Err(invalid(format!(
                    "'not' must be followed by '(' (found '{op_word}' at {at})"
                )));
            }
            return Err(invalid(format!(
                "unknown operator '{op_word}' at {at} (expected eq, ne, co, sw, ew, gt, ge, lt, le or pr)"
            )));
        };
        let value = match self.next() {
            Some((Token::Str(s), _)) => Value::Str(s),
            Some((Token::Num(n), _)) => Value::Num(n),
            Some((Token::Word(w), _)) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Some((Token::Word(w), _)) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Some((Token::Word(w), _)) if w.eq_ignore_ascii_case("null") => Value::Null,
            Some((other, vat)) => {
                return Err(invalid(format!(
                    "expected a value (string, number, true, false or null) after '{op_word}', found {} at {vat}{}",
                    other.describe(),
                    if matches!(other, Token::Word(_)) { " (strings must be quoted)" } else { "" }
                )));
            }
            None => {
                return Err(invalid(format!(
                    "expected a value after '{op_word}', found the end of the filter at {}",
                    self.end
                )));
            }
        };
        Ok(Filter::compare(path, op, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(attr: &str) -> AttrPath {
        AttrPath::new(attr)
    }

    fn err(input: &str) -> String {
        match parse_filter(input) {
            Err(FilterError::InvalidFilter(m)) => m,
            other => panic!("{input:?}: expected InvalidFilter, got {other:?}"),
        }
    }

    #[test]
    fn entra_value_path_with_sub_attribute_means_one_value_satisfies_both() {
        let f = parse_filter(r#"emails[type eq "work"].value eq "a@b.c""#).unwrap();
        let want = Filter::value_path(
            p("emails"),
            Filter::and(
                Filter::compare(p("type"), CompareOp::Eq, Value::Str("work".into())),
                Filter::compare(p("value"), CompareOp::Eq, Value::Str("a@b.c".into())),
            ),
        );
        assert_eq!(f, want);
        assert!(err(r#"emails[type eq "work"]. eq "x""#).contains("sub-attribute"));
    }

    #[test]
    fn attr_paths_split_urn_attr_and_sub() {
        assert_eq!(
            parse_attr_path("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName").unwrap(),
            AttrPath::with_sub("name", "familyName")
                .in_schema("urn:ietf:params:scim:schemas:core:2.0:User")
        );
        assert_eq!(parse_attr_path("$ref").unwrap(), p("$ref"));
        assert!(parse_attr_path("a.b.c").is_err());
        assert!(parse_attr_path(":userName").is_err());
        assert!(parse_attr_path("urn:x::userName").is_err());
        assert!(parse_attr_path("urn:x:").is_err());
        assert!(parse_attr_path("name.").is_err());
    }

    #[test]
    fn keywords_and_literals_are_case_insensitive() {
        assert_eq!(
            parse_filter("active EQ TRUE AND title PR").unwrap(),
            Filter::and(
                Filter::compare(p("active"), CompareOp::Eq, Value::Bool(true)),
                Filter::Present(p("title"))
            )
        );
        assert_eq!(
            parse_filter("NOT(x eq Null)").unwrap(),
            Filter::not(Filter::compare(p("x"), CompareOp::Eq, Value::Null))
        );
    }

    #[test]
    fn numbers_follow_json() {
        assert_eq!(
            parse_filter("n ge -1.5e2").unwrap(),
            Filter::compare(p("n"), CompareOp::Ge, Value::Num(-150.0))
        );
        assert!(err("n eq 01").contains("invalid number '01'"));
        assert!(err("n eq 1.").contains("invalid number"));
        assert!(err("n eq 1e999").contains("invalid number"));
    }

    #[test]
    fn strings_follow_json() {
        assert_eq!(
            parse_filter(r#"x eq "a\"b\\c\u00e9\ud83d\ude00""#).unwrap(),
            Filter::compare(p("x"), CompareOp::Eq, Value::Str("a\"b\\cé😀".into()))
        );
        assert!(err(r#"x eq "a\qb""#).contains("invalid string starting at 5"));
        assert!(err("x eq \"a\nb\"").contains("invalid string"));
    }

    #[test]
    fn messages_point_at_the_problem() {
        assert_eq!(
            err(r#"userName eq "john"#),
            "unterminated string starting at 12"
        );
        assert!(err(r#"userName like "j""#).starts_with("unknown operator 'like' at 9"));
        assert!(err("userName eq john").contains("strings must be quoted"));
        assert!(err("userName").contains("expected an operator after 'userName'"));
        assert!(err("userName eq").contains("expected a value after 'eq'"));
        assert!(err(r#"(a pr"#).contains("expected ')' to close the '(' opened at 0"));
        assert!(err(r#"a pr)"#).contains("unexpected ')' at 4 after a complete filter"));
        assert!(err("a pr and").contains("found the end of the filter at 8"));
        assert!(err("a pr # b").contains("unexpected character '#' at 5"));
        assert!(err("").contains("empty"));
        assert!(err("   ").contains("empty"));
        assert!(err(r#"emails[type[value eq "x"]]"#).contains("cannot be nested"));
        assert!(err(r#"name.givenName[x eq "x"]"#).contains("sub-attribute"));
        assert!(err(r#""userName" eq "x""#).contains("expected an attribute path"));
        assert!(err("not a pr").contains("'not' must be followed by '('"));
    }
}
