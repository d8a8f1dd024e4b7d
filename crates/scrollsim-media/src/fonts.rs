//! The font database for pictures drawn as SVG and rasterised (report charts, synthetic
//! corpus frames): loading the system's fonts takes a while, so it happens once per process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use resvg::usvg::fontdb::{Database, Source};

/// The sans-serif family every drawn picture uses: fonts-dejavu-core, which scripts/setup.sh
/// installs.
pub const SANS: &str = "DejaVu Sans";

/// Font files held in memory up to this many bytes in all; beyond it faces stay on disk.
const IN_MEMORY: u64 = 64 << 20;

/// The system's fonts, with [`SANS`] as the sans-serif family.
pub fn fonts() -> Arc<Database> {
    static DB: OnceLock<Arc<Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = in_memory(system_fonts());
        db.set_sans_serif_family(SANS);
        Arc::new(db)
    })
    .clone()
}

fn system_fonts() -> Database {
    let mut db = Database::new();
    db.load_system_fonts();
    db
}

/// The same faces, in the same order, with each font file read once and held in memory.
/// fontdb reads a file-backed face's whole file again every time text layout asks for it:
/// about 400 opens and reads of the font files per synthetic screenshot (strace), two thirds
/// of `corpus synth`'s CPU time, in the kernel.
fn in_memory(on_disk: Database) -> Database {
    let mut db = Database::new();
    let mut files: HashMap<PathBuf, Option<Source>> = HashMap::new();
    let mut held = 0u64;
    for face in on_disk.faces() {
        let source = match &face.source {
            Source::File(path) => files
                .entry(path.clone())
                .or_insert_with(|| {
                    let size = std::fs::metadata(path).ok()?.len();
                    if held + size > IN_MEMORY {
                        return None;
                    }
                    let bytes = std::fs::read(path).ok()?;
                    held += size;
                    Some(Source::Binary(Arc::new(bytes)))
                })
                .clone()
                .unwrap_or_else(|| face.source.clone()),
            other => other.clone(),
        };
        db.push_face_info(resvg::usvg::fontdb::FaceInfo {
            source,
            ..face.clone()
        });
    }
    db
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_in_memory_the_faces_are_the_same_in_the_same_order() {
        let on_disk = system_fonts();
        let db = fonts();
        let key = |d: &Database| -> Vec<(String, u32)> {
            d.faces()
                .map(|f| (f.post_script_name.clone(), f.index))
                .collect()
        };
        assert_eq!(key(&on_disk), key(&db));
        for f in db.faces() {
            let from_disk = on_disk.with_face_data(
                on_disk
                    .faces()
                    .find(|g| g.post_script_name == f.post_script_name && g.index == f.index)
                    .unwrap()
                    .id,
                |d, _| d.to_vec(),
            );
            assert_eq!(db.with_face_data(f.id, |d, _| d.to_vec()), from_disk);
        }
        let first_in_memory = db
            .faces()
            .next()
            .map(|f| matches!(f.source, Source::Binary(_)));
        assert_ne!(
            first_in_memory,
            Some(false),
            "the first font file is held in memory"
        );
    }
}
