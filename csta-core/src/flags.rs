//! Groups of named boolean flags: monitor filters and the CSTA feature lists.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;

use crate::codec::{DecodeError, Field, Leaf, children};
use crate::names::FlagCategory;
use crate::xml::{Element, Reader, Writer};

/// Most categories a [`FlagGroups`] table may have.
pub const MAX_CATEGORIES: usize = 16;

/// The table of categories and flags a [`FlagGroups`] uses.
pub trait FlagTable: 'static {
    /// The categories in schema order, each with its flags in schema order (at most
    /// [`MAX_CATEGORIES`] categories of at most 32 flags).
    const CATEGORIES: &'static [FlagCategory];
    /// Whether a flag is told by the presence of its element (`<makeCall/>`, possibly
    /// with content describing the capability) rather than by `true`/`false` text.
    const PRESENCE: bool = false;
}

/// Whether a table fits [`FlagGroups`]: at most [`MAX_CATEGORIES`] categories of at
/// most 32 flags.
pub const fn table_fits(table: &[FlagCategory]) -> bool {
    if table.len() > MAX_CATEGORIES {
        return false;
    }
    let mut i = 0;
    while i < table.len() {
        if table[i].flags.len() > 32 {
            return false;
        }
        i += 1;
    }
    true
}

/// Which flags of each category are present and what they say.
///
/// Each flag is absent, `true` or `false`; a category can be present with no flags
/// (`<logicalDeviceFeature/>`). Flags and categories outside the table are skipped when
/// decoding. In JSON: `{"callcontrol": {"delivered": true, ...}, ...}`.
pub struct FlagGroups<T: FlagTable> {
    categories: u16,
    present: [u32; MAX_CATEGORIES],
    values: [u32; MAX_CATEGORIES],
    table: PhantomData<T>,
}

impl<T: FlagTable> FlagGroups<T> {
    /// No categories, no flags.
    pub const fn new() -> Self {
        FlagGroups {
            categories: 0,
            present: [0; MAX_CATEGORIES],
            values: [0; MAX_CATEGORIES],
            table: PhantomData,
        }
    }

    fn position(category: &str, flag: &str) -> Option<(usize, usize)> {
        let c = T::CATEGORIES.iter().position(|c| c.element == category)?;
        let f = T::CATEGORIES[c].flags.iter().position(|&f| f == flag)?;
        Some((c, f))
    }

    /// The value of `flag` in `category`, `None` when absent or unknown.
    pub fn get(&self, category: &str, flag: &str) -> Option<bool> {
        let (c, f) = Self::position(category, flag)?;
        (self.present[c] >> f & 1 == 1).then_some(self.values[c] >> f & 1 == 1)
    }

    /// Sets `flag` in `category`; returns `false` (and changes nothing) when the table
    /// has no such flag. In a presence table ([`FlagTable::PRESENCE`]) `false` removes
    /// the flag, as neither XML nor JSON can say more than its absence.
    pub fn set(&mut self, category: &str, flag: &str, value: bool) -> bool {
        let Some((c, f)) = Self::position(category, flag) else {
            return false;
        };
        self.categories |= 1 << c;
        if T::PRESENCE && !value {
            self.present[c] &= !(1 << f);
            self.values[c] &= !(1 << f);
            return true;
        }
        self.present[c] |= 1 << f;
        if value {
            self.values[c] |= 1 << f;
        } else {
            self.values[c] &= !(1 << f);
        }
        true
    }

    /// Marks `category` present even without flags; `false` when unknown.
    pub fn add_category(&mut self, category: &str) -> bool {
        let Some(c) = T::CATEGORIES.iter().position(|c| c.element == category) else {
            return false;
        };
        self.categories |= 1 << c;
        true
    }

