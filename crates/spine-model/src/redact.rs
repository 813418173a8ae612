//! Secrets never leave in the clear: what Market Spine stores, logs or prints about a source, a
//! database or an error goes through these functions first.
//!
//! A URL keeps its shape (scheme, user, host, path, parameter names) so people can still see
//! what was used, but the password of its user-info and the value of every credential-like
//! query parameter (`token`, `key`, `password`, `secret`, `signature`, …) become `***`. Error
//! text is redacted the same way wherever a URL appears in it, its control characters are
//! escaped (a file's ANSI escapes must not reach a terminal), and its length is bounded.

/// Query-parameter names (or fragments of them, compared case-insensitively) whose values are
/// credentials.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "key",
    "pass",
    "pwd",
    "secret",
    "signature",
    "sig",
    "auth",
    "credential",
    "session",
    "code",
];

fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| lower.contains(s))
}

/// The URL with its user-info password and credential-like query values replaced by `***`.
/// Text without `scheme://` is returned as is.
pub fn url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..authority_start]);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let rest = &url[authority_end..];
    let (before_query, query_and_fragment) = match rest.find('?') {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };
    out.push_str(before_query);
    if let Some(qf) = query_and_fragment {
        let (query, fragment) = match qf.find('#') {
            Some(h) => (&qf[..h], Some(&qf[h..])),
            None => (qf, None),
        };
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_param(name) => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&params.join("&"));
        if let Some(f) = fragment {
            out.push_str(f);
        }
    }
    out
}

/// Free text with every URL in it redacted by [`url`].
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The URL starts at the scheme: the letters right before `://`.
        let scheme_start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |j| j + 1);
        let end = rest[i + 3..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '`' || c == ')')
            .map_or(rest.len(), |j| i + 3 + j);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The most an error message may be, in characters, when stored or printed.
pub const MAX_ERROR_CHARS: usize = 2_000;

/// An error message fit to store and print: URLs redacted, control characters escaped (`\n`
/// becomes a space: one line), and at most `max` characters, the cut said so.
pub fn error(message: &str, max: usize) -> String {
    let redacted = text(message);
    let mut out = String::with_capacity(redacted.len().min(max + 32));
    for (count, c) in redacted.chars().enumerate() {
        if count >= max {
            let total = redacted.chars().count();
            out.push_str(&format!("… ({} more characters)", total - count));
            return out;
        }
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_credential_parameters_are_hidden() {
        assert_eq!(
            url("http://user:pw@host:8080/otc.csv?token=abc&tier=OTC"),
            "http://user:***@host:8080/otc.csv?token=***&tier=OTC"
        );
        assert_eq!(
            url("postgres://spine:hunter2@db:5432/spine?sslmode=require&password=x"),
            "postgres://spine:***@db:5432/spine?sslmode=require&password=***"
        );
        assert_eq!(
            url("https://s3/x?X-Amz-Signature=deadbeef&X-Amz-Credential=k#frag"),
            "https://s3/x?X-Amz-Signature=***&X-Amz-Credential=***#frag"
        );
        assert_eq!(
            url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            url("sqlite://spine.db?mode=rwc"),
            "sqlite://spine.db?mode=rwc"
        );
        assert_eq!(url("not a url"), "not a url");
    }

    #[test]
    fn urls_inside_text_are_hidden_too() {
        assert_eq!(
            text("not found: http://u:p@h/a.csv?apikey=1 (HTTP 404)"),
            "not found: http://u:***@h/a.csv?apikey=*** (HTTP 404)"
        );
    }

    #[test]
    fn errors_are_one_bounded_line_without_control_characters() {
        assert_eq!(error("a\nb\x1b[31mred", 100), "a b\\u{1b}[31mred");
        let long = "x".repeat(10_000);
        let e = error(&long, 50);
        assert!(e.starts_with(&"x".repeat(50)));
        assert!(e.ends_with("(9950 more characters)"), "{e}");
    }
}
