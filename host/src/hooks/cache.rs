//! Compiling hook components, bounded, and caching the native code.
//!
//! Compilation runs in a child process (`linode-ai __compile-hook`) with a
//! wall-clock limit, a CPU-time limit and an address-space limit, so a
//! component that is slow or huge to compile cannot hang or exhaust the
//! machine. The result is cached in a private directory (0700; a directory
//! others can write is refused). An entry is bound to the component it came
//! from: its metadata names the component's and the artifact's SHA-256 and
//! the engine's settings, all checked before the native code is loaded, so a
//! swapped or broken entry is a miss, never another template's code. Entries
//! unused for 30 days, and the oldest beyond 512 MiB, are evicted.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Components larger than this are refused.
pub const COMPONENT_LIMIT: u64 = 64 << 20;
/// How long a compile may take (wall clock).
pub const COMPILE_DEADLINE: Duration = Duration::from_secs(180);
/// The compiler's address-space limit.
pub const COMPILE_MEMORY: u64 = 4 << 30;
const CACHE_LIMIT: u64 = 512 << 20;
const CACHE_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Whether a load compiled or came from the cache (for benchmarks and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadKind {
    Compiled,
    Cached,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Meta {
    component_sha256: String,
    artifact_sha256: String,
    engine: String,
}

/// The compile cache, if a safe directory is available.
pub struct Cache {
    dir: Option<PathBuf>,
    /// Why the cache is not used (shown as a warning).
    pub note: Option<String>,
    /// The executable run as `__compile-hook` (this one unless set).
    compiler: Option<PathBuf>,
}

fn hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// SHA-256 of a file, read in 1 MiB pieces (a 40 MB artifact is never held twice).
fn hex_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(format!("{:x}", h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

fn engine_id(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("wasmtime-48.0.8-{:016x}", h.finish())
}

impl Cache {
    /// Opens (creating, 0700) the cache directory; refuses one others can write.
    pub fn open(dir: &Path) -> Cache {
        let refuse = |why: String| Cache {
            dir: None,
            compiler: None,
            note: Some(format!(
                "the hook cache {} is not used: {why}; hooks are compiled on every run",
                dir.display()
            )),
        };
        if let Err(e) = std::fs::create_dir_all(dir) {
            return refuse(e.to_string());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let Ok(meta) = std::fs::symlink_metadata(dir) else {
                return refuse("it cannot be read".into());
            };
            if meta.file_type().is_symlink() {
                return refuse("it is a symlink".into());
            }
            // SAFETY: geteuid has no preconditions.
            let me = unsafe { libc::geteuid() };
            if meta.uid() != me {
                return refuse(format!("it belongs to user {}, not to you", meta.uid()));
            }
            let mode = meta.mode() & 0o777;
            if mode & 0o022 != 0 {
                return refuse(format!(
                    "others can write it (mode {mode:04o}); run: chmod 700 {}",
                    dir.display()
                ));
            }
            if mode & 0o077 != 0 {
                let _ = crate::files::set_mode(dir, 0o700);
            }
        }
        Cache {
            dir: Some(dir.to_path_buf()),
            note: None,
            compiler: None,
        }
    }

    /// A cache that stores nothing (tests, or a refused directory).
    pub fn none() -> Cache {
        Cache {
            dir: None,
            note: None,
            compiler: None,
        }
    }

    /// Runs `exe __compile-hook` instead of this executable (tests that link
    /// the library run the real binary).
    pub fn with_compiler(mut self, exe: PathBuf) -> Cache {
        self.compiler = Some(exe);
        self
    }

    fn entry(&self, engine: &Engine, component_sha: &str) -> Option<(PathBuf, PathBuf)> {
        let dir = self.dir.as_ref()?;
        let key = hex(format!(
            "linode-ai hooks cache v2\0{}\0{component_sha}",
            engine_id(engine)
        )
        .as_bytes());
        Some((
            dir.join(format!("{key}.cwasm")),
            dir.join(format!("{key}.json")),
        ))
    }

    /// The component `bytes` (read from `path`), from the cache or compiled.
    /// The compiler child gets these very bytes, never `path` (which may have
    /// changed since: a `--dev` rebuild), so an artifact is always stored
    /// under the hash of what was compiled.
    pub fn load(
        &self,
        engine: &Engine,
        path: &Path,
        bytes: &[u8],
        progress: &dyn Fn(Duration),
    ) -> Result<(Component, LoadKind)> {
        let _ = path; // named in the caller's errors; never read again here
        let sha = hex(bytes);
        if let Some((art, meta)) = self.entry(engine, &sha) {
            if let Some(c) = Self::read_entry(engine, &art, &meta, &sha) {
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&art)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                return Ok((c, LoadKind::Cached));
            }
        }
        let scratch;
        let out = match self.entry(engine, &sha) {
            Some((art, _)) => art.with_extension(format!("tmp.{}", std::process::id())),
            None => {
                scratch = tempfile::tempdir()?;
                scratch.path().join("hook.cwasm")
            }
        };
        let input = tempfile::Builder::new()
            .prefix("linode-ai-hook-")
            .suffix(".wasm")
            .tempfile()
            .context("cannot write the hook for its compiler")?;
        std::fs::write(input.path(), bytes).context("cannot write the hook for its compiler")?;
        compile_in_child(self.compiler.as_deref(), input.path(), &out, progress)?;
        drop(input);
        let artifact_sha256 = hex_file(&out).context("cannot read the compiled hook")?;
        // SAFETY: the child wrote this artifact from this component moments ago with the same
        // engine settings, into a directory only this user can write (or a fresh temp directory).
        let component = unsafe { Component::deserialize_file(engine, &out) }
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .context("the compiled hook cannot be loaded")?;
        if let Some((art, meta)) = self.entry(engine, &sha) {
            let m = Meta {
                component_sha256: sha,
                artifact_sha256,
                engine: engine_id(engine),
            };
            let stored = std::fs::rename(&out, &art)
                .map_err(anyhow::Error::from)
                .and_then(|()| {
                    crate::files::write_private(&meta, serde_json::to_string(&m)?.as_bytes())
                });
            if stored.is_err() {
                let _ = std::fs::remove_file(&art);
            }
            self.evict();
        }
        Ok((component, LoadKind::Compiled))
    }

    /// An entry whose metadata matches the component and the engine, and whose
    /// artifact matches its recorded hash.
    fn read_entry(
        engine: &Engine,
        art: &Path,
        meta: &Path,
        component_sha: &str,
    ) -> Option<Component> {
        let m: Meta = serde_json::from_str(&std::fs::read_to_string(meta).ok()?).ok()?;
        if m.component_sha256 != component_sha || m.engine != engine_id(engine) {
            return None;
        }
        if hex_file(art).ok()? != m.artifact_sha256 {
            return None;
        }
        // SAFETY: the artifact is the one recorded for exactly this component and engine, in a
        // directory only this user can write (so it cannot change between the check and the
        // load but by this user); a load error is a cache miss. Mapping the file (rather than
        // reading it) lets Wasmtime initialise memories copy-on-write from it.
        unsafe { Component::deserialize_file(engine, art) }.ok()
    }

    /// Drops entries unused for 30 days, then the oldest while over 512 MiB.
    fn evict(&self) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut arts: Vec<(PathBuf, SystemTime, u64)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((e.path(), m.modified().ok()?, m.len()))
            })
            .collect();
        arts.sort_by_key(|(_, t, _)| *t);
        let mut total: u64 = arts.iter().map(|(_, _, n)| n).sum();
        let now = SystemTime::now();
        for (p, t, n) in arts {
            let old = now.duration_since(t).is_ok_and(|age| age > CACHE_AGE);
            if old || total > CACHE_LIMIT {
                let _ = std::fs::remove_file(&p);
                let _ = std::fs::remove_file(p.with_extension("json"));
                total -= n;
            }
        }
    }
}

