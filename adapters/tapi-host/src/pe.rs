//! The export table of a PE file (a Windows DLL), read from the file's bytes.
//!
//! The Telephony service finds a provider's functions by name with `GetProcAddress`,
//! so every `TSPI_*` function must be exported under its plain name: not
//! `_TSPI_lineOpen@20` (stdcall decoration on 32-bit) nor `TSPI_lineOpen@20` (what
//! a `.def`-less mingw build can produce). [`Exports::parse`] reads the names of
//! `IMAGE_EXPORT_DIRECTORY` and [`Exports::check`] compares them with the names a
//! provider must have.
//!
//! The parser is written here rather than taken from the `object` crate: the export
//! directory is five fields and two arrays, about a hundred lines with every offset
//! checked, and the host then needs no further dependency (nor its build time on the
//! Windows target). It is portable: `tapi-host --check-exports` reads the DLL's
//! table on Linux too, without loading it.

use std::fmt;

/// Why a file's export table could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeError {
    /// No `MZ` header, or no `PE\0\0` signature where `e_lfanew` points.
    NotPe,
    /// The optional header's magic is neither PE32 (0x10B) nor PE32+ (0x20B).
    UnknownMagic(u16),
    /// The file has no export directory.
    NoExports,
    /// An offset or size points outside the file or outside every section.
    Truncated(&'static str),
}

impl fmt::Display for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeError::NotPe => write!(f, "not a PE file"),
            PeError::UnknownMagic(m) => write!(f, "unknown optional header magic 0x{m:X}"),
            PeError::NoExports => write!(f, "no export directory"),
            PeError::Truncated(what) => write!(f, "the {what} lies outside the file"),
        }
    }
}

impl std::error::Error for PeError {}

/// A DLL's exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exports {
    /// `IMAGE_FILE_HEADER.Machine` (0x8664 for x86-64).
    pub machine: u16,
    /// PE32+ (64-bit image).
    pub pe32_plus: bool,
    /// The DLL name recorded in the export directory.
    pub dll_name: String,
    /// The exported names, in the table's order (sorted, as the loader requires).
    pub names: Vec<String>,
}

/// How one required name is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exported under exactly this name.
    Exported,
    /// Only a decorated form is exported (`_NAME@N` or `NAME@N`).
    Decorated,
    /// Not exported at all.
    Missing,
}

fn u16_at(b: &[u8], at: usize, what: &'static str) -> Result<u16, PeError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(PeError::Truncated(what))
}

fn u32_at(b: &[u8], at: usize, what: &'static str) -> Result<u32, PeError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(PeError::Truncated(what))
}

/// A section: where its virtual addresses are in the file.
struct Section {
    va: u32,
    size: u32,
    raw: u32,
}

fn file_offset(sections: &[Section], rva: u32, what: &'static str) -> Result<usize, PeError> {
    sections
        .iter()
        .find(|s| rva >= s.va && rva - s.va < s.size)
        .map(|s| (rva - s.va + s.raw) as usize)
        .ok_or(PeError::Truncated(what))
}

fn c_string(b: &[u8], at: usize, what: &'static str) -> Result<String, PeError> {
    let rest = b.get(at..).ok_or(PeError::Truncated(what))?;
    let len = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or(PeError::Truncated(what))?;
    Ok(String::from_utf8_lossy(&rest[..len]).into_owned())
}

