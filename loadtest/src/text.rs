//! Message texts: the `--text` mix (GSM-7 single segment, UCS-2 single segment, GSM-7
//! multipart) and the tag that lets the embedded operator tell which request a message it
//! receives belongs to.
//!
//! The gateway hands an operator `{"to", "text", "reference"}`, where `reference` is the
//! recipient's status row id, which the send answer does not reveal. The text is the one thing
//! the load tester both writes and sees again, so every text ends in ` #<run id>-<seq>` (GSM
//! basic characters, so the tag never changes a text's encoding).

use std::fmt::Write as _;
use std::str::FromStr;

/// One kind of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TextKind {
    /// GSM-7, one segment.
    Gsm,
    /// UCS-2 (Persian), one segment.
    Ucs2,
    /// GSM-7, two segments.
    Multipart,
}

impl TextKind {
    /// The text before the tag. Lengths leave room for the longest tag ([`MAX_TAG_LEN`]):
    /// GSM 60 + 21 <= 160, UCS-2 40 + 21 <= 70, multipart 200 + 21 in 161..=306 septets.
    pub fn body(self) -> &'static str {
        match self {
            TextKind::Gsm => "Your verification code is 482913. It expires in 5 minutes.",
            TextKind::Ucs2 => "کد تایید شما ۴۸۲۹۱۳ است. تا ۵ دقیقه معتبر است",
            TextKind::Multipart => {
                "Dear customer, your order 77-1942 has shipped and will arrive on Thursday \
                 between 9:00 and 13:00. Track it in the app or reply STOP to opt out of \
                 delivery updates. Thank you for shopping with us!"
            }
        }
    }

    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TextKind::Gsm => "gsm",
            TextKind::Ucs2 => "ucs2",
            TextKind::Multipart => "multipart",
        }
    }
}

/// Longest tag: " #" + 8 hex digits + "-" + up to 10 decimal digits (a u32 sequence number).
pub const MAX_TAG_LEN: usize = 2 + 8 + 1 + 10;

/// `--text`: one kind or the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMix {
    /// Every text of this kind.
    Only(TextKind),
    /// 70 % GSM, 20 % UCS-2, 10 % multipart.
    Mix,
}

impl FromStr for TextMix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gsm" => Ok(TextMix::Only(TextKind::Gsm)),
            "ucs2" => Ok(TextMix::Only(TextKind::Ucs2)),
            "multipart" => Ok(TextMix::Only(TextKind::Multipart)),
            "mix" => Ok(TextMix::Mix),
            _ => Err(format!(
                "unknown text kind {s:?}: gsm, ucs2, multipart or mix"
            )),
        }
    }
}

impl TextMix {
    /// The kind for a uniform random value `r` in [0, 1).
    pub fn pick(self, r: f64) -> TextKind {
        match self {
            TextMix::Only(k) => k,
            TextMix::Mix if r < 0.7 => TextKind::Gsm,
            TextMix::Mix if r < 0.9 => TextKind::Ucs2,
            TextMix::Mix => TextKind::Multipart,
        }
    }

    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TextMix::Only(k) => k.as_str(),
            TextMix::Mix => "mix",
        }
    }
}

/// The text of request `seq` of run `run_id`: the kind's body and the tag.
pub fn tagged_text(kind: TextKind, run_id: u32, seq: u32) -> String {
    let body = kind.body();
    let mut s = String::with_capacity(body.len() + MAX_TAG_LEN);
    s.push_str(body);
    let _ = write!(s, " #{run_id:08x}-{seq}");
    s
}

/// The (run id, sequence number) of a tagged text, if it carries a tag.
pub fn parse_tag(text: &str) -> Option<(u32, u32)> {
    let (_, tag) = text.rsplit_once(" #")?;
    let (run, seq) = tag.split_once('-')?;
    if run.len() != 8 {
        return None;
    }
    Some((u32::from_str_radix(run, 16).ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sms_gateway::domain::Encoding;
    use sms_gateway::domain::segments::count;

    #[test]
    fn every_kind_keeps_its_encoding_and_segments_with_the_longest_tag() {
        for (kind, encoding, segments) in [
            (TextKind::Gsm, Encoding::Gsm7, 1),
            (TextKind::Ucs2, Encoding::Ucs2, 1),
            (TextKind::Multipart, Encoding::Gsm7, 2),
        ] {
            for seq in [0, 7, u32::MAX] {
                let text = tagged_text(kind, u32::MAX, seq);
                let c = count(&text);
                assert_eq!(c.encoding, encoding, "{kind:?}: {text}");
                assert_eq!(c.segments, segments, "{kind:?}: {text}");
            }
        }
        assert_eq!(
            tagged_text(TextKind::Gsm, u32::MAX, u32::MAX).len(),
            TextKind::Gsm.body().len() + MAX_TAG_LEN
        );
    }

    #[test]
    fn tags_round_trip_and_foreign_texts_have_none() {
        for (run, seq) in [(0, 0), (0xdead_beef, 123_456), (u32::MAX, u32::MAX)] {
            let text = tagged_text(TextKind::Ucs2, run, seq);
            assert_eq!(parse_tag(&text), Some((run, seq)));
        }
        assert_eq!(parse_tag("hello"), None);
        assert_eq!(parse_tag("call #5"), None);
        assert_eq!(parse_tag("x #zzzzzzzz-1"), None);
        assert_eq!(parse_tag("x #0000000a-"), None);
    }

    #[test]
    fn the_mix_is_70_20_10_and_single_kinds_are_constant() {
        let mix = TextMix::Mix;
        let n = 10_000;
        let mut counts = [0usize; 3];
        for i in 0..n {
            match mix.pick(i as f64 / n as f64) {
                TextKind::Gsm => counts[0] += 1,
                TextKind::Ucs2 => counts[1] += 1,
                TextKind::Multipart => counts[2] += 1,
            }
        }
        assert_eq!(counts, [7_000, 2_000, 1_000]);
        let only: TextMix = "UCS2".parse().unwrap();
        assert!((0..10).all(|i| only.pick(i as f64 / 10.0) == TextKind::Ucs2));
        assert!("latin1".parse::<TextMix>().is_err());
    }
}
