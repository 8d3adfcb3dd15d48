//! The one line a usage error prints.
//!
//! The contract (see `tests/it/cli.rs`): exactly one short line that names the
//! flag. Two things in user input can break it, and both come back in
//! clap's own messages as well as ours:
//! - length: a 100 kB argument quoted in full is a 100 kB line, so a
//!   quoted value keeps its first [`VALUE_CHARS`] characters and says how
//!   long it was, and the whole line is capped at [`LINE_CHARS`];
//! - control characters: a newline splits the line, an escape sequence
//!   repaints the terminal, so they are shown escaped (`\n`, `\u{1b}`).

use std::error::Error as _;
use std::fmt::Write;

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Characters of a user's value kept in a message.
pub const VALUE_CHARS: usize = 64;
/// Characters of a whole message, before ` (see --help)`.
pub const LINE_CHARS: usize = 200;

/// One line for `e`, without the `echod: ` prefix: `FLAG VALUE: REASON`
/// for a refused value, clap's own message and its tips (`; a similar
/// argument exists: '--listen'`) otherwise; either way with every value
/// from `argv` shortened and escaped.
pub fn one_line(e: &clap::Error, argv: &[String]) -> String {
    let text = refused_value(e).unwrap_or_else(|| clap_line(e, argv));
    format!("{} (see --help)", shorten(&escape(&text), LINE_CHARS))
}

/// `--max-conns -1: must not be negative`, from clap's context for a
/// value that a parser or the list of possible values refused.
fn refused_value(e: &clap::Error) -> Option<String> {
    let (Some(ContextValue::String(arg)), Some(ContextValue::String(value))) = (
        e.get(ContextKind::InvalidArg),
        e.get(ContextKind::InvalidValue),
    ) else {
        return None;
    };
    // "--max-conns <N>" -> "--max-conns"
    let flag = arg.split(' ').next().unwrap_or(arg);
    let reason = match e.kind() {
        ErrorKind::ValueValidation => e
            .source()
            .map_or_else(|| "invalid value".to_string(), |s| s.to_string()),
        // An empty value here means none was given: clap says that well.
        ErrorKind::InvalidValue if !value.is_empty() => match e.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => format!("must be one of {}", valid.join(", ")),
            _ => "invalid value".to_string(),
        },
        _ => return None,
    };
    Some(format!("{flag} {}: {reason}", shown(value)))
}

/// clap's message without its `error: ` prefix, then its tips after `; `,
/// with long or unprintable arguments replaced by their [`shown`] form
/// *before* the text is split into lines (a newline inside an argument must not end the message).
fn clap_line(e: &clap::Error, argv: &[String]) -> String {
    let mut text = e.render().to_string();
    let mut odd: Vec<&String> = argv
        .iter()
        .filter(|a| a.chars().count() > VALUE_CHARS || a.chars().any(needs_escape))
        .collect();
    // Longest first, so a long argument containing a shorter one is
    // replaced whole.
    odd.sort_by_key(|a| std::cmp::Reverse(a.len()));
    for arg in odd {
        text = text.replace(arg.as_str(), &shown(arg));
    }
    // clap puts some of the message on the lines after the first (the
    // missing arguments of "the following required arguments were not
    // provided:"): keep them, up to the usage hint. Its tips ("a similar
    // argument exists: '--listen'") are what turns a typo into a fix, so
    // they stay too, after the message.
    let (mut body, mut tips) = (Vec::new(), Vec::new());
    for l in text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        match l.strip_prefix("tip:") {
            Some(tip) => tips.push(tip.trim()),
            None => body.push(l),
        }
    }
    let joined = body.join(" ");
    let line = if joined.is_empty() {
        "invalid arguments"
    } else {
        joined.trim_start_matches("error: ")
    };
    std::iter::once(line)
        .chain(tips)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A user's value as messages show it: escaped, cut to [`VALUE_CHARS`]
/// with its full length noted, and quoted when it is empty or has spaces
/// (so the reader can tell where it ends).
pub fn shown(value: &str) -> String {
    let mut s = escape(value);
    let len = value.chars().count();
    if len > VALUE_CHARS || s.chars().count() > VALUE_CHARS {
        s = format!("{}… ({len} characters)", shorten_raw(&s, VALUE_CHARS));
    }
    if value.is_empty() || value.contains(char::is_whitespace) {
        format!("'{s}'")
    } else {
        s
    }
}

/// Control characters and the invisible ones that reorder text (bidi
/// overrides, zero-width marks): what can break or disguise a line.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every [`needs_escape`] character written as an escape.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` cut to `max` characters, with `…` when something was cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    format!("{}…", shorten_raw(text, max))
}

/// The first `max` characters of `text`.
fn shorten_raw(text: &str, max: usize) -> &str {
    let end = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_printable_values_are_shown_as_they_are() {
        assert_eq!(shown("-5"), "-5");
        assert_eq!(shown("500000000000y"), "500000000000y");
        assert_eq!(shown(""), "''");
        assert_eq!(shown("1 h"), "'1 h'");
    }

    #[test]
    fn long_values_are_cut_and_say_how_long_they_were() {
        let s = shown(&"x".repeat(100_000));
        assert_eq!(s, format!("{}… (100000 characters)", "x".repeat(64)));
        // Multi-byte characters are never split.
        let s = shown(&"é".repeat(100));
        assert!(s.starts_with(&"é".repeat(64)) && s.ends_with("(100 characters)"));
    }

    #[test]
    fn control_characters_are_escaped_so_the_line_stays_one() {
        assert_eq!(shown("a\nb"), "'a\\nb'");
        assert_eq!(shown("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(shown("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn whole_lines_are_capped() {
        let line = shorten(&"y".repeat(1000), LINE_CHARS);
        assert_eq!(line.chars().count(), LINE_CHARS + 1);
        assert!(line.ends_with('…'));
    }
}
