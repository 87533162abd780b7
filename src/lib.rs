//! tend: a small static PID-1 init and process supervisor for
//! multi-service containers. The contract is SPEC.md; the layout:
//!
//! - `config`: durations, signals, `service.toml` (toml + serde), users (pure);
//! - `options`: the command line and its environment fallbacks (pure);
//! - `scan`: service directories -> specs (file reading, validation);
//! - `unit`, `unit_scan`: systemd units -> specs (a pure parser, and its I/O edge);
//!   `unit_exec`: tend as the runner of a unit's command lists (ExecStartPre=, ExecStop=, ...);
//! - `state`: one service's life as a pure state machine;
//! - `supervisor`: the event loop that carries out the state machine's actions, one
//!   module per concern (phases, readiness, sockets, output, reload, verbs);
//! - `ready`: readiness channels (sd_notify, tcp checks);
//! - `logs`: service output pipes, prefixing, write queues;
//! - `control`, `proto`: the control socket and its protocol (pure);
//! - `sys`: the syscalls with policy-free wrappers, knowing no domain type: signals,
//!   sockets, pipes, poll (`mod.rs`), spawning (`spawn`), reaping and killing (`procs`);
//! - `ctl`: the `tend ctl` client; `systemctl`: the same, as systemctl;
//! - `log`: tend's own messages on stderr.

pub mod config;
pub mod control;
pub mod ctl;
pub mod log;
pub mod logs;
pub mod options;
pub mod order;
pub mod proto;
pub mod ready;
pub mod scan;
pub mod spec;
pub mod state;
pub mod supervisor;
pub mod sys;
pub mod systemctl;
pub mod unit;
pub mod unit_exec;
pub mod unit_map;
pub mod unit_scan;
