//! Reading the user's files safely and writing ours atomically.
//!
//! Inputs (`ai.linode.yml`, `template.yml`, `.env`, SSH keys) are read only
//! when they are regular files (a FIFO would block forever, `/dev/zero` never
//! ends), up to a size limit, as UTF-8 with an optional byte-order mark.
//! Outputs that hold state (registry, `.env`, hook cache) are written to a
//! temporary file in the same directory and renamed into place, private to
//! the user.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Limit for manifests, templates and env files.
pub const TEXT_LIMIT: u64 = 1 << 20;

/// What a path turned out to be, for messages.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading only if it is a regular file (symlinks to one are
/// followed), without blocking on FIFOs.
pub fn open_regular(path: &Path, what: &str) -> Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO with no writer returns at once instead of hanging.
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = opts
        .open(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{what} {} is {}; expected a regular file",
            path.display(),
            kind_of(&meta)
        );
    }
    Ok(file)
}

/// Reads a regular text file of at most `limit` bytes; a leading UTF-8 BOM is dropped.
/// Errors name the file but never quote its contents.
pub fn read_text(path: &Path, what: &str, limit: u64) -> Result<String> {
    let file = open_regular(path, what)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!(
            "{what} {} is larger than {} KiB; that is not a {what}",
            path.display(),
            limit >> 10
        );
    }
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .map(<[u8]>::to_vec)
        .unwrap_or(bytes);
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
            bail!(
                "{what} {} is not UTF-8 text (invalid byte on line {line}); save it as UTF-8",
                path.display()
            )
        }
    }
}

/// Writes `data` to `path` atomically (temp file in the same directory, then
/// rename), with mode 0600. A symlink at `path` is followed: its target is
/// replaced, the link stays.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let target = resolve_link(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            target.file_name().unwrap_or_default().to_string_lossy()
        ))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    // tempfile creates the file 0600 on Unix.
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", target.display()))?;
    tmp.persist(&target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(())
}

/// Follows a chain of symlinks at `path` (not its parents) to the file it names.
pub fn resolve_link(path: &Path) -> Result<std::path::PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)
                    .with_context(|| format!("cannot read link {}", p.display()))?;
                p = match p.parent() {
                    Some(parent) if to.is_relative() => parent.join(to),
                    _ => to,
                };
            }
            _ => return Ok(p),
        }
    }
    bail!("{} is a symlink loop", path.display())
}

/// The permission bits of `path`, if it exists.
#[cfg(unix)]
pub fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

/// Sets the permission bits of `path`.
#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("ai.linode.yml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_text(&fifo, "project manifest", TEXT_LIMIT).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        let e = read_text(Path::new("/dev/zero"), "env file", TEXT_LIMIT).unwrap_err();
        assert!(e.to_string().contains("a device"), "{e}");
        let e = read_text(dir.path(), "env file", TEXT_LIMIT).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
    }

    #[test]
    fn size_limit_bom_and_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"\xEF\xBB\xBFname: x\n").unwrap();
        assert_eq!(read_text(&p, "template", TEXT_LIMIT).unwrap(), "name: x\n");
        std::fs::write(&p, vec![b'a'; 2048]).unwrap();
        assert!(read_text(&p, "template", 1024)
            .unwrap_err()
            .to_string()
            .contains("larger than 1 KiB"));
        std::fs::write(&p, b"a\nb\xff secret").unwrap();
        let e = read_text(&p, "env file", TEXT_LIMIT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn atomic_write_follows_symlinks_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_private(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        assert_eq!(mode(&real), Some(0o600));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
