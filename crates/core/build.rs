//! With the `openblas-system` feature, checks that the system's OpenBLAS can be found before
//! the linker fails with "cannot find -lopenblas", and says how to install it.

use std::{env, path::Path};

fn main() {
    println!("cargo:rerun-if-env-changed=OPENBLAS_LIB_DIR");
    println!("cargo:rerun-if-env-changed=BATCHPROP_SKIP_OPENBLAS_CHECK");
    if env::var_os("CARGO_FEATURE_OPENBLAS_SYSTEM").is_none()
        || env::var_os("BATCHPROP_SKIP_OPENBLAS_CHECK").is_some()
        || env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux")
    {
        return;
    }
    if pkg_config::Config::new()
        .cargo_metadata(false)
        .probe("openblas")
        .is_ok()
    {
        return;
    }
    let dirs = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
        "/opt/OpenBLAS/lib",
    ];
    let extra = env::var("OPENBLAS_LIB_DIR").ok();
    if let Some(dir) = &extra {
        println!("cargo:rustc-link-search=native={dir}");
    }
    let found = dirs
        .iter()
        .copied()
        .chain(extra.as_deref())
        .any(|d| Path::new(d).join("libopenblas.so").exists() || Path::new(d).join("libopenblas.a").exists());
    if !found {
        panic!(
            "\n\nbatchprop's `openblas-system` feature links the system's OpenBLAS, and none was found \
             (no pkg-config entry for `openblas`, no libopenblas.so in {dirs:?}).\n\
             Install it:   apt-get install libopenblas-dev     (Debian, Ubuntu)\n\
             \x20             dnf install openblas-devel         (Fedora)\n\
             or build without the feature: the engine's own kernels need nothing.\n\
             If OpenBLAS is installed elsewhere, set OPENBLAS_LIB_DIR to its directory \
             (or BATCHPROP_SKIP_OPENBLAS_CHECK=1 to skip this check).\n"
        );
    }
}