    /// Every present flag as `(category, flag, value)`, in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, bool)> + '_ {
        T::CATEGORIES.iter().enumerate().flat_map(move |(c, cat)| {
            cat.flags
                .iter()
                .enumerate()
                .filter(move |&(f, _)| self.present[c] >> f & 1 == 1)
                .map(move |(f, &flag)| (cat.element, flag, self.values[c] >> f & 1 == 1))
        })
    }

    /// How many flags are `true`.
    pub fn count_true(&self) -> usize {
        self.present
            .iter()
            .zip(&self.values)
            .map(|(p, v)| (p & v).count_ones() as usize)
            .sum()
    }

    fn category_present(&self, c: usize) -> bool {
        self.categories >> c & 1 == 1
    }
}

impl<T: FlagTable> Default for FlagGroups<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: FlagTable> Clone for FlagGroups<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: FlagTable> Copy for FlagGroups<T> {}

impl<T: FlagTable> PartialEq for FlagGroups<T> {
    fn eq(&self, other: &Self) -> bool {
        self.categories == other.categories
            && self.present == other.present
            && self
                .present
                .iter()
                .zip(&self.values)
                .zip(&other.values)
                .all(|((p, a), b)| p & a == p & b)
    }
}

impl<T: FlagTable> Eq for FlagGroups<T> {}

impl<T: FlagTable> fmt::Debug for FlagGroups<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (c, cat) in T::CATEGORIES.iter().enumerate() {
            if self.category_present(c) {
                list.entry(&cat.element);
            }
        }
        for entry in self.iter() {
            list.entry(&entry);
        }
        list.finish()
    }
}

impl<'a, T: FlagTable> Field<'a> for FlagGroups<T> {
    fn decode(
        r: &mut Reader<'a>,
        _start: Element<'a>,
        _name: &'static str,
    ) -> Result<Self, DecodeError> {
        let mut groups = Self::new();
        children(r, |r, category| {
            let name = category.local_name();
            let Some(c) = T::CATEGORIES.iter().position(|c| c.element == name) else {
                return Ok(false);
            };
            groups.categories |= 1 << c;
            let flags = T::CATEGORIES[c].flags;
            children(r, |r, flag| {
                // Look the name up once, not once per candidate.
                let name = flag.local_name();
                let Some(f) = flags.iter().position(|&f| f == name) else {
                    return Ok(false);
                };
                if T::PRESENCE {
                    // The element itself says `true`; its content (capability details)
                    // is skipped.
                    groups.present[c] |= 1 << f;
                    groups.values[c] |= 1 << f;
                    return Ok(false);
                }
                let value = bool::decode(r, flag, flags[f])?;
                groups.present[c] |= 1 << f;
                if value {
                    groups.values[c] |= 1 << f;
                }
                Ok(true)
            })?;
            Ok(true)
        })?;
        Ok(groups)
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        w.open(name);
        for (c, cat) in T::CATEGORIES.iter().enumerate() {
            if !self.category_present(c) {
                continue;
            }
            if self.present[c] == 0 {
                w.empty(cat.element);
                continue;
            }
            w.open(cat.element);
            for (f, flag) in cat.flags.iter().enumerate() {
                if T::PRESENCE && self.values[c] >> f & 1 == 1 {
                    w.empty(flag);
                } else if !T::PRESENCE && self.present[c] >> f & 1 == 1 {
                    (self.values[c] >> f & 1 == 1).encode_leaf(w, flag);
                }
            }
            w.end(cat.element);
        }
        w.end(name);
    }
}

impl<T: FlagTable> crate::codec::FromJsonSlot for FlagGroups<T> {
    fn from_json_slot<E: de::Error>(slot: Option<Self>, name: &'static str) -> Result<Self, E> {
        slot.ok_or_else(|| E::missing_field(name))
    }
}

struct Category<'g, T: FlagTable>(&'g FlagGroups<T>, usize);

impl<T: FlagTable> serde::Serialize for Category<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (groups, c) = (self.0, self.1);
        let mut map = s.serialize_map(Some(groups.present[c].count_ones() as usize))?;
        for (f, flag) in T::CATEGORIES[c].flags.iter().enumerate() {
            if groups.present[c] >> f & 1 == 1 {
                map.serialize_entry(flag, &(groups.values[c] >> f & 1 == 1))?;
            }
        }
        map.end()
    }
}

