//! The font database for pictures drawn as SVG and rasterised (report charts, synthetic
//! corpus frames): loading the system's fonts takes a while, so it happens once per process.

use std::sync::{Arc, OnceLock};

use resvg::usvg::fontdb::Database;

/// The sans-serif family every drawn picture uses: fonts-dejavu-core, which scripts/setup.sh
/// installs.
pub const SANS: &str = "DejaVu Sans";

/// The system's fonts, with [`SANS`] as the sans-serif family.
pub fn fonts() -> Arc<Database> {
    static DB: OnceLock<Arc<Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = Database::new();
        db.load_system_fonts();
        db.set_sans_serif_family(SANS);
        Arc::new(db)
    })
    .clone()
}
