//! Entry point: `tend [OPTIONS] [--] [COMMAND...]` supervises; `tend ctl`
//! (or the binary invoked as `tendctl`) is the client; `tend verify`
//! checks a services dir; invoked as `systemctl`, systemd's client verbs. Reads as a list of
//! phases: parse arguments, set up logging, scan services, become a reaper,
//! take over signals, run the loop, exit with its code.

use std::path::Path;
use tend::options::{self, Invocation, Options};
use tend::{ctl, log as tlog, scan, supervisor, sys, systemctl, unit_exec};

fn main() {
    // Panic policy: tend is written never to panic (no unwrap on input from
    // outside; every (state, event) pair handled). Should a bug panic all
    // the same, PID 1 must not limp on with half-updated state, nor die of
    // an opaque SIGABRT: it says what happened on stderr, in one line, and
    // exits 70 (EX_SOFTWARE), which ends the container visibly.
    std::panic::set_hook(Box::new(|info| {
        use std::io::Write as _;
        let msg = info.payload_as_str().unwrap_or("panic");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(std::io::stderr(), "tend: BUG: {msg}{at}; exiting 70");
        sys::exit_now(70);
    }));
    // Options are read from a lossy copy (a non-UTF-8 argument must not
    // make PID 1 panic); the main command gets its arguments' bytes as
    // given, as tini passes them.
    let raw: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let argv0 = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let args: Vec<String> = raw
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // A unit's command lists, run by tend as a child of a service.
    if args.first().map(String::as_str) == Some(unit_exec::FLAG) {
        std::process::exit(unit_exec::run(&args[1..]));
    }
    match Path::new(&argv0).file_name().and_then(|n| n.to_str()) {
        Some("tendctl") => std::process::exit(ctl::run(&args)),
        Some("systemctl") => std::process::exit(systemctl::run(&args)),
        _ => {}
    }
    let code = match options::parse_args(&args, &|k| std::env::var(k).ok()) {
        Err(e) => {
            eprintln!("tend: {e}\n{}", options::USAGE);
            2
        }
        Ok(Invocation::Help) => {
            println!("{}", options::USAGE);
            0
        }
        Ok(Invocation::Version) => {
            println!("tend {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Invocation::Ctl(a)) => ctl::run(&a),
        Ok(Invocation::Verify(o)) => verify(&o),
        Ok(Invocation::Supervise(mut o)) => {
            // The command is always the tail of the arguments.
            let at = raw.len() - o.command.len();
            o.command = raw[at..].to_vec();
            supervise(*o)
        }
    };
    std::process::exit(code);
}

/// `tend verify` (SPEC §1, §8): the supervisor's scan, every problem and
/// every ignored directive on stdout, one line each; exit 1 when a service
/// would be skipped, 2 when the dir cannot be read.
fn verify(opts: &Options) -> i32 {
    let found = match scan::scan_dirs(&opts.services, opts.grace) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("tend verify: {e}");
            return 2;
        }
    };
    for w in &found.warnings {
        println!("warning: {}", tlog::one_line(w));
    }
    for e in &found.errors {
        println!("error: {}", tlog::one_line(e));
    }
    let (run, bad) = (found.specs.len(), found.errors.len());
    println!(
        "{}: {run} services would run, {bad} problems",
        opts.services.display()
    );
    i32::from(bad > 0)
}

fn supervise(opts: Options) -> i32 {
    // First, before anything opens an fd: the sockets tend's own manager
    // handed it (SPEC §7), for services that claim them.
    let inherited = sys::take_listen_fds();
    tend::spec::set_inherited_names(inherited.iter().map(|(n, _)| n.clone()).collect());
    // The one way to exercise the panic policy from a test.
    if std::env::var_os("TEND_TEST_PANIC").is_some() {
        panic!("TEND_TEST_PANIC is set");
    }
    let base = opts.log_level.unwrap_or(log::LevelFilter::Info);
    tlog::init(base);
    // Then, while tend's own fds are few: the low numbers its children's
    // fds are passed on (sys/spawn/slots.rs).
    sys::reserve_low_fds();

    let (specs, errors) = match scan::scan_dirs(&opts.services, opts.grace) {
        Ok(found) => {
            for w in &found.warnings {
                log::warn!("{w}");
            }
            (found.specs, found.errors)
        }
        Err(e) if !opts.services_explicit && !opts.services.exists() => {
            log::debug!("{e}: no services");
            (Vec::new(), Vec::new())
        }
        Err(e) => {
            log::error!("{e}");
            return 2;
        }
    };
    for e in &errors {
        log::error!("{e}");
    }
    if specs.is_empty() && errors.is_empty() && opts.command.is_empty() {
        eprintln!(
            "tend: no services in {} and no command to run\n{}",
            opts.services.display(),
            options::USAGE
        );
        return 2;
    }
    // tini mode (a main command and no services) is quiet: only errors,
    // and the warnings tini's `-w` asks for.
    let mut level = match opts.log_level {
        Some(l) => l,
        None if specs.is_empty() && errors.is_empty() && opts.warn_zombies => {
            log::LevelFilter::Warn
        }
        None if specs.is_empty() && errors.is_empty() => log::LevelFilter::Error,
        None => log::LevelFilter::Info,
    };
    for _ in 0..opts.verbosity {
        level = tlog::louder(level);
    }
    log::set_max_level(level);

    if let Some((was, now)) = sys::raise_nofile() {
        log::debug!("fd limit raised from {was} to {now} (children get {was})");
    }
    if std::process::id() != 1 {
        if let Err(e) = sys::set_child_subreaper() {
            log::warn!("cannot become a child subreaper: {e}; orphans will not be reaped");
        }
    }
    if let Some(sig) = opts.parent_death {
        if let Err(e) = sys::set_parent_death_signal(sig) {
            log::warn!("-p: {e}");
        }
    }
    let mask = match sys::block_signals() {
        Ok(m) => m,
        Err(e) => {
            log::error!("cannot block signals: {e}");
            return 1;
        }
    };
    let sigfd = match sys::signal_fd() {
        Ok(fd) => fd,
        Err(e) => {
            log::error!("cannot create a signalfd: {e}");
            return 1;
        }
    };
    supervisor::Supervisor::new(opts, specs, inherited, mask, sigfd).run()
}
