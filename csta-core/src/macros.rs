//! `names!`: enumerations whose wire form is a fixed spelling.
//!
//! ```text
//! names! {
//!     /// What the enumeration is.
//!     pub enum ConnectionState closed {
//!         /// What the value means.
//!         Null = "null",
//!         ...
//!     }
//! }
//! ```
//!
//! `closed` enumerations are plain `Copy` enums; a spelling outside the list does not
//! decode. `open` ones take a lifetime and an `Other(Text<'a>)` arm that keeps any other
//! spelling, so unknown values survive decoding and re-encoding. Both get `ALL`,
//! `as_str`/`from_name`, the XML leaf codec and JSON as the wire spelling.
//!
//! Spellings are kept in a table indexed by declaration order and found again through a
//! [`NameTable`](crate::lookup::NameTable), so each enumeration costs a few bytes per
//! value rather than a `match` arm in every function that names a value.

macro_rules! names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident closed {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant, )+
        }

        const _: () = {
            /// The spellings, in declaration order (by discriminant).
            const TABLE: $crate::lookup::NameTable = name_table!($($text),+);
            /// The alternative spellings `from_name` accepts.
            const ALIASES: &[(&str, $name)] = &[$($( ($alias, $name::$variant), )*)+];

            impl $name {
                /// Every value, in declaration order.
                pub const ALL: &'static [$name] = &[$($name::$variant),+];

                /// The wire spelling.
                pub const fn as_str(self) -> &'static str {
                    TABLE.names()[self as usize]
                }

                /// The value with wire spelling `name` (or a documented alias), matched
                /// exactly.
                pub fn from_name(name: &str) -> Option<Self> {
                    match TABLE.find(name) {
                        Some(index) => Some(Self::ALL[index]),
                        None => ALIASES.iter().find(|(alias, _)| *alias == name).map(|&(_, v)| v),
                    }
                }
            }
        };

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // The spellings are written without escaping: checked at compile time.
        const _: () = {
            $( assert!($crate::xml::needs_no_escaping($text)); )+
        };

        impl<'a> $crate::codec::Leaf<'a> for $name {
            fn from_text(text: $crate::xml::Text<'a>) -> Option<Self> {
                $crate::codec::with_str(text.trim(), Self::from_name).flatten()
            }
            fn write_text(&self, w: &mut $crate::xml::Writer<'_>) {
                w.raw(self.as_str());
            }
            fn encode_leaf(&self, w: &mut $crate::xml::Writer<'_>, name: &str) {
                w.leaf_verbatim(name, self.as_str());
            }
        }

        required_in_json!($name);

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = $crate::json::JsonText::deserialize(d)?.0;
                $crate::codec::with_str(text, Self::from_name)
                    .flatten()
                    .ok_or_else(|| serde::de::Error::custom(concat!("unknown ", stringify!($name))))
            }
        }
    };

    (
        $(#[$meta:meta])*
        pub enum $name:ident<'a> open {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name<'a> {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant, )+
            /// A value outside this list, kept as received.
            Other($crate::xml::Text<'a>),
        }

        const _: () = {
            /// The known values without their data, for indexing `TABLE`.
            #[derive(Clone, Copy)]
            #[allow(clippy::enum_variant_names)]
            enum Known {
                $( $variant, )+
            }
            /// The known values, in declaration order (the discriminants of `Known`).
            const KNOWN: &[Known] = &[$(Known::$variant),+];
            /// The spellings, in declaration order.
            const TABLE: $crate::lookup::NameTable = name_table!($($text),+);

            impl<'a> $name<'a> {
                /// Every known value, in declaration order.
                pub const ALL: &'static [$name<'static>] = &[$($name::$variant),+];

                /// The wire spelling.
                pub fn as_text(&self) -> $crate::xml::Text<'a> {
                    match self.spelling() {
                        Ok(known) => $crate::xml::Text::new(known),
                        Err(other) => other,
                    }
                }

                /// The spelling of a known value, or the text of [`Other`](Self::Other).
                fn spelling(&self) -> Result<&'static str, $crate::xml::Text<'a>> {
                    let known = match *self {
                        $( $name::$variant => Known::$variant, )+
                        $name::Other(text) => return Err(text),
                    };
                    Ok(TABLE.names()[known as usize])
                }

                /// The known value with wire spelling `name`, matched exactly.
                pub fn from_name(name: &str) -> Option<Self> {
                    let known = KNOWN[TABLE.find(name)?];
                    Some(match known {
                        $( Known::$variant => $name::$variant, )+
                    })
                }

                /// The value spelt `text`: a known one, or [`Other`](Self::Other).
                pub fn from_text(text: $crate::xml::Text<'a>) -> Self {
                    $crate::codec::with_str(text, Self::from_name)
                        .flatten()
                        .unwrap_or($name::Other(text))
                }

                /// Whether this is a value of the list rather than [`Other`](Self::Other).
                pub fn is_known(&self) -> bool {
                    !matches!(self, $name::Other(_))
                }
            }
        };

        impl core::fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&self.as_text(), f)
            }
        }

        #[cfg(feature = "defmt")]
        impl defmt::Format for $name<'_> {
            fn format(&self, f: defmt::Formatter<'_>) {
                defmt::Format::format(&self.as_text(), f)
            }
        }

        impl<'a> $crate::codec::Leaf<'a> for $name<'a> {
            fn from_text(text: $crate::xml::Text<'a>) -> Option<Self> {
                let text = text.trim();
                (!text.is_empty()).then(|| $name::from_text(text))
            }
            fn write_text(&self, w: &mut $crate::xml::Writer<'_>) {
                match self.spelling() {
                    // The spellings need no escaping (checked below).
                    Ok(known) => w.raw(known),
                    Err(other) => w.text(&other),
                }
            }
            fn encode_leaf(&self, w: &mut $crate::xml::Writer<'_>, name: &str) {
                match self.spelling() {
                    Ok(known) => w.leaf_verbatim(name, known),
                    Err(other) => w.leaf(name, &other),
                }
            }
        }

        const _: () = {
            $( assert!($crate::xml::needs_no_escaping($text)); )+
        };

        required_in_json!($name<'_>);

        impl serde::Serialize for $name<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.as_text())
            }
        }

        impl<'de: 'a, 'a> serde::Deserialize<'de> for $name<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = $crate::json::JsonText::deserialize(d)?.0;
                Ok($name::from_text(text))
            }
        }
    };
}
