//! Values whose empty state is all zero bits, for state that firmware keeps in a
//! `static`.
//!
//! A `static` whose initial value is all zero bits (or uninitialised) goes to `.bss`,
//! which costs RAM only; one with a single non-zero octet goes to `.data` whole, whose
//! initial image also takes flash. `Option<T>` is not always zero when `None`: the
//! compiler keeps `None` in a niche of `T` where it can (the value 2 of a `bool`, one
//! past the last variant of an enum, a nanosecond count of a `Duration` above a second).
//! The machines that firmware builds in place (`const` constructors, then
//! `configure(&mut self, ..)`) keep such optional state in a [`ZeroOption`] instead.
//!
//! ```
//! use sip_lite::zeroed::ZeroOption;
//!
//! let mut o = ZeroOption::<bool>::NONE;
//! assert_eq!(o.as_ref(), None);
//! o.set(Some(true));
//! assert_eq!(o.get(), Some(true));
//! assert_eq!(o.take(), Some(true));
//! assert!(o.is_none());
//! ```

/// An `Option<T>` whose `None` is all zero bits, whatever `T` is: a `u8` tag, 0 for
/// `None` (the primitive representation of an enum, defined by the language), and
/// nothing else initialised. The methods mirror [`Option`]'s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum ZeroOption<T> {
    /// No value (tag 0).
    #[default]
    None = 0,
    /// A value (tag 1).
    Some(T) = 1,
}

impl<T> ZeroOption<T> {
    /// No value.
    pub const NONE: ZeroOption<T> = ZeroOption::None;

    /// Whether there is a value.
    pub const fn is_some(&self) -> bool {
        matches!(self, ZeroOption::Some(_))
    }

    /// Whether there is none.
    pub const fn is_none(&self) -> bool {
        !self.is_some()
    }

    /// The value, borrowed.
    pub const fn as_ref(&self) -> Option<&T> {
        match self {
            ZeroOption::Some(v) => Some(v),
            ZeroOption::None => None,
        }
    }

    /// The value, borrowed mutably.
    pub fn as_mut(&mut self) -> Option<&mut T> {
        match self {
            ZeroOption::Some(v) => Some(v),
            ZeroOption::None => None,
        }
    }

    /// A copy of the value.
    pub fn get(&self) -> Option<T>
    where
        T: Copy,
    {
        self.as_ref().copied()
    }

    /// Replaces the value (or clears it with `None`).
    pub fn set(&mut self, value: Option<T>) {
        *self = value.into();
    }

    /// Takes the value out, leaving none.
    pub fn take(&mut self) -> Option<T> {
        core::mem::take(self).into()
    }
}

impl<T> From<Option<T>> for ZeroOption<T> {
    fn from(value: Option<T>) -> Self {
        match value {
            Some(v) => ZeroOption::Some(v),
            None => ZeroOption::None,
        }
    }
}

impl<T> From<ZeroOption<T>> for Option<T> {
    fn from(value: ZeroOption<T>) -> Self {
        match value {
            ZeroOption::Some(v) => Some(v),
            ZeroOption::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_option() {
        let mut o: ZeroOption<u32> = Some(7).into();
        assert!(o.is_some());
        assert_eq!(o.get(), Some(7));
        if let Some(v) = o.as_mut() {
            *v = 8;
        }
        assert_eq!(Option::from(o), Some(8));
        assert_eq!(o.take(), Some(8));
        assert_eq!(o, ZeroOption::NONE);
        o.set(Some(9));
        assert_eq!(o.as_ref(), Some(&9));
        o.set(None);
        assert!(o.is_none());
    }
}
