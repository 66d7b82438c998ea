//! Persistence: an embedded database ([redb](https://docs.rs/redb)) in the data
//! directory, so that a restart loses no registration.
//!
//! Two tables: registration bindings, keyed by address-of-record and binding key, each
//! an opaque value (serialized by its owner) with its expiry; and a key/value table for
//! other state. Every write is one committed, durable transaction.

// The private closures return redb's own (large) error type, converted once per call.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};

use redb::{
    Database, DatabaseError, ReadableTable, ReadableTableMetadata, StorageError, TableDefinition,
};

/// The database file inside the data directory.
pub const FILE_NAME: &str = "csta-server.redb";

/// `(aor, binding key) -> (expiry in seconds since the Unix epoch, value)`.
const BINDINGS: TableDefinition<'_, (&str, &str), (u64, &[u8])> = TableDefinition::new("bindings");
/// `key -> value`.
const KV: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("kv");

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process (or another `Store` in this one) has the database open.
    #[error("database {path} is in use by another csta-server (locked)")]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The file is not a database this server can read.
    #[error("database {path} is corrupted or not a csta-server database: {detail}")]
    Corrupted {
        /// The database file.
        path: PathBuf,
        /// What the database engine reported.
        detail: String,
    },
    /// Reading or writing the file failed.
    #[error("database {path}: I/O error: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Any other failure of the database engine.
    #[error("database {path}: {detail}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What the database engine reported.
        detail: String,
    },
}

/// One change of [`Store::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// Store (or replace) the binding `key` of `aor`, expiring at `expires` (unix
    /// seconds).
    Put {
        /// The address-of-record.
        aor: &'a str,
        /// The binding's key.
        key: &'a str,
        /// When it expires.
        expires: u64,
        /// Its value.
        value: &'a [u8],
    },
    /// Remove the binding `key` of `aor`, if there is one.
    Remove {
        /// The address-of-record.
        aor: &'a str,
        /// The binding's key.
        key: &'a str,
    },
}

/// One stored registration binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBinding {
    /// The address-of-record.
    pub aor: String,
    /// The binding's key within its address-of-record (e.g. instance id or contact).
    pub key: String,
    /// When the binding expires, in seconds since the Unix epoch.
    pub expires: u64,
    /// The binding, serialized by the registrar.
    pub value: Vec<u8>,
}