impl<T: FlagTable> serde::Serialize for FlagGroups<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let count = self.categories.count_ones() as usize;
        let mut map = s.serialize_map(Some(count))?;
        for (c, cat) in T::CATEGORIES.iter().enumerate() {
            if self.category_present(c) {
                map.serialize_entry(cat.element, &Category(self, c))?;
            }
        }
        map.end()
    }
}

/// Reads one category object into the groups.
struct CategorySeed<'g, T: FlagTable>(&'g mut FlagGroups<T>, usize);

impl<'de, T: FlagTable> de::DeserializeSeed<'de> for CategorySeed<'_, T> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: FlagTable> Visitor<'de> for CategorySeed<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of boolean flags")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let (groups, c) = (self.0, self.1);
        let flags = T::CATEGORIES[c].flags;
        while let Some(key) = map.next_key::<crate::json::JsonText<'de>>()? {
            let value: bool = map.next_value()?;
            match flags.iter().position(|f| key.0.eq_str(f)) {
                Some(_) if T::PRESENCE && !value => {}
                Some(f) => {
                    groups.present[c] |= 1 << f;
                    if value {
                        groups.values[c] |= 1 << f;
                    }
                }
                None => return Err(de::Error::custom("unknown flag")),
            }
        }
        Ok(())
    }
}

struct GroupsVisitor<T: FlagTable>(PhantomData<T>);

impl<'de, T: FlagTable> Visitor<'de> for GroupsVisitor<T> {
    type Value = FlagGroups<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of flag categories")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut groups = FlagGroups::new();
        while let Some(key) = map.next_key::<crate::json::JsonText<'de>>()? {
            let Some(c) = T::CATEGORIES.iter().position(|c| key.0.eq_str(c.element)) else {
                return Err(de::Error::custom("unknown flag category"));
            };
            groups.categories |= 1 << c;
            map.next_value_seed(CategorySeed(&mut groups, c))?;
        }
        Ok(groups)
    }
}

impl<'de, T: FlagTable> serde::Deserialize<'de> for FlagGroups<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(GroupsVisitor(PhantomData))
    }
}

/// The categories of a monitor filter (`requestedMonitorFilter`,
/// `actualMonitorFilter`). A `true` flag asks that the event is *not* reported.
#[derive(Debug)]
pub enum MonitorFilterTable {}

impl FlagTable for MonitorFilterTable {
    const CATEGORIES: &'static [FlagCategory] = crate::names::MONITOR_FILTER;
}

/// A monitor filter.
pub type MonitorFilter = FlagGroups<MonitorFilterTable>;

/// The service categories of `GetCSTAFeaturesResponse`'s `supportedServices`.
#[derive(Debug)]
pub enum SupportedServicesTable {}

impl FlagTable for SupportedServicesTable {
    const CATEGORIES: &'static [FlagCategory] = crate::names::SUPPORTED_SERVICES;
    const PRESENCE: bool = true;
}

const _: () = assert!(table_fits(crate::names::MONITOR_FILTER));
const _: () = assert!(table_fits(crate::names::SUPPORTED_SERVICES));
const _: () = assert!(table_fits(crate::names::SUPPORTED_EVENTS));

/// The services a switching function supports: a service is supported when its
/// element is present (`<callControlServList><makeCall/>...`).
pub type SupportedServices = FlagGroups<SupportedServicesTable>;

/// The event categories of `GetCSTAFeaturesResponse`'s `supportedEvents`.
#[derive(Debug)]
pub enum SupportedEventsTable {}

impl FlagTable for SupportedEventsTable {
    const CATEGORIES: &'static [FlagCategory] = crate::names::SUPPORTED_EVENTS;
}

/// The events a switching function can report.
pub type SupportedEvents = FlagGroups<SupportedEventsTable>;
