//! What must never enter an archive: secrets' values and the packing machine's absolute paths.

/// Byte strings no member may contain, each with what it is (named in the error, the value
/// never printed).
#[derive(Debug, Clone, Default)]
pub struct Guard {
    needles: Vec<(String, Vec<u8>)>,
}

impl Guard {
    /// Values shorter than this are not checked (a one-letter value would match everywhere).
    pub const MIN_LEN: usize = 6;

    pub fn new() -> Guard {
        Guard::default()
    }

    /// A secret's value, described by where it came from (e.g. `the value of $OPENAI_API_KEY`).
    pub fn secret(mut self, what: impl Into<String>, value: &str) -> Guard {
        if value.trim().len() >= Self::MIN_LEN {
            self.needles
                .push((what.into(), value.trim().as_bytes().to_vec()));
        }
        self
    }

    /// An absolute path of this machine (working directory, home, data directory...).
    pub fn path(mut self, what: impl Into<String>, path: &std::path::Path) -> Guard {
        let s = path.to_string_lossy();
        if path.is_absolute() && s.trim_end_matches('/').len() >= Self::MIN_LEN {
            self.needles
                .push((what.into(), s.trim_end_matches('/').as_bytes().to_vec()));
        }
        self
    }

    /// The longest needle's length (a streamed member keeps this much of what it read last).
    pub fn longest(&self) -> usize {
        self.needles.iter().map(|(_, n)| n.len()).max().unwrap_or(0)
    }

    /// [`PackError::Leak`] when `bytes` (member `member`) holds a needle.
    pub fn check(&self, member: &str, bytes: &[u8]) -> Result<(), crate::PackError> {
        match self.find(bytes) {
            Some(what) => Err(crate::PackError::Leak {
                member: member.to_string(),
                what: what.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// The description of the first needle found in `bytes`.
    pub fn find(&self, bytes: &[u8]) -> Option<&str> {
        self.needles
            .iter()
            .find(|(_, n)| memchr::memmem::find(bytes, n).is_some())
            .map(|(what, _)| what.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_secrets_and_paths_but_not_short_values() {
        let g = Guard::new()
            .secret("the value of $K", "sk-planted-123456")
            .secret("the value of $SHORT", "ab")
            .path(
                "the working directory",
                std::path::Path::new("/home/alice/study"),
            );
        assert_eq!(g.find(b"xx sk-planted-123456 yy"), Some("the value of $K"));
        assert_eq!(
            g.find(b"{\"p\":\"/home/alice/study/data\"}"),
            Some("the working directory")
        );
        assert_eq!(g.find(b"ab ab ab /home/alice"), None);
    }
}