/// The server's embedded database.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database in `dir`, creating `dir` too.
    ///
    /// # Errors
    /// [`StoreError::CreateDir`], [`StoreError::Locked`] when the file is already open,
    /// [`StoreError::Corrupted`] when it is not a readable database, or
    /// [`StoreError::Io`].
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => StoreError::Locked { path: path.clone() },
            DatabaseError::UpgradeRequired(v) => StoreError::Corrupted {
                path: path.clone(),
                detail: format!("unsupported file format version {v}"),
            },
            DatabaseError::Storage(s) => storage_error(&path, s),
            other => StoreError::Database {
                path: path.clone(),
                detail: other.to_string(),
            },
        })?;
        let store = Store { db, path };
        // Create both tables so that readers always find them.
        store.write(|tx| {
            tx.open_table(BINDINGS)?;
            tx.open_table(KV)?;
            Ok(())
        })?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, e: impl Into<redb::Error>) -> StoreError {
        match e.into() {
            redb::Error::Corrupted(detail) => StoreError::Corrupted {
                path: self.path.clone(),
                detail,
            },
            redb::Error::Io(source) => StoreError::Io {
                path: self.path.clone(),
                source,
            },
            other => StoreError::Database {
                path: self.path.clone(),
                detail: other.to_string(),
            },
        }
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.error(e))?;
        let out = f(&tx).map_err(|e| self.error(e))?;
        tx.commit().map_err(|e| self.error(e))?;
        Ok(out)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.error(e))?;
        f(&tx).map_err(|e| self.error(e))
    }

    /// Stores (or replaces) the binding `key` of `aor`.
    ///
    /// # Errors
    /// A [`StoreError`] from the database.
    pub fn put_binding(
        &self,
        aor: &str,
        key: &str,
        expires: u64,
        value: &[u8],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(BINDINGS)?
                .insert((aor, key), (expires, value))?;
            Ok(())
        })
    }

    /// Applies `changes` in one committed, durable transaction: all of them or, on an
    /// error, none. The registrar's writer uses this so that one disk flush carries
    /// every change that piled up meanwhile.
    ///
    /// # Errors
    /// A [`StoreError`] from the database.
    pub fn apply(&self, changes: &[Change<'_>]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut table = tx.open_table(BINDINGS)?;
            for c in changes {
                match *c {
                    Change::Put {
                        aor,
                        key,
                        expires,
                        value,
                    } => {
                        table.insert((aor, key), (expires, value))?;
                    }
                    Change::Remove { aor, key } => {
                        table.remove((aor, key))?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Removes the binding `key` of `aor`; returns whether it existed.
    ///
    /// # Errors
    /// A [`StoreError`] from the database.
    pub fn remove_binding(&self, aor: &str, key: &str) -> Result<bool, StoreError> {
        self.write(|tx| Ok(tx.open_table(BINDINGS)?.remove((aor, key))?.is_some()))
    }

    /// The bindings of `aor`, ordered by key.
    ///
    /// # Errors
    /// A [`StoreError`] from the database.
    pub fn bindings(&self, aor: &str) -> Result<Vec<StoredBinding>, StoreError> {
        self.read(|tx| {
            let table = tx.open_table(BINDINGS)?;
            let mut out = Vec::new();
            for row in table.range((aor, "")..)? {
                let (k, v) = row?;
                let (a, key) = k.value();
                if a != aor {
                    break;
                }
                let (expires, value) = v.value();
                out.push(StoredBinding {
                    aor: a.to_owned(),
                    key: key.to_owned(),
                    expires,
                    value: value.to_vec(),
                });
            }
            Ok(out)
        })
    }

    /// Every binding, ordered by address-of-record and key (for loading at start).
    ///
    /// # Errors
    /// A [`StoreError`] from the database.
    pub fn all_bindings(&self) -> Result<Vec<StoredBinding>, StoreError> {
        self.read(|tx| {
            let table = tx.open_table(BINDINGS)?;
            let mut out = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                let (aor, key) = k.value();
                let (expires, value) = v.value();
                out.push(StoredBinding {
                    aor: aor.to_owned(),
                    key: key.to_owned(),
                    expires,
                    value: value.to_vec(),
                });
            }
            Ok(out)
        })
    }

    /// Removes every binding that expires at or before `now` (seconds since the Unix
    /// epoch); returns how many were removed.
    ///
    /// # Errors
    /// A [`StoreError`] from the database.
    pub fn remove_expired(&self, now: u64) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut table = tx.open_table(BINDINGS)?;
            let before = table.len()?;
            table.retain(|_, (expires, _)| expires > now)?;
            let after = table.len()?;
            Ok(usize::try_from(before - after).unwrap_or(usize::MAX))
        })
    }

    /// Stores (or replaces) `value` under `key`.
    ///
    /// # Errors
    /// A [`StoreError`] from the database.
    pub fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(KV)?.insert(key, value)?;
            Ok(())
        })
    }

    /// The value under `key`.
    ///
    /// # Errors
    /// A [`StoreError`] from the database.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|tx| Ok(tx.open_table(KV)?.get(key)?.map(|v| v.value().to_vec())))
    }

    /// Removes `key`; returns whether it existed.
    ///
    /// # Errors
    /// A [`StoreError`] from the database.
    pub fn remove(&self, key: &str) -> Result<bool, StoreError> {
        self.write(|tx| Ok(tx.open_table(KV)?.remove(key)?.is_some()))
    }

    /// Closes the database. Every write is already durable when it returns, so this
    /// only releases the file and its lock (dropping the store does the same).
    pub fn close(self) {
        drop(self.db);
    }
}

