//! Spelling tables: from a wire spelling to its index, by hashing.
//!
//! The `names!` enumerations and the message set keep their spellings in declaration
//! order, so a value's spelling is one indexed load. The way back is a [`NameTable`],
//! built at compile time by [`name_table!`]: an open-addressing hash table of indices,
//! searched by one non-generic [`NameTable::find`]. A `match` on strings compiles to a
//! chain of length tests and comparisons in every function it is inlined into; the
//! table costs one byte per slot and finds a spelling with one hash and usually one
//! or two comparisons (of lengths first).

/// A slot that holds no index (every index is smaller: [`slots`] checks).
const EMPTY: u8 = u8::MAX;

/// Spellings and the hash table that finds their indices.
#[derive(Debug)]
pub(crate) struct NameTable {
    /// The spellings, by index.
    names: &'static [&'static str],
    /// Linear probing from `hash & (len - 1)`: each slot holds the index of a spelling
    /// or [`EMPTY`], which ends the search. At most half the slots are used.
    slots: &'static [u8],
}

impl NameTable {
    /// A table over `names` whose `slots` were built by [`slots`] from the same names.
    pub(crate) const fn new(names: &'static [&'static str], slots: &'static [u8]) -> Self {
        NameTable { names, slots }
    }

    /// The spellings, by index.
    pub(crate) const fn names(&self) -> &'static [&'static str] {
        self.names
    }

    /// The index of spelling `name`, matched exactly.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut at = hash(name.as_bytes()) as usize;
        loop {
            let index = usize::from(self.slots[at & mask]);
            // `EMPTY` is past the end of `names`: the spelling is not in the table.
            if *self.names.get(index)? == name {
                return Some(index);
            }
            at += 1;
        }
    }
}

/// The number of slots for `names` spellings: a power of two, at least twice as many.
pub(crate) const fn slot_count(names: usize) -> usize {
    (2 * names).next_power_of_two()
}

/// The hash table of `names` with `S` slots ([`slot_count`]).
///
/// # Panics
///
/// (At compile time.) When there are 255 names or more, `S` is not a power of two
/// larger than their number, or a spelling occurs twice.
pub(crate) const fn slots<const S: usize>(names: &[&str]) -> [u8; S] {
    assert!(
        names.len() < EMPTY as usize,
        "too many names for a byte index"
    );
    assert!(S.is_power_of_two() && S > names.len(), "too few slots");
    let mut slots = [EMPTY; S];
    let mut index = 0;
    while index < names.len() {
        let name = names[index].as_bytes();
        let mut at = hash(name) as usize & (S - 1);
        while slots[at] != EMPTY {
            assert!(
                !bytes_eq(names[slots[at] as usize].as_bytes(), name),
                "a spelling occurs twice"
            );
            at = (at + 1) & (S - 1);
        }
        slots[at] = index as u8;
        index += 1;
    }
    slots
}

/// A hash of `bytes` that takes them eight at a time (the last eight overlapping
/// the ones before), so a long name costs a few multiplications.
const fn hash(bytes: &[u8]) -> u32 {
    /// 2^64 divided by the golden ratio: spreads the bits of what it multiplies.
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let len = bytes.len();
    let mut h = len as u64;
    let mut at = 0;
    while at + 8 < len {
        h = (h ^ word(bytes, at)).wrapping_mul(K);
        at += 8;
    }
    let last = if len >= 8 {
        word(bytes, len - 8)
    } else {
        short_word(bytes)
    };
    h = (h ^ last).wrapping_mul(K);
    // The high half holds the best-mixed bits; the table takes the low ones.
    (h >> 32) as u32 ^ h as u32
}

/// The eight bytes of `bytes` from `at`, little-endian (0 when there are fewer).
const fn word(bytes: &[u8], at: usize) -> u64 {
    match bytes.split_at(at).1.first_chunk::<8>() {
        Some(w) => u64::from_le_bytes(*w),
        None => 0,
    }
}

/// The bytes of `bytes`, fewer than eight, little-endian, zero-padded.
const fn short_word(bytes: &[u8]) -> u64 {
    let mut w = 0;
    let mut i = 0;
    while i < bytes.len() {
        w |= (bytes[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// `a == b`, in a `const fn`.
const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A [`NameTable`] over the spellings given, in that order.
///
/// ```text
/// static TABLE: NameTable = name_table!["null", "initiated", "alerting"];
/// assert_eq!(TABLE.find("alerting"), Some(2));
/// ```
macro_rules! name_table {
    ($($name:expr),+ $(,)?) => {{
        const NAMES: &[&str] = &[$($name),+];
        const SLOTS: [u8; $crate::lookup::slot_count(NAMES.len())] =
            $crate::lookup::slots(NAMES);
        $crate::lookup::NameTable::new(NAMES, &SLOTS)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE: NameTable = name_table!["null", "initiated", "alerting", "", "hold"];

    #[test]
    fn finds_every_spelling_and_nothing_else() {
        for (index, name) in TABLE.names().iter().enumerate() {
            assert_eq!(TABLE.find(name), Some(index));
        }
        for name in ["nul", "nulll", "Null", "held", "alertinG", " hold"] {
            assert_eq!(TABLE.find(name), None, "{name:?}");
        }
        assert_eq!(TABLE.slots.len(), 16);
    }

    #[test]
    fn a_full_table_finds_everything() {
        use std::{boxed::Box, format, vec::Vec};
        let names: Vec<&'static str> = (0..254)
            .map(|i| &*Box::leak(format!("n{i}").into_boxed_str()))
            .collect();
        let slots = slots::<{ slot_count(254) }>(&names);
        let table = NameTable::new(names.leak(), Box::leak(Box::new(slots)));
        for (index, name) in table.names().iter().enumerate() {
            assert_eq!(table.find(name), Some(index));
        }
        assert_eq!(table.find("n254"), None);
    }
}
