//! What the mock operator remembers of the messages it took: the message id and last status
//! per reference, for deduplication and `GET /status`. Bounded: at most `capacity`
//! references, the oldest forgotten first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// A message taken: its id, the status a lookup reports and the sender id it came with.
struct Remembered {
    message_id: String,
    status: &'static str,
    from: Option<Box<str>>,
}

/// References in the order they were taken, each with its message.
pub(super) struct Memory {
    by_reference: HashMap<Arc<str>, Remembered>,
    order: VecDeque<Arc<str>>,
    capacity: usize,
}

/// The status of a message taken and not reported yet.
pub(super) const ACCEPTED: &str = "ACCEPTD";

impl Memory {
    /// Remembers at most `capacity` references (0: none).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            by_reference: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// The message id and status taken under `reference`.
    pub(super) fn get(&self, reference: &str) -> Option<(String, &'static str)> {
        self.by_reference
            .get(reference)
            .map(|r| (r.message_id.clone(), r.status))
    }

    /// The sender id the message taken under `reference` came with.
    pub(super) fn sender(&self, reference: &str) -> Option<String> {
        self.by_reference
            .get(reference)?
            .from
            .as_deref()
            .map(str::to_string)
    }

    /// Remembers a new message (status [`ACCEPTED`]), forgetting the oldest when full.
    pub(super) fn insert(&mut self, reference: &str, message_id: &str, from: Option<&str>) {
        if self.capacity == 0 || self.by_reference.contains_key(reference) {
            return;
        }
        while self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.by_reference.remove(&oldest);
            }
        }
        let key: Arc<str> = Arc::from(reference);
        self.order.push_back(key.clone());
        self.by_reference.insert(
            key,
            Remembered {
                message_id: message_id.to_string(),
                status: ACCEPTED,
                from: from.map(Box::from),
            },
        );
    }

    /// Records what became of a message (the status word of its report).
    pub(super) fn set_status(&mut self, reference: &str, status: &'static str) {
        if let Some(r) = self.by_reference.get_mut(reference) {
            r.status = status;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_reference_is_forgotten_first() {
        let mut m = Memory::new(2);
        m.insert("a", "id-a", Some("ACME"));
        m.insert("b", "id-b", None);
        m.set_status("a", "DELIVRD");
        assert_eq!(m.get("a"), Some(("id-a".to_string(), "DELIVRD")));
        assert_eq!(m.sender("a").as_deref(), Some("ACME"));
        assert_eq!(m.sender("b"), None);
        m.insert("c", "id-c", None);
        assert_eq!(m.get("a"), None);
        assert_eq!(m.get("b"), Some(("id-b".to_string(), ACCEPTED)));
        assert_eq!(m.get("c").map(|(id, _)| id).as_deref(), Some("id-c"));
        assert_eq!((m.order.len(), m.by_reference.len()), (2, 2));

        let mut none = Memory::new(0);
        none.insert("a", "id-a", None);
        assert_eq!(none.get("a"), None);
    }
}
