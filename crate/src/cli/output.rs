//! Writing result files so that a crash or a diverged run never leaves a half-written file.

use std::path::Path;

use crate::error::{LabError, Result};

/// Writes `bytes` to `path` through a temporary file and a rename, creating parent folders.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| LabError::io(parent, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| LabError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| LabError::io(path, e))
}

/// The confusion matrix as an aligned text table.
pub fn format_confusion(confusion: &[Vec<u32>], names: &[&str]) -> String {
    let mut out = String::from("true \\ predicted");
    for j in 0..confusion.len() {
        out.push_str(&format!("{j:>6}"));
    }
    out.push('\n');
    for (i, row) in confusion.iter().enumerate() {
        let name = names.get(i).copied().unwrap_or("");
        out.push_str(&format!("{i} {name:<14}"));
        for c in row {
            out.push_str(&format!("{c:>6}"));
        }
        out.push('\n');
    }
    out
}
