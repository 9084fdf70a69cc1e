//! Validated domain types: phone numbers, segment counting, message types and states, money,
//! sender ids and customer references, callback URLs, and the fair order of a lane.

pub mod callback_url;
mod column;
pub mod fair_share;
pub mod field_errors;
pub mod message;
pub mod money;
pub mod phone_number;
pub mod rate_limit;
pub mod segments;
pub mod sender_id;

pub use field_errors::FieldErrors;
pub use message::{SmsStatus, SmsType, final_state};
pub use money::cost;
pub use phone_number::{DefaultCountry, PhoneNumber, PhoneNumberError};
pub use segments::{Encoding, SegmentCount};
pub use sender_id::SenderId;
