//! systemd unit files (SPEC §8), pure: text in, plain values out.

pub mod common;
pub mod exec;
pub mod parse;
pub mod process;
pub mod service;
pub mod socket;
pub mod spec;
pub mod value;

/// User text quoted in an error, cut to a readable length (a hostile line
/// may be a megabyte long).
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
