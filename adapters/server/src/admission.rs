//! Who may take a connection slot: the admission table of the CSTA client listeners
//! and of the HTTP listener.
//!
//! The table is synchronous and does no I/O; the accept loops ask it before anything
//! else is done with a new connection, and release a connection's slot when it ends.
//! Each entry carries a value of the caller's (the way to close that connection).
//!
//! # The rules
//!
//! - **Per source.** A source address holds at most `per_source` slots. What happens
//!   to one more from it is the table's [`SourceFull`] policy: it is refused
//!   (client listeners), or the source's own oldest connection makes room for it
//!   (HTTP, where every request is short and unauthenticated).
//! - **Authenticated connections stay.** A connection is *pending* until its
//!   owner calls [`Admission::authenticate`] (for a CSTA client: a successful
//!   ECMA-354 `StartApplicationSession`). When all `max` slots are taken, a new
//!   connection displaces a pending one, never an authenticated one: the oldest
//!   pending connection of the source that holds the most pending connections (so a
//!   flooding host loses its own connections first). When every slot is
//!   authenticated, the new connection is refused.
//!
//! Together with a short pre-authentication deadline this keeps every logged-in
//! application connected through a flood of idle connections, and lets a new
//! application in: its connection displaces a flooder's, and it is displaced in turn
//! only after every other pending connection of a source holding as many.
//!
//! Finding a connection to displace looks at every entry, so it costs O(`max`), and
//! only when the table is full.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// What a table does with a connection from a source that holds `per_source` slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFull {
    /// Refuse it ([`Refusal::PerSource`]).
    Refuse,
    /// Displace the source's oldest pending connection; refuse it when all of them
    /// are authenticated.
    DisplaceOldest,
}

/// Why a connection gets no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its source holds `per_source` slots.
    PerSource,
    /// All `max` slots are taken by authenticated connections.
    Full,
}

impl Refusal {
    /// A name for logs and metrics: `per_source` or `full`.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::PerSource => "per_source",
            Refusal::Full => "full",
        }
    }
}

/// A connection that got a slot by taking another's.
#[derive(Debug, PartialEq, Eq)]
pub struct Displaced<T> {
    /// The number of the connection that lost its slot.
    pub id: u64,
    /// Its source.
    pub source: IpAddr,
    /// Its value, to close it with.
    pub value: T,
}

#[derive(Debug)]
struct Entry<T> {
    source: IpAddr,
    authenticated: bool,
    value: T,
}

#[derive(Debug, Default, Clone, Copy)]
struct Source {
    open: usize,
    pending: usize,
}

/// The admission table (see the [module docs](self)).
#[derive(Debug)]
pub struct Admission<T> {
    max: usize,
    per_source: usize,
    source_full: SourceFull,
    /// By connection number; numbers grow, so the first is the oldest.
    entries: BTreeMap<u64, Entry<T>>,
    sources: HashMap<IpAddr, Source>,
}

impl<T> Admission<T> {
    /// A table of `max` slots, at most `per_source` per source address (both at
    /// least 1; 0 is taken as 1).
    pub fn new(max: usize, per_source: usize, source_full: SourceFull) -> Admission<T> {
        Admission {
            max: max.max(1),
            per_source: per_source.max(1),
            source_full,
            entries: BTreeMap::new(),
            sources: HashMap::new(),
        }
    }

    /// Gives connection `id` from `source` a slot, pending; returns the connection
    /// it displaced, if any (the caller closes it). Numbers must grow from one call to
    /// the next; a number already in the table is refused as [`Refusal::Full`].
    ///
    /// # Errors
    /// The [`Refusal`]; nothing changed.
    pub fn admit(
        &mut self,
        id: u64,
        source: IpAddr,
        value: T,
    ) -> Result<Option<Displaced<T>>, Refusal> {
        if self.entries.contains_key(&id) {
            return Err(Refusal::Full);
        }
        let here = self.sources.get(&source).copied().unwrap_or_default();
        let victim = if here.open >= self.per_source {
            match self.source_full {
                SourceFull::Refuse => return Err(Refusal::PerSource),
                SourceFull::DisplaceOldest => {
                    Some(self.oldest_pending_of(source).ok_or(Refusal::PerSource)?)
                }
            }
        } else if self.entries.len() >= self.max {
            Some(self.pending_victim().ok_or(Refusal::Full)?)
        } else {
            None
        };
        let displaced = victim.and_then(|v| {
            self.release(v).map(|(source, value)| Displaced {
                id: v,
                source,
                value,
            })
        });
        let s = self.sources.entry(source).or_default();
        s.open += 1;
        s.pending += 1;
        self.entries.insert(
            id,
            Entry {
                source,
                authenticated: false,
                value,
            },
        );
        Ok(displaced)
    }

    /// Marks connection `id` authenticated: it is never displaced. False when it is
    /// not in the table; true (and nothing changes) when it already was.
    pub fn authenticate(&mut self, id: u64) -> bool {
        let Some(e) = self.entries.get_mut(&id) else {
            return false;
        };
        if !e.authenticated {
            e.authenticated = true;
            if let Some(s) = self.sources.get_mut(&e.source) {
                s.pending = s.pending.saturating_sub(1);
            }
        }
        true
    }

    /// Whether connection `id` is in the table and authenticated.
    pub fn is_authenticated(&self, id: u64) -> bool {
        self.entries.get(&id).is_some_and(|e| e.authenticated)
    }

