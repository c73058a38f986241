//! Tests of the engine against oracles that need a system library: they live in `tests/` and
//! run with `cargo test --workspace --features openblas-system` (after
//! `apt-get install libopenblas-dev`). Without the feature this crate is empty.
