//! Shared fixtures for swallowtail's criterion benchmarks (`cargo bench -p benches`).
