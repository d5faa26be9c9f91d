#!/usr/bin/env bash
# Checks that the library builds with the oldest Rust that Cargo.toml's `rust-version` promises:
# `cargo check --lib`, default features and `--features tokio`. Only the library: the tests,
# benches and examples use newer Rust (`Waker::noop`, 1.85) and dev-dependencies that need it.
#
# The committed Cargo.lock is resolved for the newest Rust, so this resolves a lockfile of its own
# in a copy of the crate, with Cargo's MSRV-aware resolver (the newest version of each dependency
# that supports our `rust-version`, as `cargo update` does for a user on that toolchain).
# Installs the toolchain with rustup when it is missing; where it cannot be fetched it prints a
# loud SKIPPED line and exits 0, as scripts/miri.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."

MSRV="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
[ -n "$MSRV" ] || { echo "msrv.sh: no rust-version in Cargo.toml" >&2; exit 1; }

skip() {
    echo "=================================================================="
    echo "SKIPPED: MSRV check ($MSRV) did not run: $1"
    echo "=================================================================="
    exit 0
}

command -v rustup >/dev/null 2>&1 || skip "rustup is not installed"
if ! rustc "+$MSRV" --version >/dev/null 2>&1; then
    echo "msrv.sh: installing toolchain $MSRV"
    rustup toolchain install "$MSRV" --profile minimal \
        || skip "toolchain not installable"
fi
echo "msrv.sh: $(rustc "+$MSRV" --version)"

# A copy of the crate's files (tracked and new, not ignored), so the lockfile resolved here never
# touches the committed one.
out="${CARGO_TARGET_DIR:-target}/msrv"
copy="$out/crate"
rm -rf "$copy"
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard \
    | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$copy"
export CARGO_TARGET_DIR="$(cd "$out" && pwd)/target"
cd "$copy"

# The current cargo (1.84 or newer) picks, for every dependency, the newest version whose own
# rust-version admits ours; `fallback` takes the newest version when none does, and the check
# below then says so.
CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo generate-lockfile
echo "msrv.sh: cargo +$MSRV check --lib"
cargo "+$MSRV" check --lib --locked
echo "msrv.sh: cargo +$MSRV check --lib --features tokio"
cargo "+$MSRV" check --lib --locked --features tokio