/// Runs `linode-ai __compile-hook` with bounds; reports progress while it works.
fn compile_in_child(
    exe: Option<&Path>,
    input: &Path,
    output: &Path,
    progress: &dyn Fn(Duration),
) -> Result<()> {
    let exe = match exe {
        Some(e) => e.to_path_buf(),
        None => std::env::current_exe()
            .context("cannot find the linode-ai executable to compile the hook")?,
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("__compile-hook")
        .arg(input)
        .arg(output)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let cpu = COMPILE_DEADLINE.as_secs() * 2;
        // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let set = |res, n: u64| {
                    let l = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    libc::setrlimit(res, &l)
                };
                set(libc::RLIMIT_AS, COMPILE_MEMORY);
                set(libc::RLIMIT_CPU, cpu);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().context("cannot start the hook compiler")?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                use std::io::Read;
                let _ = (&mut s).take(4096).read_to_string(&mut err);
            }
            if status.success() {
                return Ok(());
            }
            let _ = std::fs::remove_file(output);
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(sig) = status.signal() {
                    bail!(
                        "compiling it was stopped (signal {sig}): it needs more than {} GiB or {} s of CPU",
                        COMPILE_MEMORY >> 30,
                        COMPILE_DEADLINE.as_secs() * 2
                    );
                }
            }
            let err = err
                .trim()
                .strip_prefix("error: ")
                .unwrap_or(err.trim())
                .to_string();
            bail!(
                "{}",
                crate::sanitize::block(&crate::sanitize::cut(&err, 1500))
            );
        }
        if started.elapsed() > COMPILE_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(output);
            bail!(
                "compiling it took longer than {} s and was stopped",
                COMPILE_DEADLINE.as_secs()
            );
        }
        progress(started.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `__compile-hook` child: reads the component, checks its interface,
/// compiles it with the shared engine settings, writes the native code.
pub fn compile_main(input: &Path, output: &Path) -> Result<()> {
    let file = crate::files::open_regular(input, "hook component")?;
    let mut bytes = Vec::new();
    {
        use std::io::Read;
        file.take(COMPONENT_LIMIT + 1).read_to_end(&mut bytes)?;
    }
    if bytes.len() as u64 > COMPONENT_LIMIT {
        bail!("it is larger than {} MiB", COMPONENT_LIMIT >> 20);
    }
    super::interface::detect(&bytes)?;
    let engine = super::engine()?;
    let data = engine
        .precompile_component(&bytes)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .context("not a valid WebAssembly component")?;
    let tmp = output.with_extension("partial");
    std::fs::write(&tmp, &data)?;
    std::fs::rename(&tmp, output)?;
    Ok(())
}
