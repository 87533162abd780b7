//! tend's integration tests: one test binary (so the harness is compiled
//! once), one module per topic. Each test runs the real `tend` as PID 1 of a
//! fresh PID namespace (see `harness`), so it needs `unshare(1)` and either
//! root or unprivileged user namespaces.
//!
//! Run them with `cargo test --test it`.

mod harness;

mod ctl;
mod daemons;
mod docker;
mod faults;
mod hostile;
mod hostile_input;
mod initfinish;
mod lifecycle;
mod logs;
mod maincmd;
mod manager;
mod pid1;
mod podman;
mod ready;
mod real_services;
mod reaping;
mod reload;
mod restart;
mod scan_errors;
mod shutdown;
mod signals;
mod sockets;
mod subreaper;
mod sysfaults;
mod templates;
mod unit_hostile;
mod units;
mod usage;
mod user;
