//! tend: a small static PID-1 init and process supervisor for
//! multi-service containers. The contract is SPEC.md; the layout:
//!
//! - `config`: options, durations, signals, `service.toml` (pure parsing);
//! - `scan`: service directories -> specs (file reading, validation);
//! - `state`: one service's life as a pure state machine;
//! - `supervisor`: the event loop that carries out the state machine's actions;
//! - `sys`: every syscall;
//! - `ctl`: the `tend ctl` client;
//! - `log`: tend's own messages on stderr.

pub mod config;
pub mod control;
pub mod ctl;
pub mod log;
pub mod logs;
pub mod minitoml;
pub mod proto;
pub mod ready;
pub mod scan;
pub mod state;
pub mod supervisor;
pub mod sys;
