//! Text decoding for rating files.
//!
//! The MovieLens 100K `u.item` and 1M `movies.dat` files are ISO-8859-1 (Latin-1): one byte per
//! character, `0xE9` = `é`. Reading them as UTF-8 either fails or, with a lossy decoder, turns
//! every accented title into `U+FFFD`, which an LLM prompt must never contain. Copies of these
//! files that someone re-encoded to UTF-8 also circulate, so [`decode_legacy`] accepts both: a
//! file that is valid UTF-8 is taken as UTF-8, anything else as Latin-1. A genuine Latin-1 file
//! with accented letters is (in practice) never valid UTF-8: `é` followed by an ASCII letter is an
//! invalid UTF-8 sequence. Copies that were already damaged (replacement characters baked in)
//! are rejected with a message that says where and what to do.

use crate::{Error, Result};
use std::borrow::Cow;

/// Decode bytes as Latin-1: every byte is the Unicode code point of the same value.
pub fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// Decode a "legacy" MovieLens text file: UTF-8 if the whole file is valid UTF-8, otherwise
/// Latin-1. Fails if the text contains U+FFFD (a copy damaged by a lossy re-encoding), naming the
/// first line where it occurs.
pub fn decode_legacy<'a>(file: &str, bytes: &'a [u8]) -> Result<Cow<'a, str>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(latin1(bytes)),
    };
    // U+FFFD decoded as UTF-8, or its UTF-8 bytes EF BF BD read as Latin-1 ("ï¿½").
    for (i, line) in text.split('\n').enumerate() {
        if line.contains('\u{FFFD}') || line.contains("\u{EF}\u{BF}\u{BD}") {
            return Err(Error::data(
                file,
                i + 1,
                "contains a Unicode replacement character: this copy was damaged by a lossy \
                 re-encoding; use the original GroupLens file (ISO-8859-1)",
            ));
        }
    }
    Ok(text)
}

/// Decode a file that must be UTF-8 (MovieLens latest CSVs, Amazon JSON lines). A leading byte
/// order mark is dropped. On invalid bytes the error names the line.
pub fn decode_utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Error::data(file, line, "not valid UTF-8 (this format must be UTF-8)")
    })
}

/// Numbered lines of a text: `(1-based line number, line without its `\n` or `\r\n`)`.
/// Blank lines (a trailing newline, an empty line between records) are left out.
pub fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_decodes_accented_titles() {
        let bytes = b"543|Mis\xE9rables, Les (1995)|";
        assert_eq!(
            decode_legacy("u.item", bytes).unwrap(),
            "543|Misérables, Les (1995)|"
        );
        assert_eq!(latin1(b"\xC1 k\xF6ldum klaka"), "Á köldum klaka");
    }

    #[test]
    fn utf8_copies_are_accepted_as_utf8() {
        let bytes = "73::Misérables, Les (1995)::Drama".as_bytes();
        assert_eq!(
            decode_legacy("movies.dat", bytes).unwrap(),
            "73::Misérables, Les (1995)::Drama"
        );
    }

    #[test]
    fn damaged_copies_are_rejected_with_the_line() {
        let bytes = "1::Toy Story (1995)::Animation\n73::Mis\u{FFFD}rables::Drama\n".as_bytes();
        let err = decode_legacy("movies.dat", bytes).unwrap_err().to_string();
        assert!(err.starts_with("movies.dat:2:"), "{err}");
        // The same damage read as Latin-1 (bytes EF BF BD next to an invalid byte).
        let mut bytes = b"1::Caf\xE9::Drama\n73::Mis".to_vec();
        bytes.extend_from_slice("\u{FFFD}rables::Drama\n".as_bytes());
        let err = decode_legacy("movies.dat", &bytes).unwrap_err().to_string();
        assert!(err.starts_with("movies.dat:2:"), "{err}");
    }

    #[test]
    fn lines_are_numbered_from_one_and_crlf_is_stripped() {
        let got: Vec<_> = lines("a,b\r\n\r\nc,d\r\n").collect();
        assert_eq!(got, vec![(1, "a,b"), (3, "c,d")]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err = decode_utf8("ratings.csv", b"a\nb\n\xFF\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("ratings.csv:3:"), "{err}");
    }
}
