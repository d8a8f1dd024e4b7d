//! The content-addressed JPEG store: `<root>/<hh>/<sha256>.jpg`, where `hh` is the first two hex
//! digits of the hash. One copy of each image however many videos share it; traces and payloads
//! carry only the hash.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use scrollsim_core::ImageHash;
use sha2::{Digest, Sha256};

use crate::MediaError;

/// A directory of JPEGs named by the SHA-256 of their bytes.
///
/// Writes are atomic (a temporary file in the same directory, then a rename), so a reader never
/// sees half an image and concurrent writers of the same bytes are harmless. Files are not
/// fsynced (ingest writes thousands); a file torn by a crash fails [`ImageStore::get`]'s hash
/// check and is rewritten by the next [`ImageStore::put`] of the same bytes.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Where a data directory keeps its image store.
    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join("images")
    }

    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<ImageStore, MediaError> {
        fs::create_dir_all(root).map_err(|source| MediaError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        if !root.is_dir() {
            return Err(MediaError::Store {
                path: root.to_path_buf(),
                reason: "not a directory".into(),
            });
        }
        Ok(ImageStore {
            root: root.to_path_buf(),
        })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SHA-256 of `bytes`, the key [`ImageStore::put`] would use.
    pub fn hash_of(bytes: &[u8]) -> ImageHash {
        ImageHash::try_from(hex::encode(Sha256::digest(bytes)))
            .expect("hex of a SHA-256 digest is 64 lowercase hex digits")
    }

    /// Stores a JPEG and returns its hash. Idempotent: storing the same bytes again writes
    /// nothing.
    pub fn put(&self, jpeg: &[u8]) -> Result<ImageHash, MediaError> {
        let hash = Self::hash_of(jpeg);
        let path = self.path(&hash);
        if !is_jpeg(jpeg) {
            return Err(MediaError::Store {
                path,
                reason: format!("refusing to store {} bytes that are not a JPEG", jpeg.len()),
            });
        }
        // Same name, same length: the same bytes (short of a SHA-256 collision or a torn write
        // of exactly the right length, which `get` would catch).
        if fs::metadata(&path)
            .map(|m| m.len() == jpeg.len() as u64)
            .unwrap_or(false)
        {
            return Ok(hash);
        }
        let dir = path.parent().expect("store paths have a parent");
        let io = |source| MediaError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".put-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(io)?;
        tmp.write_all(jpeg).map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(hash)
    }

    /// The bytes of a stored image, checked against its hash.
    pub fn get(&self, hash: &ImageHash) -> Result<Vec<u8>, MediaError> {
        let path = self.path(hash);
        let bytes = fs::read(&path).map_err(|source| MediaError::Io {
            path: path.clone(),
            source,
        })?;
        let actual = Self::hash_of(&bytes);
        if &actual != hash {
            return Err(MediaError::Store {
                path,
                reason: format!(
                    "content hashes to {actual}, not to its name (torn or altered file)"
                ),
            });
        }
        Ok(bytes)
    }

    /// Where the image with this hash lives (whether or not it is stored).
    pub fn path(&self, hash: &ImageHash) -> PathBuf {
        let h = hash.as_str();
        self.root.join(&h[..2]).join(format!("{h}.jpg"))
    }

    /// Whether an image with this hash is stored.
    pub fn contains(&self, hash: &ImageHash) -> bool {
        self.path(hash).is_file()
    }
}

/// JPEG files start with an SOI marker followed by another marker.
fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.len() > 4 && bytes[..3] == [0xFF, 0xD8, 0xFF]
}