impl Exports {
    /// Reads the export table of a PE image.
    ///
    /// # Errors
    ///
    /// [`PeError`] when the bytes are not a PE image or the table does not fit.
    pub fn parse(b: &[u8]) -> Result<Exports, PeError> {
        if b.get(..2) != Some(b"MZ") {
            return Err(PeError::NotPe);
        }
        let pe = u32_at(b, 0x3C, "DOS header")? as usize;
        if b.get(pe..pe + 4) != Some(b"PE\0\0") {
            return Err(PeError::NotPe);
        }
        let coff = pe + 4;
        let machine = u16_at(b, coff, "file header")?;
        let sections = u16_at(b, coff + 2, "file header")? as usize;
        let optional_size = u16_at(b, coff + 16, "file header")? as usize;
        let optional = coff + 20;
        let magic = u16_at(b, optional, "optional header")?;
        let (count_at, dirs_at, pe32_plus) = match magic {
            0x10B => (optional + 92, optional + 96, false),
            0x20B => (optional + 108, optional + 112, true),
            m => return Err(PeError::UnknownMagic(m)),
        };
        if u32_at(b, count_at, "optional header")? == 0 {
            return Err(PeError::NoExports);
        }
        let export_rva = u32_at(b, dirs_at, "data directories")?;
        let export_size = u32_at(b, dirs_at + 4, "data directories")?;
        if export_rva == 0 || export_size == 0 {
            return Err(PeError::NoExports);
        }
        let table = optional + optional_size;
        let sections: Vec<Section> = (0..sections)
            .map(|i| {
                let s = table + i * 40;
                let virtual_size = u32_at(b, s + 8, "section table")?;
                let raw_size = u32_at(b, s + 16, "section table")?;
                Ok(Section {
                    va: u32_at(b, s + 12, "section table")?,
                    size: virtual_size.max(raw_size),
                    raw: u32_at(b, s + 20, "section table")?,
                })
            })
            .collect::<Result<_, PeError>>()?;
        let dir = file_offset(&sections, export_rva, "export directory")?;
        let name_rva = u32_at(b, dir + 12, "export directory")?;
        let count = u32_at(b, dir + 24, "export directory")? as usize;
        let names_rva = u32_at(b, dir + 32, "export directory")?;
        let dll_name = if name_rva == 0 {
            String::new()
        } else {
            c_string(b, file_offset(&sections, name_rva, "DLL name")?, "DLL name")?
        };
        let mut names = Vec::with_capacity(count.min(4096));
        if count > 0 {
            let array = file_offset(&sections, names_rva, "name pointer table")?;
            for i in 0..count {
                let rva = u32_at(b, array + i * 4, "name pointer table")?;
                let at = file_offset(&sections, rva, "export name")?;
                names.push(c_string(b, at, "export name")?);
            }
        }
        Ok(Exports {
            machine,
            pe32_plus,
            dll_name,
            names,
        })
    }