    /// Frees connection `id`'s slot; returns its source and value (`None` when it is
    /// not in the table, for instance after it was displaced).
    pub fn release(&mut self, id: u64) -> Option<(IpAddr, T)> {
        let e = self.entries.remove(&id)?;
        if let Some(s) = self.sources.get_mut(&e.source) {
            s.open = s.open.saturating_sub(1);
            if !e.authenticated {
                s.pending = s.pending.saturating_sub(1);
            }
            if s.open == 0 {
                self.sources.remove(&e.source);
            }
        }
        Some((e.source, e.value))
    }

    /// Slots taken.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no slot is taken.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Slots taken by pending connections.
    pub fn pending(&self) -> usize {
        self.sources.values().map(|s| s.pending).sum()
    }

    /// Slots taken by connections from `source`.
    pub fn open_from(&self, source: IpAddr) -> usize {
        self.sources.get(&source).map_or(0, |s| s.open)
    }

    fn oldest_pending_of(&self, source: IpAddr) -> Option<u64> {
        self.entries
            .iter()
            .find(|(_, e)| !e.authenticated && e.source == source)
            .map(|(id, _)| *id)
    }

    /// The oldest pending connection of the source with the most pending ones.
    fn pending_victim(&self) -> Option<u64> {
        let mut best: Option<(usize, u64)> = None;
        for (id, e) in &self.entries {
            if e.authenticated {
                continue;
            }
            let n = self.sources.get(&e.source).map_or(0, |s| s.pending);
            if best.is_none_or(|(m, _)| n > m) {
                best = Some((n, *id));
            }
        }
        best.map(|(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));
    const C: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 3));

    fn victim(r: Result<Option<Displaced<u64>>, Refusal>) -> Option<u64> {
        r.unwrap().map(|d| d.value)
    }

    #[test]
    fn test_per_source_limit_refuses() {
        let mut t = Admission::new(10, 2, SourceFull::Refuse);
        assert_eq!(victim(t.admit(1, A, 1)), None);
        assert_eq!(victim(t.admit(2, A, 2)), None);
        assert_eq!(t.admit(3, A, 3), Err(Refusal::PerSource));
        // Authenticated connections count too.
        assert!(t.authenticate(1));
        assert_eq!(t.admit(4, A, 4), Err(Refusal::PerSource));
        assert_eq!(victim(t.admit(5, B, 5)), None);
        assert_eq!(t.release(2), Some((A, 2)));
        assert_eq!(victim(t.admit(6, A, 6)), None);
        assert_eq!((t.len(), t.open_from(A), t.pending()), (3, 2, 2));
    }

    #[test]
    fn test_full_table_displaces_pending_never_authenticated() {
        let mut t = Admission::new(3, 10, SourceFull::Refuse);
        for id in 1..=3 {
            assert_eq!(victim(t.admit(id, A, id)), None);
        }
        t.authenticate(1);
        // The oldest pending one goes.
        assert_eq!(victim(t.admit(4, A, 4)), Some(2));
        assert_eq!(victim(t.admit(5, A, 5)), Some(3));
        t.authenticate(4);
        t.authenticate(5);
        assert_eq!(t.admit(6, A, 6), Err(Refusal::Full));
        assert!(t.is_authenticated(1) && t.is_authenticated(4) && t.is_authenticated(5));
        assert_eq!(t.release(2), None);
        assert_eq!(t.pending(), 0);
    }

    #[test]
    fn test_the_flooding_source_loses_first() {
        let mut t = Admission::new(4, 10, SourceFull::Refuse);
        assert_eq!(victim(t.admit(1, B, 1)), None); // the legitimate one, oldest
        for id in 2..=4 {
            assert_eq!(victim(t.admit(id, A, id)), None);
        }
        assert_eq!(victim(t.admit(5, A, 5)), Some(2));
        assert_eq!(victim(t.admit(6, C, 6)), Some(3));
        // A holds 2 pending (4, 5), B and C one each.
        assert_eq!(victim(t.admit(7, A, 7)), Some(4));
        assert_eq!(victim(t.admit(8, A, 8)), Some(5));
        // Now A holds 7 and 8; B's connection 1 is still there.
        assert_eq!(t.open_from(B), 1);
    }

    #[test]
    fn test_source_full_displaces_own_oldest() {
        let mut t = Admission::new(10, 2, SourceFull::DisplaceOldest);
        assert_eq!(victim(t.admit(1, A, 1)), None);
        assert_eq!(victim(t.admit(2, B, 2)), None);
        assert_eq!(victim(t.admit(3, A, 3)), None);
        assert_eq!(victim(t.admit(4, A, 4)), Some(1));
        t.authenticate(3);
        t.authenticate(4);
        assert_eq!(t.admit(5, A, 5), Err(Refusal::PerSource));
        assert_eq!(t.open_from(B), 1);
    }

    #[test]
    fn test_reused_number_and_unknown_ids() {
        let mut t = Admission::new(0, 0, SourceFull::Refuse);
        assert_eq!(victim(t.admit(1, A, 1)), None);
        assert_eq!(t.admit(1, B, 1), Err(Refusal::Full));
        assert!(!t.authenticate(9));
        assert_eq!(t.release(9), None);
        assert_eq!(t.release(1), Some((A, 1)));
        assert!(t.is_empty());
    }
}
