//! Cursor pagination: lists are newest first by id; a cursor is an opaque token for "rows
//! older than this one", so pages stay stable while new rows arrive.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::ApiError;

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest `limit`.
pub const MAX_LIMIT: u32 = 100;

/// Validates `limit`.
pub fn limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        l @ 1..=MAX_LIMIT => Ok(l),
        _ => Err(ApiError::field(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// A validated page request: `limit` and the decoded `cursor` of a list endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows per page.
    pub limit: u32,
    /// Only rows with an id below this one (from the cursor).
    pub before: Option<i64>,
}

impl PageRequest {
    /// Validates `limit` and decodes `cursor` (400 on either).
    pub fn parse(limit_param: Option<u32>, cursor: Option<&str>) -> Result<Self, ApiError> {
        Ok(Self {
            limit: limit(limit_param)?,
            before: decode(cursor)?,
        })
    }

    /// Rows to fetch: one more than a page, to tell whether another page follows.
    pub fn fetch(&self) -> u32 {
        self.limit + 1
    }

    /// The page of `rows` (fetched with [`PageRequest::fetch`]) and the next page's cursor.
    pub fn split<T>(&self, rows: Vec<T>, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
        page(rows, self.limit, id)
    }
}

/// Encodes the id of the last row of a page.
pub fn encode(last_id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{last_id}"))
}

/// Decodes a cursor into "ids below this". An empty `cursor=` is no cursor (the first page).
pub fn decode(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("v1:")?.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .map(Some)
        .ok_or_else(|| ApiError::field("cursor", "not a cursor returned by this API"))
}

/// Splits one extra fetched row off: returns the page and the cursor of the next one.
pub fn page<T>(mut rows: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
    if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        let next = rows.last().map(|r| encode(id(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

/// A cursor for position `key` in a v2 list (positions that are not row ids, e.g. a
/// timeline's, see `sms::timeline`).
pub fn encode_v2(key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v2:{key}"))
}

/// A cursor's version (1 or 2) and number (> 0), `None` for an absent or empty one, an error
/// for anything else.
pub fn decode_versioned(cursor: Option<&str>) -> Result<Option<(u8, i64)>, ApiError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (v, n) = s.split_once(':')?;
            let v = match v {
                "v1" => 1,
                "v2" => 2,
                _ => return None,
            };
            Some((v, n.parse::<i64>().ok().filter(|n| *n > 0)?))
        })
        .map(Some)
        .ok_or_else(|| ApiError::field("cursor", "not a cursor returned by this API"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode(Some(&encode(42))).unwrap(), Some(42));
        assert_eq!(decode(None).unwrap(), None);
        assert_eq!(
            decode(Some("")).unwrap(),
            None,
            "an empty cursor= is the first page"
        );
        assert!(decode(Some("42")).is_err());
        assert!(decode(Some(&URL_SAFE_NO_PAD.encode("v1:-5"))).is_err());
    }

    #[test]
    fn versioned_cursors_round_trip() {
        assert_eq!(decode_versioned(Some(&encode(42))).unwrap(), Some((1, 42)));
        assert_eq!(decode_versioned(Some(&encode_v2(7))).unwrap(), Some((2, 7)));
        assert_eq!(decode_versioned(Some("")).unwrap(), None);
        assert!(decode_versioned(Some(&URL_SAFE_NO_PAD.encode("v3:1"))).is_err());
        assert!(decode_versioned(Some(&URL_SAFE_NO_PAD.encode("v2:0"))).is_err());
    }

    #[test]
    fn limit_is_bounded() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
    }

    #[test]
    fn page_detects_more() {
        let (rows, next) = page(vec![5, 4, 3], 2, |r| *r);
        assert_eq!(rows, vec![5, 4]);
        assert_eq!(decode(next.as_deref()).unwrap(), Some(4));
        let (rows, next) = page(vec![5, 4], 2, |r| *r);
        assert_eq!(rows.len(), 2);
        assert!(next.is_none());
    }
}
