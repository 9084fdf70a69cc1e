//! SMS segment counting: picks the encoding (GSM 03.38 7-bit or UCS-2) for a
//! message body and counts how many SMS parts it occupies.
//!
//! The rules follow 3GPP TS 23.038 / 23.040:
//!
//! * A text is sent as GSM-7 when every character is in the GSM 03.38 default
//!   alphabet or its extension table. Basic characters take one septet;
//!   extension characters (`^ { } \ [ ~ ] | €` and form feed) take two, because
//!   they are sent as `ESC` followed by the character. National language shift
//!   tables are not used.
//! * Otherwise the whole text is sent as UCS-2 and counted in UTF-16 code
//!   units, so a character outside the Basic Multilingual Plane (most emoji)
//!   takes two units.
//! * A single SMS holds 160 septets or 70 UCS-2 units. A longer message is
//!   split into concatenated parts of 153 septets or 67 units (the rest of each
//!   part is the user data header). Parts are filled greedily, and an escape
//!   sequence or a surrogate pair never straddles two parts: when it does not
//!   fit in what is left of a part it moves whole to the next one, so a
//!   message can need more parts than `ceil(units / 153)` or
//!   `ceil(units / 67)` suggests.
//!
//! [`count`] does one pass over the text and allocates nothing.

/// Septets in a single-part GSM-7 SMS.
const GSM7_SINGLE: u32 = 160;
/// Septets in each part of a concatenated GSM-7 SMS.
const GSM7_MULTI: u32 = 153;
/// UTF-16 code units in a single-part UCS-2 SMS.
const UCS2_SINGLE: u32 = 70;
/// UTF-16 code units in each part of a concatenated UCS-2 SMS.
const UCS2_MULTI: u32 = 67;

/// The character encoding an SMS body is sent in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub enum Encoding {
    /// The GSM 03.38 7-bit default alphabet, with its extension table.
    #[serde(rename = "GSM-7")]
    Gsm7,
    /// UCS-2 (counted as UTF-16, so astral characters take two units).
    #[serde(rename = "UCS-2")]
    Ucs2,
}

/// How a message body is encoded and how many SMS parts it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentCount {
    /// The encoding the body is sent in.
    pub encoding: Encoding,
    /// The number of SMS parts (1 for a single, non-concatenated SMS).
    pub segments: u32,
    /// septets for GSM-7, UTF-16 code units for UCS-2
    pub units: u32,
}

/// Septets `c` takes in GSM-7: `Some(1)` for the basic character set,
/// `Some(2)` for the extension table, `None` when GSM-7 cannot carry it.
///
/// `ESC` (0x1B) is not a character of the alphabet, so it is `None`.
const fn gsm7_septets(c: char) -> Option<u32> {
    match c {
        // Basic character set, in table order (0x00..=0x7F), without ESC.
        '@' | '£' | '$' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | '\n' | 'Ø' | 'ø' | '\r'
        | 'Å' | 'å' => Some(1),
        'Δ' | '_' | 'Φ' | 'Γ' | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' => {
            Some(1)
        }
        ' ' | '!' | '"' | '#' | '¤' | '%' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | '-'
        | '.' | '/' => Some(1),
        '0'..='9' | ':' | ';' | '<' | '=' | '>' | '?' => Some(1),
        '¡' | 'A'..='Z' | 'Ä' | 'Ö' | 'Ñ' | 'Ü' | '§' => Some(1),
        '¿' | 'a'..='z' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        // Extension table: sent as ESC + character.
        '\u{0C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        _ => None,
    }
}

/// Greedy packing of fixed-width items into parts of `capacity` units, where
/// an item never straddles two parts.
#[derive(Clone, Copy)]
struct Packer {
    /// Units in all items so far.
    total: u32,
    /// Parts opened so far (at least 1).
    parts: u32,
    /// Units used in the current (last) part.
    fill: u32,
}

impl Packer {
    const fn new() -> Self {
        Self {
            total: 0,
            parts: 1,
            fill: 0,
        }
    }

    /// Adds an item of `width` units (1 or 2, never above `capacity`).
    fn push(&mut self, width: u32, capacity: u32) {
        self.total = self.total.saturating_add(width);
        if self.fill + width > capacity {
            self.parts = self.parts.saturating_add(1);
            self.fill = width;
        } else {
            self.fill += width;
        }
    }

    /// Parts needed: one when the total fits a single SMS, else the packed
    /// count of concatenated parts.
    fn segments(&self, single: u32) -> u32 {
        if self.total <= single { 1 } else { self.parts }
    }
}

