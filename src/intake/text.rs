//! One text of a send (the request's, or a personalized message's): checked and counted.

use crate::config::IntakeConfig;
use crate::domain::{self, FieldErrors, SegmentCount};

/// Checks a text (`field` names it in errors) and counts its segments.
pub(super) fn check_text(
    field: &str,
    text: &str,
    config: &IntakeConfig,
    errors: &mut FieldErrors,
) -> SegmentCount {
    let count = domain::segments::count(text);
    if text.trim().is_empty() {
        errors.add(field, "must not be empty");
    } else if text.contains('\0') {
        errors.add(field, "must not contain NUL characters");
    } else if count.segments > config.max_segments {
        errors.add(
            field,
            format!(
                "is {} segments long ({}); at most {} are allowed",
                count.segments, count.encoding, config.max_segments
            ),
        );
    }
    count
}
