//! [`FieldErrors`]: the invalid fields of one request, by name, gathered so that it is
//! refused once (a 400 at the HTTP layer) naming all of them.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

/// Field name -> why it is invalid. A map underneath (`insert`, `keys`, `[...]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that `field` is invalid, and why.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.insert(field.to_string(), message.into());
    }

    /// Notes `message` for `field` when `invalid`.
    pub fn check(&mut self, invalid: bool, field: &str, message: impl Into<String>) {
        if invalid {
            self.add(field, message);
        }
    }

    /// `None` for an absent value; else the parsed value, or `None` with the field's error
    /// noted.
    pub fn parse<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        parse(value?).map_err(|e| self.add(field, e)).ok()
    }

    /// `Ok` when every field was valid, else these errors.
    pub fn finish(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl Deref for FieldErrors {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for FieldErrors {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<FieldErrors> for BTreeMap<String, String> {
    fn from(errors: FieldErrors) -> Self {
        errors.0
    }
}
