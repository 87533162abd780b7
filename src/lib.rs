//! tend: a small static PID-1 init and process supervisor for
//! multi-service containers. The contract is SPEC.md; the layout:
//!
//! - `config`: options, durations, signals, `service.toml` (toml + serde), users (pure);
//! - `scan`: service directories -> specs (file reading, validation);
//! - `state`: one service's life as a pure state machine;
//! - `supervisor`: the event loop that carries out the state machine's actions, one
//!   module per concern (phases, readiness, sockets, output, reload, verbs);
//! - `ready`: readiness channels (sd_notify, tcp checks);
//! - `logs`: service output pipes, prefixing, write queues;
//! - `control`, `proto`: the control socket and its protocol (pure);
//! - `sys`: spawning, reaping, killing, sockets: the syscalls with policy-free wrappers;
//! - `ctl`: the `tend ctl` client;
//! - `log`: tend's own messages on stderr.

pub mod config;
pub mod control;
pub mod ctl;
pub mod log;
pub mod logs;
pub mod proto;
pub mod ready;
pub mod scan;
pub mod state;
pub mod supervisor;
pub mod sys;
pub mod unit;
