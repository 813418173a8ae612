//! Escaping a line's bytes into printable text, and back, exactly.
//!
//! Why here: a rejected line (`core_rejects.raw_line`) and a line shown as received from a
//! capture's kept bytes (`spine captures lines`) must both be shown without a control byte
//! reaching a terminal and stored identically on SQLite and PostgreSQL, whose text refuses NUL
//! and invalid UTF-8; one convention for every domain keeps them comparable.

/// True for a character [`escape_raw`] writes as `\xNN` bytes although it is valid UTF-8: the
/// control characters (C0 except TAB, DEL, C1), which terminals interpret and PostgreSQL (NUL)
/// refuses.
fn needs_escape(c: char) -> bool {
    c != '\t' && c.is_control()
}

fn push_hex_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('\\');
    out.push('x');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

fn push_escaped_str(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if needs_escape(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                push_hex_escape(out, b);
            }
        } else {
            out.push(c);
        }
    }
}

/// Escapes a line's bytes into printable text that [`unescape_raw`] turns back into exactly
/// those bytes: a backslash becomes `\\`; every byte that is not part of printable, valid UTF-8
/// (invalid UTF-8, NUL and the other C0 controls except TAB, DEL, ESC, and the C1 controls)
/// becomes `\xNN` (uppercase hex); everything else is kept as is.
///
/// Why: a rejected line must be stored so that its exact bytes can be recovered, identically on
/// SQLite and PostgreSQL (whose text refuses NUL and invalid UTF-8), and shown to an operator
/// without a control byte reaching the terminal. An ordinary UTF-8 line without a backslash is
/// its own escape, so the stored text reads like the file.
pub fn escape_raw(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_escaped_str(&mut out, s);
                return out;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                push_escaped_str(
                    &mut out,
                    std::str::from_utf8(valid).expect("the prefix up to valid_up_to is UTF-8"),
                );
                let bad = e.error_len().unwrap_or(after.len());
                for &b in &after[..bad] {
                    push_hex_escape(&mut out, b);
                }
                rest = &after[bad..];
            }
        }
    }
}

/// Turns text made by [`escape_raw`] back into the exact bytes: `\\` is a backslash, `\xNN` (two
/// hex digits) is the byte `NN`. A backslash followed by anything else (which `escape_raw` never
/// writes) is kept literally, so any text has an answer.
pub fn unescape_raw(text: &str) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                    continue;
                }
                Some(b'x') => {
                    if let (Some(hi), Some(lo)) = (
                        b.get(i + 2).copied().and_then(hex),
                        b.get(i + 3).copied().and_then(hex),
                    ) {
                        out.push(hi << 4 | lo);
                        i += 4;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}
