//! File names made from labels, kept injective: two different labels that slug to one name
//! (`foryou:a` and `foryou-a` both give `foryou-a`) would otherwise overwrite one file.

use std::collections::BTreeMap;

/// Each `(label, slug)`'s file name: the slug, except where different labels share it; then
/// every one of those gets `-` and eight hex digits of its label's CRC-32 (stable across runs
/// and machines), so each file exists and keeps a readable name. Equal labels are one thing
/// and keep one name. Names stay clean in the usual case, where nothing collides.
pub(crate) fn injective<'a>(labels: impl IntoIterator<Item = (&'a str, String)>) -> Vec<String> {
    let labels: Vec<(&str, String)> = labels.into_iter().collect();
    let mut by_slug: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (label, slug) in &labels {
        let owners = by_slug.entry(slug.as_str()).or_default();
        if !owners.contains(label) {
            owners.push(label);
        }
    }
    labels
        .iter()
        .map(|(label, slug)| {
            if by_slug[slug.as_str()].len() > 1 {
                format!("{slug}-{:08x}", crc32fast::hash(label.as_bytes()))
            } else {
                slug.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_labels_get_distinct_stable_suffixes_and_the_rest_stay_clean() {
        let names = injective([
            ("foryou:a", "foryou-a".to_string()),
            ("foryou-a", "foryou-a".to_string()),
            ("random", "random".to_string()),
            ("foryou:a", "foryou-a".to_string()),
        ]);
        assert_eq!(names[2], "random");
        assert_ne!(names[0], names[1]);
        assert!(names[0].starts_with("foryou-a-") && names[1].starts_with("foryou-a-"));
        assert_eq!(names[0], names[3], "one label, one name");
        assert_eq!(names[0].len(), "foryou-a-".len() + 8);
        // The suffix depends on the label only, not on what else collided or in what order.
        let again = injective([
            ("foryou-a", "foryou-a".to_string()),
            ("foryou:a", "foryou-a".to_string()),
        ]);
        assert_eq!((&again[1], &again[0]), (&names[0], &names[1]));
    }
}
