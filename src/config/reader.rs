//! [`Reader`]: reads variables through a lookup function and remembers every problem instead
//! of stopping at the first, each as `VARIABLE: what is wrong`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::SecretUrl;

/// Reads variables, remembering every problem instead of stopping at the first.
pub(super) struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            get,
            problems: Vec::new(),
        }
    }

    /// The problems found so far, in the order they were found.
    pub(super) fn into_problems(self) -> Vec<String> {
        self.problems
    }

    /// Notes a problem (`VARIABLE: what is wrong`).
    pub(super) fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// The variable's value, `None` when unset or blank.
    pub(super) fn raw(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    pub(super) fn parse<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            None => default,
            Some(v) => match v.trim().parse() {
                Ok(t) => t,
                Err(e) => {
                    self.problem(format!("{name}: {e} (got {v:?})"));
                    default
                }
            },
        }
    }

    pub(super) fn ranged<T>(&mut self, name: &str, default: T, min: T, max: T) -> T
    where
        T: FromStr + PartialOrd + Copy + fmt::Display,
        T::Err: fmt::Display,
    {
        let v = self.parse(name, default);
        if v < min || v > max {
            self.problem(format!("{name}: must be between {min} and {max} (got {v})"));
            return default;
        }
        v
    }

    pub(super) fn bool(&mut self, name: &str, default: bool) -> bool {
        match self.raw(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                self.problem(format!("{name}: expected true or false (got {v:?})"));
                default
            }
        }
    }

    pub(super) fn string(&mut self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_string())
    }

    pub(super) fn millis(&mut self, name: &str, default: u64, min: u64, max: u64) -> Duration {
        Duration::from_millis(self.ranged(name, default, min, max))
    }

    pub(super) fn secs(&mut self, name: &str, default: u64, min: u64, max: u64) -> Duration {
        Duration::from_secs(self.ranged(name, default, min, max))
    }

    /// A URL variable; a problem is noted unless it starts with one of `schemes` (e.g.
    /// `"mysql://"`).
    pub(super) fn url(&mut self, name: &str, default: &str, schemes: &[&str]) -> SecretUrl {
        let url = self.string(name, default);
        if !schemes.iter().any(|s| url.starts_with(s)) {
            self.problem(format!("{name}: must start with {}", schemes.join(" or ")));
        }
        SecretUrl::new(url)
    }
}
