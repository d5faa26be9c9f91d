/work/wt-local/target-loom/release/deps/parking-3b227fbe7efbbf37.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parking-2.2.1/src/lib.rs

/work/wt-local/target-loom/release/deps/libparking-3b227fbe7efbbf37.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parking-2.2.1/src/lib.rs

/work/wt-local/target-loom/release/deps/libparking-3b227fbe7efbbf37.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parking-2.2.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parking-2.2.1/src/lib.rs:
