#!/usr/bin/env bash
# Runs the unit tests and the wait-group, timeout, semaphore, error-group, fan-out,
# rate-limiter, single-flight and worker-pool tests under Miri (nightly).
# Installs the nightly toolchain and the miri component with rustup when they are missing; where
# they cannot be fetched it prints a loud SKIPPED line and exits 0, so Miri never blocks CI.
# Timer-based tests that Miri cannot run are marked #[cfg_attr(miri, ignore)] in the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLCHAIN="${MIRI_TOOLCHAIN:-nightly}"

skip() {
    echo "=================================================================="
    echo "SKIPPED: Miri did not run: $1"
    echo "=================================================================="
    exit 0
}

command -v rustup >/dev/null 2>&1 || skip "rustup is not installed"
if ! cargo "+$TOOLCHAIN" miri --version >/dev/null 2>&1; then
    echo "miri.sh: installing toolchain $TOOLCHAIN with miri and rust-src"
    rustup toolchain install "$TOOLCHAIN" --profile minimal --component miri,rust-src \
        || skip "could not install the $TOOLCHAIN toolchain with miri"
    cargo "+$TOOLCHAIN" miri --version >/dev/null 2>&1 || skip "cargo miri is not usable"
fi
echo "miri.sh: $(cargo "+$TOOLCHAIN" miri --version)"
cargo "+$TOOLCHAIN" miri setup

# Miri's isolation hides the clock and the OS from the program; the timer tests are ignored
# under Miri. The runtimes need the host clock; their pool threads outlive the tests (leaks).
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation -Zmiri-ignore-leaks}"
# A separate target dir keeps Miri's build from invalidating the normal one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri"

echo "miri.sh: unit tests"
cargo "+$TOOLCHAIN" miri test --lib
echo "miri.sh: wait-group, timeout and auto-trait tests"
cargo "+$TOOLCHAIN" miri test --test wait_group --test wait_group_props --test auto_traits
echo "miri.sh: semaphore tests"
cargo "+$TOOLCHAIN" miri test --test semaphore --test semaphore_props
echo "miri.sh: hostile wakers and racing misuse (issue 14)"
cargo "+$TOOLCHAIN" miri test --test hostile_wakers
echo "miri.sh: error-group and cancel-token tests"
cargo "+$TOOLCHAIN" miri test --test err_group --test err_group_props --test local_err_group
echo "miri.sh: fan-out tests"
cargo "+$TOOLCHAIN" miri test --test fan_out --test fan_out_props
# The reservation core's property tests run with the unit tests above (`--lib`).
echo "miri.sh: rate-limiter tests (the timer tests are ignored)"
cargo "+$TOOLCHAIN" miri test --test rate_limit
echo "miri.sh: single-flight tests"
cargo "+$TOOLCHAIN" miri test --test single_flight --test single_flight_props
echo "miri.sh: worker-pool tests (the shutdown tests, which need a timer, are ignored)"
cargo "+$TOOLCHAIN" miri test --test pool --test pool_props