/// Picks the encoding for `text` and counts its SMS parts.
///
/// The empty text counts as 0 units in 1 segment (GSM-7); callers reject
/// empty bodies separately. See the module docs for the exact rules.
#[must_use]
pub fn count(text: &str) -> SegmentCount {
    let mut gsm = Packer::new();
    let mut ucs = Packer::new();
    let mut gsm7 = true;

    for c in text.chars() {
        if gsm7 {
            match gsm7_septets(c) {
                Some(width) => gsm.push(width, GSM7_MULTI),
                None => gsm7 = false,
            }
        }
        // `len_utf16` is 1 or 2, so the cast is lossless.
        ucs.push(c.len_utf16() as u32, UCS2_MULTI);
    }

    if gsm7 {
        SegmentCount {
            encoding: Encoding::Gsm7,
            segments: gsm.segments(GSM7_SINGLE),
            units: gsm.total,
        }
    } else {
        SegmentCount {
            encoding: Encoding::Ucs2,
            segments: ucs.segments(UCS2_SINGLE),
            units: ucs.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gsm(segments: u32, units: u32) -> SegmentCount {
        SegmentCount {
            encoding: Encoding::Gsm7,
            segments,
            units,
        }
    }

    fn ucs(segments: u32, units: u32) -> SegmentCount {
        SegmentCount {
            encoding: Encoding::Ucs2,
            segments,
            units,
        }
    }

    fn rep(s: &str, n: usize) -> String {
        s.repeat(n)
    }

    #[test]
    fn empty_text_is_one_gsm_segment_of_zero_units() {
        assert_eq!(count(""), gsm(1, 0));
    }

    #[test]
    fn gsm_single_part_boundary() {
        assert_eq!(count(&rep("a", 1)), gsm(1, 1));
        assert_eq!(count(&rep("a", 160)), gsm(1, 160));
        assert_eq!(count(&rep("a", 161)), gsm(2, 161));
    }

    #[test]
    fn gsm_multipart_boundaries() {
        assert_eq!(count(&rep("a", 306)), gsm(2, 306));
        assert_eq!(count(&rep("a", 307)), gsm(3, 307));
        assert_eq!(count(&rep("a", 459)), gsm(3, 459));
        assert_eq!(count(&rep("a", 460)), gsm(4, 460));
    }

    #[test]
    fn extension_characters_take_two_septets() {
        for c in ['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\u{0C}'] {
            assert_eq!(count(&c.to_string()), gsm(1, 2), "{c:?}");
        }
        // 158 + 2 = 160 septets still fits one SMS.
        assert_eq!(count(&format!("{}€", rep("a", 158))), gsm(1, 160));
        // 159 + 2 = 161 septets does not.
        assert_eq!(count(&format!("{}€", rep("a", 159))), gsm(2, 161));
        assert_eq!(count(&rep("€", 80)), gsm(1, 160));
        assert_eq!(count(&rep("€", 81)), gsm(2, 162));
    }

    #[test]
    fn single_part_threshold_is_on_the_total() {
        // 152 + 2 = 154 septets: one SMS, no packing involved.
        assert_eq!(count(&format!("{}€", rep("a", 152))), gsm(1, 154));
    }

    #[test]
    fn escape_sequence_is_not_split_across_parts() {
        // Naively 306 septets = 2 parts. But the '€' would take septets 153
        // and 154, so it moves whole to part 2 (part 1 keeps 152 septets);
        // part 2 then holds 2 + 151 = 153 septets and the last 'a' needs
        // part 3.
        let text = format!("{}€{}", rep("a", 152), rep("a", 152));
        assert_eq!(count(&text), gsm(3, 306));
        // One 'a' less: 305 septets, fits in two parts even with the move.
        let text = format!("{}€{}", rep("a", 152), rep("a", 151));
        assert_eq!(count(&text), gsm(2, 305));
        // The '€' fits exactly at the end of part 1: no move needed.
        let text = format!("{}€{}", rep("a", 151), rep("a", 153));
        assert_eq!(count(&text), gsm(2, 306));
    }

    #[test]
    fn whole_basic_table_is_gsm7() {
        let basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
        // 128 table positions minus ESC.
        assert_eq!(basic.chars().count(), 127);
        assert_eq!(count(basic), gsm(1, 127));
    }

    #[test]
    fn characters_outside_gsm7_force_ucs2() {
        for c in ['`', 'ç', 'á', '\t', '\u{1B}', 'ж', '\u{00A0}', '₹'] {
            assert_eq!(count(&c.to_string()).encoding, Encoding::Ucs2, "{c:?}");
        }
    }

    #[test]
    fn ucs2_single_part_boundary() {
        assert_eq!(count(&rep("ж", 70)), ucs(1, 70));
        assert_eq!(count(&rep("ж", 71)), ucs(2, 71));
    }

    #[test]
    fn ucs2_multipart_boundaries() {
        assert_eq!(count(&rep("ж", 134)), ucs(2, 134));
        assert_eq!(count(&rep("ж", 135)), ucs(3, 135));
        assert_eq!(count(&rep("ж", 201)), ucs(3, 201));
        assert_eq!(count(&rep("ж", 202)), ucs(4, 202));
    }

    #[test]
    fn emoji_takes_two_utf16_units() {
        assert_eq!(count("😀"), ucs(1, 2));
        // 68 + 2 = 70 units: one SMS.
        assert_eq!(count(&format!("{}😀", rep("ж", 68))), ucs(1, 70));
        // 69 + 2 = 71 units: two parts, although it is only 70 characters.
        let text = format!("{}😀", rep("ж", 69));
        assert_eq!(text.chars().count(), 70);
        assert_eq!(count(&text), ucs(2, 71));
        // An emoji with plain ASCII is UCS-2 too.
        assert_eq!(count("ok 👍"), ucs(1, 5));
    }

    #[test]
    fn surrogate_pair_is_not_split_across_parts() {
        // Naively 134 units = 2 parts, but the emoji would start at unit 67
        // of part 1, so it moves to part 2 (2 + 65 = 67) and the last 'ж'
        // needs part 3.
        let text = format!("{}😀{}", rep("ж", 66), rep("ж", 66));
        assert_eq!(count(&text), ucs(3, 134));
        let text = format!("{}😀{}", rep("ж", 66), rep("ж", 65));
        assert_eq!(count(&text), ucs(2, 133));
        // The emoji ends part 1 exactly: no move.
        let text = format!("{}😀{}", rep("ж", 65), rep("ж", 67));
        assert_eq!(count(&text), ucs(2, 134));
    }

    #[test]
    fn one_non_gsm_character_switches_the_whole_text_to_ucs2() {
        // 100 GSM characters alone: one GSM-7 SMS.
        assert_eq!(count(&rep("a", 100)), gsm(1, 100));
        // Plus one Cyrillic letter: 101 UCS-2 units, two parts.
        assert_eq!(count(&format!("{}ж", rep("a", 100))), ucs(2, 101));
        // Plus one Arabic letter.
        assert_eq!(count(&format!("{}ع", rep("a", 60))), ucs(1, 61));
        // In UCS-2 an extension character is a single unit.
        assert_eq!(count("€ж"), ucs(1, 2));
        assert_eq!(count(&format!("{}ж", rep("€", 69))), ucs(1, 70));
    }

    #[test]
    fn persian_text_is_ucs2() {
        let text = "سلام، کد تایید شما ۱۲۳۴۵ است.";
        let units = text.encode_utf16().count() as u32;
        assert_eq!(units, text.chars().count() as u32);
        assert_eq!(count(text), ucs(1, units));
        assert_eq!(count(&rep("سلام ", 14)), ucs(1, 70));
        assert_eq!(count(&rep("سلام ", 27)), ucs(3, 135));
    }

    #[test]
    fn line_breaks_are_gsm7() {
        assert_eq!(count("a\r\nb"), gsm(1, 4));
    }

    #[test]
    fn encoding_names() {
        assert_eq!(Encoding::Gsm7.as_str(), "GSM-7");
        assert_eq!(Encoding::Ucs2.to_string(), "UCS-2");
        assert_eq!(serde_json::to_string(&Encoding::Gsm7).unwrap(), "\"GSM-7\"");
        assert_eq!(serde_json::to_string(&Encoding::Ucs2).unwrap(), "\"UCS-2\"");
        let back: Encoding = serde_json::from_str("\"UCS-2\"").unwrap();
        assert_eq!(back, Encoding::Ucs2);
        assert!(serde_json::from_str::<Encoding>("\"Gsm7\"").is_err());
    }

    #[test]
    fn openapi_schema_uses_wire_names() {
        let schema = serde_json::to_string(&<Encoding as utoipa::PartialSchema>::schema()).unwrap();
        assert!(schema.contains("\"GSM-7\""), "{schema}");
        assert!(schema.contains("\"UCS-2\""), "{schema}");
    }
}