    /// How `name` is exported.
    pub fn status(&self, name: &str) -> Status {
        if self.names.iter().any(|n| n == name) {
            return Status::Exported;
        }
        let decorated = self.names.iter().any(|n| {
            let n = n.strip_prefix('_').unwrap_or(n);
            n.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('@'))
                .is_some_and(|digits| {
                    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
                })
        });
        if decorated {
            Status::Decorated
        } else {
            Status::Missing
        }
    }

    /// The required names that are not exported undecorated, with how they are.
    pub fn check<'a>(&self, required: &[&'a str]) -> Vec<(&'a str, Status)> {
        required
            .iter()
            .map(|n| (*n, self.status(n)))
            .filter(|(_, s)| *s != Status::Exported)
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal PE32+ DLL image: headers, one section holding the export
    /// directory, the name pointer table and the names.
    pub(crate) fn image(dll: &str, names: &[&str]) -> Vec<u8> {
        const SECTION_VA: u32 = 0x1000;
        const SECTION_RAW: usize = 0x200;
        let mut b = vec![0u8; SECTION_RAW];
        b[..2].copy_from_slice(b"MZ");
        b[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        b[0x80..0x84].copy_from_slice(b"PE\0\0");
        let coff = 0x84;
        b[coff..coff + 2].copy_from_slice(&0x8664u16.to_le_bytes());
        b[coff + 2..coff + 4].copy_from_slice(&1u16.to_le_bytes());
        b[coff + 16..coff + 18].copy_from_slice(&240u16.to_le_bytes());
        let opt = coff + 20;
        b[opt..opt + 2].copy_from_slice(&0x20Bu16.to_le_bytes());
        b[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
        // The section: export directory (40 bytes), name pointers, then the strings.
        let mut sec = vec![0u8; 40];
        let pointers_at = 40;
        sec.resize(pointers_at + 4 * names.len(), 0);
        let mut strings = Vec::new();
        let mut rvas = Vec::new();
        let strings_at = sec.len();
        for n in std::iter::once(&dll).chain(names.iter()) {
            rvas.push(SECTION_VA + (strings_at + strings.len()) as u32);
            strings.extend_from_slice(n.as_bytes());
            strings.push(0);
        }
        sec[12..16].copy_from_slice(&rvas[0].to_le_bytes());
        sec[24..28].copy_from_slice(&(names.len() as u32).to_le_bytes());
        sec[32..36].copy_from_slice(&(SECTION_VA + pointers_at as u32).to_le_bytes());
        for (i, rva) in rvas[1..].iter().enumerate() {
            sec[pointers_at + 4 * i..pointers_at + 4 * i + 4].copy_from_slice(&rva.to_le_bytes());
        }
        sec.extend_from_slice(&strings);
        let dirs = opt + 112;
        b[dirs..dirs + 4].copy_from_slice(&SECTION_VA.to_le_bytes());
        b[dirs + 4..dirs + 8].copy_from_slice(&(sec.len() as u32).to_le_bytes());
        let table = opt + 240;
        b[table..table + 6].copy_from_slice(b".edata");
        b[table + 8..table + 12].copy_from_slice(&(sec.len() as u32).to_le_bytes());
        b[table + 12..table + 16].copy_from_slice(&SECTION_VA.to_le_bytes());
        b[table + 16..table + 20].copy_from_slice(&(sec.len() as u32).to_le_bytes());
        b[table + 20..table + 24].copy_from_slice(&(SECTION_RAW as u32).to_le_bytes());
        b.extend_from_slice(&sec);
        b
    }

    #[test]
    fn test_parse_exports() {
        let b = image(
            "ucsta_tsp.dll",
            &[
                "TSPI_lineOpen",
                "TSPI_lineClose@8",
                "_TSPI_lineDrop@16",
                "TUISPI_x",
            ],
        );
        let e = Exports::parse(&b).unwrap();
        assert_eq!(e.machine, 0x8664);
        assert!(e.pe32_plus);
        assert_eq!(e.dll_name, "ucsta_tsp.dll");
        assert_eq!(e.names.len(), 4);
        let cases = [
            ("TSPI_lineOpen", Status::Exported),
            ("TSPI_lineClose", Status::Decorated),
            ("TSPI_lineDrop", Status::Decorated),
            ("TSPI_lineDial", Status::Missing),
            ("TSPI_line", Status::Missing),
        ];
        for (name, want) in cases {
            assert_eq!(e.status(name), want, "{name}");
        }
        assert_eq!(
            e.check(&["TSPI_lineOpen", "TSPI_lineDial"]),
            [("TSPI_lineDial", Status::Missing)]
        );
    }

    #[test]
    fn test_parse_errors() {
        let good = image("x.dll", &["A"]);
        let cases: [(&[u8], PeError); 4] = [
            (b"", PeError::NotPe),
            (b"MZ", PeError::Truncated("DOS header")),
            (&good[..0x90], PeError::Truncated("file header")),
            (&good[..0x99], PeError::Truncated("optional header")),
        ];
        for (bytes, want) in cases {
            assert_eq!(Exports::parse(bytes), Err(want));
        }
        let mut no_pe = good.clone();
        no_pe[0x80] = b'X';
        assert_eq!(Exports::parse(&no_pe), Err(PeError::NotPe));
        let mut truncated = good.clone();
        truncated.truncate(0x200 + 30);
        assert_eq!(
            Exports::parse(&truncated),
            Err(PeError::Truncated("export directory"))
        );
    }
}