fn storage_error(path: &Path, e: StorageError) -> StoreError {
    match e {
        StorageError::Corrupted(detail) => StoreError::Corrupted {
            path: path.to_owned(),
            detail,
        },
        StorageError::Io(source)
            if matches!(
                source.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            StoreError::Corrupted {
                path: path.to_owned(),
                detail: source.to_string(),
            }
        }
        StorageError::Io(source) => StoreError::Io {
            path: path.to_owned(),
            source,
        },
        other => StoreError::Database {
            path: path.to_owned(),
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let s = Store::open(&data).unwrap();
        s.put_binding("sip:a@x", "k1", 100, b"one").unwrap();
        s.put_binding("sip:a@x", "k2", 200, b"two").unwrap();
        s.put_binding("sip:b@x", "k1", 300, b"three").unwrap();
        s.put_binding("sip:a@x", "k1", 150, b"one'").unwrap();
        s.put("version", b"1").unwrap();
        s.close();

        let s = Store::open(&data).unwrap();
        let a = s.bindings("sip:a@x").unwrap();
        assert_eq!(
            a,
            vec![
                StoredBinding {
                    aor: "sip:a@x".into(),
                    key: "k1".into(),
                    expires: 150,
                    value: b"one'".to_vec()
                },
                StoredBinding {
                    aor: "sip:a@x".into(),
                    key: "k2".into(),
                    expires: 200,
                    value: b"two".to_vec()
                },
            ]
        );
        assert_eq!(s.all_bindings().unwrap().len(), 3);
        assert_eq!(s.bindings("sip:c@x").unwrap(), vec![]);
        assert_eq!(s.get("version").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get("missing").unwrap(), None);

        assert!(s.remove_binding("sip:a@x", "k2").unwrap());
        assert!(!s.remove_binding("sip:a@x", "k2").unwrap());
        assert!(s.remove("version").unwrap());
        assert!(!s.remove("version").unwrap());
        assert_eq!(s.remove_expired(150).unwrap(), 1);
        let left = s.all_bindings().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].aor, "sip:b@x");
    }

    #[test]
    fn a_batch_of_changes_is_applied_at_once_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.put_binding("sip:gone@x", "k", 50, b"old").unwrap();
        s.apply(&[
            Change::Put {
                aor: "sip:a@x",
                key: "k",
                expires: 100,
                value: b"one",
            },
            Change::Put {
                aor: "sip:b@x",
                key: "k",
                expires: 200,
                value: b"two",
            },
            Change::Remove {
                aor: "sip:gone@x",
                key: "k",
            },
            // Removing what is not there is no error.
            Change::Remove {
                aor: "sip:never@x",
                key: "k",
            },
        ])
        .unwrap();
        s.close();
        let s = Store::open(dir.path()).unwrap();
        let all: Vec<(String, u64, Vec<u8>)> = s
            .all_bindings()
            .unwrap()
            .into_iter()
            .map(|b| (b.aor, b.expires, b.value))
            .collect();
        assert_eq!(
            all,
            [
                ("sip:a@x".to_owned(), 100, b"one".to_vec()),
                ("sip:b@x".to_owned(), 200, b"two".to_vec())
            ]
        );
    }

    #[test]
    fn second_open_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _s = Store::open(dir.path()).unwrap();
        let e = Store::open(dir.path()).unwrap_err();
        assert!(matches!(e, StoreError::Locked { .. }), "{e:?}");
        assert!(e.to_string().contains(FILE_NAME), "{e}");
    }

    #[test]
    fn garbage_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), vec![0x5a; 8192]).unwrap();
        let e = Store::open(dir.path()).unwrap_err();
        assert!(matches!(e, StoreError::Corrupted { .. }), "{e:?}");
        assert!(e.to_string().contains(FILE_NAME), "{e}");
    }

    #[test]
    fn data_dir_that_is_a_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let e = Store::open(&file).unwrap_err();
        assert!(matches!(e, StoreError::CreateDir { .. }), "{e:?}");
    }
}
