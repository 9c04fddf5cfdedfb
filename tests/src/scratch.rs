//! A test's own scratch directory (config, sockets, pcaps, logs) and the
//! unique DPDK `--file-prefix` of each process it starts. The directory is
//! removed when the test passes and kept (and named) when it fails.
use std::path::{Path, PathBuf};

/// Parent of every test's scratch directory.
const ROOT: &str = "/tmp/vsw-e2e";
/// Longest EAL file prefix vswitchd's config accepts.
const MAX_PREFIX: usize = 32;

/// The scratch directory of one test.
pub struct TestDir {
    name: String,
    path: PathBuf,
}

impl TestDir {
    /// Creates an empty `/tmp/vsw-e2e/<name>-<pid>`.
    pub fn new(name: &str) -> TestDir {
        let name: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
        let path = Path::new(ROOT).join(format!("{name}-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).unwrap_or_else(|e| panic!("cannot clear {}: {e}", path.display()));
        }
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TestDir { name, path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, file: &str) -> PathBuf {
        self.path.join(file)
    }

    /// A DPDK `--file-prefix` unique to this test, this process and `role`
    /// (e.g. "vs" for vswitchd, "vm" for testpmd): `<role>-<test>-<pid>`,
    /// the test name shortened to fit 32 characters.
    pub fn file_prefix(&self, role: &str) -> String {
        self.unique_name(role, MAX_PREFIX)
    }

    /// A name unique to this test, this process and `role` for things the test creates
    /// outside its directory (network namespaces, kernel interfaces): `<role>-<test>-<pid>`,
    /// the test name shortened to fit `max_len` characters.
    pub fn unique_name(&self, role: &str, max_len: usize) -> String {
        let pid = std::process::id().to_string();
        let room = max_len.saturating_sub(role.len() + pid.len() + 2);
        let name: String = self.name.chars().take(room).collect();
        format!("{role}-{name}-{pid}")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test files kept in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Where DPDK keeps the runtime files of the process with `prefix` (as root).
pub fn runtime_dir(prefix: &str) -> PathBuf {
    Path::new("/var/run/dpdk").join(prefix)
}

/// Files DPDK left in the runtime directory of `prefix`.
pub fn runtime_files(prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(runtime_dir(prefix)) else { return Vec::new() };
    entries.filter_map(Result::ok).map(|entry| entry.path()).collect()
}

/// Removes what DPDK left for `prefix` once its process has exited: the
/// runtime directory (EAL creates it even with --in-memory and does not
/// remove it) and any hugepage files. The prefix is unique to one process of
/// one test, so nothing else can be using them.
pub fn remove_dpdk_leftovers(prefix: &str) {
    let _ = std::fs::remove_dir_all(runtime_dir(prefix));
    for file in hugepage_files(prefix) {
        let _ = std::fs::remove_file(file);
    }
}

/// Hugepage files DPDK left for `prefix` in /dev/hugepages.
pub fn hugepage_files(prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/dev/hugepages") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(prefix))
        .map(|entry| entry.path())
        .collect()
}
