//! Running a command from tend's unit runner (`unit_exec`, SPEC §8's
//! ExecStartPre= and the like): a process of one thread that is not PID 1,
//! so plain fork and exec serve, unlike `spawn`'s clone for the supervisor.

use std::ffi::OsString;

/// For tend's unit runner (`unit_exec`: one thread, not PID 1): runs
/// `path` with `argv` in this process's group and session, with its
/// environment, and waits for it: its wait status. A failed exec is said
/// on stderr by the child, which exits 127 or 126.
pub fn run_and_wait(path: &std::ffi::OsStr, argv: &[OsString]) -> std::io::Result<i32> {
    let (c_path, c_argv) = exec_args(path, argv)?;
    // SAFETY: the runner has one thread, so the child may do anything.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => {
            let e = exec_c(&c_path, &c_argv);
            eprintln!("tend: cannot run {}: {e}", path.to_string_lossy());
            let code = match e.raw_os_error() {
                Some(libc::ENOENT | libc::ENOTDIR) => 127,
                _ => 126,
            };
            // SAFETY: ends the child without running tend's exit code.
            unsafe { libc::_exit(code) }
        }
        pid => loop {
            let mut status = 0;
            // SAFETY: waits for the child just forked; writes `status`.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid {
                return Ok(status);
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        },
    }
}

/// Replaces this process with `path` (argv as given, this environment,
/// SIGPIPE at its default): returns only the error when it could not.
pub fn exec(path: &std::ffi::OsStr, argv: &[OsString]) -> std::io::Error {
    match exec_args(path, argv) {
        Ok((p, a)) => exec_c(&p, &a),
        Err(e) => e,
    }
}

type CArgs = (std::ffi::CString, Vec<std::ffi::CString>);

fn exec_args(path: &std::ffi::OsStr, argv: &[OsString]) -> std::io::Result<CArgs> {
    use std::os::unix::ffi::OsStrExt;
    let c = |s: &std::ffi::OsStr| {
        std::ffi::CString::new(s.as_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
    };
    let argv = argv.iter().map(|a| c(a)).collect::<Result<_, _>>()?;
    Ok((c(path)?, argv))
}

fn exec_c(path: &std::ffi::CStr, argv: &[std::ffi::CString]) -> std::io::Error {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: NUL-terminated strings and a null-terminated array of them,
    // alive across the call; execv returns only on failure.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::execv(path.as_ptr(), ptrs.as_ptr());
    }
    std::io::Error::last_os_error()
}
