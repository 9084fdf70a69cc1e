//! How the domain's enums are stored: as their text (`as_str()`), in `varchar` columns.
//!
//! Decoding a value the enum does not know is an error, never a default: a row that says
//! something the code cannot read must fail loudly rather than be shown as another state.

/// Implements sqlx's MySQL `Type`, `Encode` and `Decode` for an enum with `as_str()` and a
/// `FromStr` whose error is a `String`.
macro_rules! text_column {
    ($t:ty) => {
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

text_column!(super::SmsType);
text_column!(super::SmsStatus);
text_column!(super::Encoding);
