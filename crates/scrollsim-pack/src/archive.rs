//! Writing an archive one member at a time: each member is streamed through the guard and a
//! SHA-256 into the tar, so packing holds one read buffer, not the archive (a member whose size
//! is only known once written, such as `videos.jsonl`, is first spooled to a temporary file).

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::io;
use crate::manifest::{Manifest, Member, Packed};
use crate::{layout, Guard, PackError};

/// Reads `inner`, hashing what passes and looking for the guard's needles across read
/// boundaries; a needle ends the read with an error and is kept in `leak`.
pub(crate) struct Scanned<'g, R> {
    inner: R,
    guard: Option<&'g Guard>,
    hasher: Sha256,
    bytes: u64,
    /// The end of what was read last, so a needle split over two reads is found.
    tail: Vec<u8>,
    window: Vec<u8>,
    pub leak: Option<String>,
}

impl<'g, R: Read> Scanned<'g, R> {
    pub fn new(inner: R, guard: Option<&'g Guard>) -> Self {
        Scanned {
            inner,
            guard,
            hasher: Sha256::new(),
            bytes: 0,
            tail: Vec::new(),
            window: Vec::new(),
            leak: None,
        }
    }

    /// SHA-256 (hex) and size of what was read.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<R: Read> Read for Scanned<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = &buf[..n];
        if let Some(g) = self.guard {
            self.window.clear();
            self.window.extend_from_slice(&self.tail);
            self.window.extend_from_slice(got);
            if let Some(what) = g.find(&self.window) {
                self.leak = Some(what.to_string());
                return Err(std::io::Error::other("a guarded value"));
            }
            let keep = g.longest().saturating_sub(1).min(self.window.len());
            self.tail.clear();
            self.tail
                .extend_from_slice(&self.window[self.window.len() - keep..]);
        }
        self.hasher.update(got);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// SHA-256 (hex) and size of everything `r` yields.
pub(crate) fn hash_reader(r: impl Read, path: &Path) -> Result<(String, u64), PackError> {
    let mut s = Scanned::new(r, None);
    std::io::copy(&mut s, &mut std::io::sink()).map_err(io(path))?;
    Ok(s.finish())
}

/// An archive being written into a temporary file beside its destination: nothing appears at
/// the destination unless [`ArchiveWriter::finish`] is reached, and a refused member (the
/// guard) drops the temporary file.
pub(crate) struct ArchiveWriter<'g> {
    out: PathBuf,
    top: String,
    guard: &'g Guard,
    tmp: tempfile::NamedTempFile,
    tar: tar::Builder<zstd::Encoder<'static, BufWriter<std::fs::File>>>,
    members: Vec<Member>,
}

/// A member written to a temporary file first (its size is known only at the end).
pub(crate) struct Spool {
    file: BufWriter<tempfile::NamedTempFile>,
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A tar header with nothing of the packing machine in it (no owner, time or mode), so the
/// same run packs to the same bytes.
fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

impl<'g> ArchiveWriter<'g> {
    /// Starts the archive of run `top` for `out`.
    pub fn create(out: &Path, top: &str, guard: &'g Guard) -> Result<Self, PackError> {
        let dir = out
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = tempfile::Builder::new()
            .prefix(".pack-")
            .tempfile_in(dir)
            .map_err(io(dir))?;
        let file = tmp.as_file().try_clone().map_err(io(out))?;
        let enc = zstd::Encoder::new(BufWriter::new(file), 12).map_err(io(out))?;
        Ok(ArchiveWriter {
            out: out.to_path_buf(),
            top: top.to_string(),
            guard,
            tmp,
            tar: tar::Builder::new(enc),
            members: Vec::new(),
        })
    }

    /// Appends `size` bytes read from `r` as member `path`, checked by the guard and hashed
    /// on the way.
    fn append(&mut self, path: &str, size: u64, r: impl Read) -> Result<(), PackError> {
        let mut s = Scanned::new(r, Some(self.guard));
        let res = self
            .tar
            .append_data(&mut header(size), format!("{}/{path}", self.top), &mut s);
        if let Some(what) = s.leak.take() {
            return Err(PackError::Leak {
                member: path.to_string(),
                what,
            });
        }
        res.map_err(io(&self.out))?;
        let (sha256, bytes) = s.finish();
        if bytes != size {
            // tar does not check: a file that shrank while packed would corrupt the archive.
            return Err(PackError::Run {
                path: path.into(),
                detail: format!("changed while packed ({size} bytes, then {bytes})"),
            });
        }
        self.members.push(Member {
            path: path.to_string(),
            sha256,
            bytes,
        });
        Ok(())
    }

    /// Member `path` from memory.
    pub fn add_bytes(&mut self, path: &str, bytes: &[u8]) -> Result<(), PackError> {
        self.append(path, bytes.len() as u64, bytes)
    }

    /// Member `path` streamed from the file `from`.
    pub fn add_file(&mut self, path: &str, from: &Path) -> Result<(), PackError> {
        let f = std::fs::File::open(from).map_err(io(from))?;
        let size = f.metadata().map_err(io(from))?.len();
        // `take`: a file that grows while packed cannot overrun its header's size.
        self.append(path, size, std::io::BufReader::new(f).take(size))
    }

    /// A temporary file for a member built piece by piece ([`ArchiveWriter::add_spool`]).
    pub fn spool(&self) -> Result<Spool, PackError> {
        let dir = self.tmp.path().parent().unwrap_or(Path::new("."));
        let file = tempfile::Builder::new()
            .prefix(".pack-member-")
            .tempfile_in(dir)
            .map_err(io(dir))?;
        Ok(Spool {
            file: BufWriter::new(file),
        })
    }

    /// Member `path` from a spool (removed after).
    pub fn add_spool(&mut self, path: &str, spool: Spool) -> Result<(), PackError> {
        let tmp = spool
            .file
            .into_inner()
            .map_err(|e| io(&self.out)(e.into_error()))?;
        self.add_file(path, tmp.path())
    }

    /// Writes `manifest`, listing the members written (sorted by path), as the last member,
    /// and moves the archive to its destination.
    pub fn finish(mut self, mut manifest: Manifest) -> Result<Packed, PackError> {
        let mut members = std::mem::take(&mut self.members);
        members.sort_by(|a, b| a.path.cmp(&b.path));
        manifest.members = members;
        let json = serde_json::to_vec_pretty(&manifest).expect("serialises");
        let mut s = Scanned::new(json.as_slice(), Some(self.guard));
        let path = format!("{}/{}", self.top, layout::MANIFEST);
        let res = self
            .tar
            .append_data(&mut header(json.len() as u64), path, &mut s);
        if let Some(what) = s.leak {
            return Err(PackError::Leak {
                member: layout::MANIFEST.into(),
                what,
            });
        }
        res.map_err(io(&self.out))?;
        let enc = self.tar.into_inner().map_err(io(&self.out))?;
        let buf = enc.finish().map_err(io(&self.out))?;
        let file = buf
            .into_inner()
            .map_err(|e| io(&self.out)(e.into_error()))?;
        file.sync_all().map_err(io(&self.out))?;
        drop(file);
        self.tmp
            .persist(&self.out)
            .map_err(|e| io(&self.out)(e.error))?;
        let bytes = std::fs::metadata(&self.out).map_err(io(&self.out))?.len();
        Ok(Packed {
            path: self.out,
            bytes,
            manifest,
        })
    }
}
