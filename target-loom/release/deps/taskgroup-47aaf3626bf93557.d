/work/wt-local/target-loom/release/deps/taskgroup-47aaf3626bf93557.d: src/lib.rs src/cancel.rs src/err_group/mod.rs src/err_group/local.rs src/fan_out/mod.rs src/fan_out/ordered.rs src/fan_out/spawned.rs src/fan_out/try_unordered.rs src/fan_out/unordered.rs src/fan_out/with.rs src/in_flight.rs src/notify.rs src/rate_limit/mod.rs src/rate_limit/gcra.rs src/rate_limit/loom_models.rs src/semaphore/mod.rs src/semaphore/engine.rs src/supervise.rs src/sync.rs src/wait_group.rs

/work/wt-local/target-loom/release/deps/taskgroup-47aaf3626bf93557: src/lib.rs src/cancel.rs src/err_group/mod.rs src/err_group/local.rs src/fan_out/mod.rs src/fan_out/ordered.rs src/fan_out/spawned.rs src/fan_out/try_unordered.rs src/fan_out/unordered.rs src/fan_out/with.rs src/in_flight.rs src/notify.rs src/rate_limit/mod.rs src/rate_limit/gcra.rs src/rate_limit/loom_models.rs src/semaphore/mod.rs src/semaphore/engine.rs src/supervise.rs src/sync.rs src/wait_group.rs

src/lib.rs:
src/cancel.rs:
src/err_group/mod.rs:
src/err_group/local.rs:
src/fan_out/mod.rs:
src/fan_out/ordered.rs:
src/fan_out/spawned.rs:
src/fan_out/try_unordered.rs:
src/fan_out/unordered.rs:
src/fan_out/with.rs:
src/in_flight.rs:
src/notify.rs:
src/rate_limit/mod.rs:
src/rate_limit/gcra.rs:
src/rate_limit/loom_models.rs:
src/semaphore/mod.rs:
src/semaphore/engine.rs:
src/supervise.rs:
src/sync.rs:
src/wait_group.rs:
