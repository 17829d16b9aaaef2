//! What a client may call itself. Its name is shown to people on the consent page, so it must
//! read as what it is: control characters (Cc), format characters (Cf: bidi overrides and
//! isolates such as U+202E, zero-width characters such as U+200B, U+FEFF) and line or
//! paragraph separators can reorder or hide parts of the name ("Claude\u{202e}…" displayed
//! backwards, an invisible suffix). Such names are refused, not cleaned: a client that sends
//! them is either broken or trying to deceive (security review F12).
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// The first character of `name` a client name may not contain, if any.
pub fn forbidden_char(name: &str) -> Option<char> {
    name.chars().find(|c| {
        matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
    })
}

#[cfg(test)]
mod tests {
    use super::forbidden_char;

    #[test]
    fn controls_bidi_and_zero_width_characters_are_found() {
        for bad in [
            "Claude\u{202e}lanoitcnuf",
            "a\u{0007}b",
            "tab\there",
            "zero\u{200b}width",
            "joiner\u{200d}",
            "\u{feff}bom",
            "iso\u{2066}late\u{2069}",
            "line\u{2028}sep",
            "soft\u{00ad}hyphen",
            "del\u{007f}",
        ] {
            assert!(forbidden_char(bad).is_some(), "{bad:?}");
        }
        for good in [
            "Claude",
            "Visual Studio Code",
            "Cursor – MCP",
            "日本語クライアント",
            "Café 🚀",
        ] {
            assert_eq!(forbidden_char(good), None, "{good:?}");
        }
    }
}
