//! Generates the DPDK bindings against the system DPDK found by pkg-config,
//! plus exported C wrappers for DPDK's `static inline` fast-path functions.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config_cflags() -> Vec<String> {
    // The raw tokens matter: they carry `-include rte_config.h` and
    // `-march=...`, which both bindgen and the C compiler must see.
    let out = Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("pkg-config not found: install pkg-config and libdpdk-dev");
    assert!(
        out.status.success(),
        "pkg-config --cflags libdpdk failed: install libdpdk-dev (Debian: apt-get install libdpdk-dev)"
    );
    String::from_utf8(out.stdout)
        .expect("pkg-config output is not UTF-8")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let header = manifest_dir.join("wrapper.h");
    let cflags = pkg_config_cflags();

    pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .expect("libdpdk >= 22.11 not found by pkg-config");

    let static_fns = out_dir.join("static_fns");
    let bindings = bindgen::Builder::default()
        .header(header.to_str().unwrap())
        .clang_args(&cflags)
        // Only clang's own resource headers: mixing libclang and a different
        // clang's include paths breaks on hosts with several clangs.
        .detect_include_paths(false)
        // What the switch calls, and the types those functions pull in.
        .allowlist_function("rte_(eal|lcore|thread|socket|get_tsc|rdtsc|strerror|exit|dev_|devargs|vdev)_?.*")
        .allowlist_function("rte_(eth|pktmbuf|mbuf|mempool|prefetch|vhost|delay|pause).*")
        .allowlist_function("dpdk_sys_.*")
        .allowlist_var("RTE_(MAX_ETHPORTS|MAX_LCORE|ETH_.*|MBUF_.*|PKTMBUF_.*|MEMPOOL_.*)")
        .allowlist_var("RTE_ETHER_.*|LCORE_ID_ANY|SOCKET_ID_ANY")
        .opaque_type("rte_flow.*|rte_l2tpv2.*|rte_gtp.*")
        .blocklist_function("rte_.*_vprintf|rte_vlog|rte_log_dump|rte_dump_.*")
        .wrap_static_fns(true)
        .wrap_static_fns_path(&static_fns)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .generate()
        .expect("bindgen failed on the DPDK headers");
    bindings.write_to_file(out_dir.join("bindings.rs")).expect("cannot write bindings.rs");

    let mut build = cc::Build::new();
    build
        .file(static_fns.with_extension("c"))
        .file(manifest_dir.join("shim.c"))
        .include(&manifest_dir)
        .opt_level(3)
        .warnings(false);
    for flag in &cflags {
        build.flag(flag);
    }
    build.compile("dpdk_sys_inline");

    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-changed=build.rs");
}
