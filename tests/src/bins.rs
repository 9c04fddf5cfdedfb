//! Where the binaries under test are: `vswitchd` and `vsctl` next to the test
//! executable (`target/<profile>/`, the test itself lives in
//! `target/<profile>/deps/`), `dpdk-testpmd` on `$PATH` or in `$DPDK_TESTPMD`.
use std::path::{Path, PathBuf};

/// Environment variable naming the dpdk-testpmd binary to use.
pub const TESTPMD_ENV: &str = "DPDK_TESTPMD";

/// The `vswitchd` binary of this build.
pub fn vswitchd() -> PathBuf {
    built_binary("vswitchd")
}

/// The `vsctl` binary of this build.
pub fn vsctl() -> PathBuf {
    built_binary("vsctl")
}

/// The dpdk-testpmd binary: `$DPDK_TESTPMD`, else `dpdk-testpmd` on `$PATH`.
pub fn testpmd() -> PathBuf {
    if let Some(path) = std::env::var_os(TESTPMD_ENV) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "${TESTPMD_ENV}={} is not a file", path.display());
        return path;
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .map(|dir| dir.join("dpdk-testpmd"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("dpdk-testpmd not found on $PATH (install the dpdk package: scripts/setup.sh) or set ${TESTPMD_ENV}")
        })
}

/// `target/<profile>/<name>`, found from the running test executable.
fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("cannot find the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("test executable {} is not in target/<profile>/deps/", exe.display()));
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run cargo build --release --workspace --bins first (scripts/setup.sh does; \
         without --release when the tests run in the debug profile)",
        path.display()
    );
    path
}
