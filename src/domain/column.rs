//! How the domain's enums are written as text: `as_str()`, `Display` and `FromStr` from one
//! list of names, and stored as that text in `varchar` columns.
//!
//! Decoding a value the enum does not know is an error, never a default: a row that says
//! something the code cannot read must fail loudly rather than be shown as another state.

/// For an enum and the text of each variant: `as_str()`, `Display`, a `FromStr` that trims
/// and applies `$fold` before comparing (the case-insensitivity of history filters), and
/// sqlx's MySQL `Type`, `Encode` and `Decode`.
macro_rules! text_enum {
    ($t:ident, fold: $fold:expr, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $t {
            /// The stored and serialized form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let folded: String = $fold(s.trim());
                $(if folded == $text {
                    return Ok(Self::$variant);
                })+
                Err(must_be_one_of(&[$($text),+]))
            }
        }

        impl sqlx::Type<sqlx::MySql> for $t {
            fn type_info() -> sqlx::mysql::MySqlTypeInfo {
                <str as sqlx::Type<sqlx::MySql>>::type_info()
            }
            fn compatible(ty: &sqlx::mysql::MySqlTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::MySql>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::MySql> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut Vec<u8>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'_, sqlx::MySql>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::MySql> for $t {
            fn decode(
                value: sqlx::mysql::MySqlValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, sqlx::MySql>>::decode(value)?;
                text.parse().map_err(|e: String| {
                    format!("stored {} {text:?} is not known: {e}", stringify!($t)).into()
                })
            }
        }
    };
}

/// "must be a or b", "must be one of a, b, c".
fn must_be_one_of(names: &[&str]) -> String {
    match names {
        [a, b] => format!("must be {a} or {b}"),
        _ => format!("must be one of {}", names.join(", ")),
    }
}

use super::{Encoding, SmsStatus, SmsType};

text_enum!(SmsType, fold: str::to_ascii_lowercase, {
    Normal => "normal",
    Express => "express",
});
text_enum!(SmsStatus, fold: str::to_ascii_uppercase, {
    Pending => "PENDING",
    Sending => "SENDING",
    Sent => "SENT",
    Delivered => "DELIVERED",
    Undelivered => "UNDELIVERED",
    Failed => "FAILED",
    Cancelled => "CANCELLED",
});
// The wire names, exactly.
text_enum!(Encoding, fold: str::to_string, {
    Gsm7 => "GSM-7",
    Ucs2 => "UCS-2",
});
