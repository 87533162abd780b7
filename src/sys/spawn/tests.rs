//! `spawn` on real children: fds moved, exec errors, bytes passed through.

use super::*;
// The tests read exits the way the supervisor does.
use crate::state::Exit;
use crate::sys::pipe;
use nix::errno::Errno;
use std::io::Read;
use std::os::fd::OwnedFd;

#[test]
fn exec_candidates_follow_execvp() {
    let c = |cmd: &str, path: Option<&str>| -> Vec<String> {
        exec_candidates(cmd.as_bytes(), path.map(str::as_bytes))
            .into_iter()
            .map(|p| String::from_utf8(p).unwrap())
            .collect()
    };
    assert_eq!(c("/bin/sh", Some("/x")), ["/bin/sh"]);
    assert_eq!(c("./run", Some("/x")), ["./run"]);
    assert_eq!(c("sh", Some("/a:/b/")), ["/a/sh", "/b//sh"]);
    assert_eq!(c("sh", Some("/a::/b")), ["/a/sh", "sh", "/b/sh"]);
    assert_eq!(
        c("sh", None),
        ["/usr/local/bin/sh", "/bin/sh", "/usr/bin/sh"]
    );
    assert!(c("", Some("/a")).is_empty());
    let long = format!("/{}", "d".repeat(5000));
    assert_eq!(c("sh", Some(&format!("{long}:/a"))), ["/a/sh"]);
    let many = vec!["/a"; 10_000].join(":");
    assert_eq!(c("sh", Some(&many)).len(), MAX_PATH_ENTRIES);
}

#[test]
fn ids_switch_whatever_differs() {
    let user = |uid, gid, groups| Creds { uid, gid, groups };
    // `user = "0:5"` as root: the uid is tend's, the gid is not.
    assert_eq!(
        Ids::to_switch(user(0, 5, &[5]), [0; 3], [0; 3], &[0]),
        Ids {
            groups: Some(vec![5]),
            gid: Some(5),
            uid: None
        }
    );
    // Already exactly that user (tend not root): nothing to do.
    assert_eq!(
        Ids::to_switch(
            user(1000, 1000, &[1000, 27]),
            [1000; 3],
            [1000; 3],
            &[27, 1000]
        ),
        Ids::default()
    );
    // Another user: everything.
    assert_eq!(
        Ids::to_switch(user(65534, 65534, &[65534]), [0; 3], [0; 3], &[0]),
        Ids {
            groups: Some(vec![65534]),
            gid: Some(65534),
            uid: Some(65534)
        }
    );
    // A saved uid of root left behind would be a way back: switch.
    assert_eq!(
        Ids::to_switch(user(1000, 1000, &[]), [1000, 1000, 0], [1000; 3], &[]).uid,
        Some(1000)
    );
}

/// Waits for `pid` (a child spawned by `spawn`, not by Command) and
/// decodes its status.
fn wait_pid(pid: i32) -> Exit {
    let mut status = 0;
    // SAFETY: waitpid writes one int to the pointer given.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid: {}", Errno::last());
    Exit::from_wait_status(status).expect("an exit")
}

/// `fd` moved to a free number at or above `min`.
fn fd_at_least(fd: OwnedFd, min: i32) -> OwnedFd {
    let moved = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(min)).unwrap();
    // SAFETY: a new fd that nothing else owns.
    unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(moved) }
}

/// notification-fd equal to the number a listen socket has in tend:
/// the pipe's dup2 used to close the socket before it was moved, and
/// the child got the pipe on fd 3.
#[test]
fn moves_survive_a_source_that_is_another_moves_target() {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let sock = fd_at_least(sock, 200);
    let (_nr, nw) = pipe(false).unwrap();
    let (out_r, out_w) = pipe(false).unwrap();
    let n = sock.as_raw_fd();
    let script = format!(
        "for f in 3 {n}; do stat -L -c %F /proc/$$/fd/$f; done; \
         [ -e /proc/$$/fd/{} ] && echo leaked",
        n + 1
    );
    let argv = ["/bin/sh".into(), "-c".into(), script.into()];
    let mask = SigSet::empty();
    let mut s = Spawn::new(&argv, &mask);
    s.stdio = [None, Some(out_w.as_raw_fd()), None];
    s.extra_fd = Some((nw.as_raw_fd(), n));
    let listen = [n];
    s.listen_fds = &listen;
    let child = spawn(&s).unwrap();
    assert!(child.exec_err.is_none());
    drop(out_w);
    let mut out = String::new();
    std::fs::File::from(out_r).read_to_string(&mut out).unwrap();
    assert_eq!(wait_pid(child.pid), Exit::Code(1));
    assert_eq!(out, "socket\nfifo\n", "fd 3, then fd {n}");
}

/// Arguments and values are bytes on Linux: a child gets them as they
/// are, not UTF-8-mangled (issue 9, defect 23).
#[test]
fn spawn_passes_arguments_and_variables_as_bytes() {
    use std::os::unix::ffi::OsStringExt;
    let odd = OsString::from_vec(b"caf\xe9 \xff".to_vec());
    let argv: [OsString; 5] = [
        "/bin/sh".into(),
        "-c".into(),
        "printf '%s|%s' \"$1\" \"$V\"".into(),
        "sh".into(),
        odd.clone(),
    ];
    let env = [("V".to_string(), Some(odd))];
    let (out_r, out_w) = pipe(false).unwrap();
    let mask = SigSet::empty();
    let mut s = Spawn::new(&argv, &mask);
    s.env = &env;
    s.stdio = [None, Some(out_w.as_raw_fd()), None];
    let child = spawn(&s).unwrap();
    drop(out_w);
    let mut out = Vec::new();
    std::fs::File::from(out_r).read_to_end(&mut out).unwrap();
    assert_eq!(wait_pid(child.pid), Exit::Code(0));
    assert_eq!(out, b"caf\xe9 \xff|caf\xe9 \xff");
}

#[test]
fn spawn_reports_127_and_126_on_the_childs_path() {
    let dir = std::env::temp_dir().join(format!("tend-sys-path-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("tend-unit-cmd");
    std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    let mask = SigSet::empty();
    let run = |cmd: &str, path: &str| {
        let argv = [cmd.into()];
        let env = [("PATH".to_string(), Some(path.into()))];
        let mut s = Spawn::new(&argv, &mask);
        s.env = &env;
        let child = spawn(&s).unwrap();
        let err = child.exec_err.map(|e| e.raw_os_error());
        (wait_pid(child.pid), err)
    };
    let d = dir.display().to_string();
    assert_eq!(
        run("tend-unit-cmd", &d),
        (Exit::Code(126), Some(Some(libc::EACCES)))
    );
    assert_eq!(
        run("tend-unit-none", &d),
        (Exit::Code(127), Some(Some(libc::ENOENT)))
    );
    // The child's PATH, not the test's: `true` is found only there.
    assert_eq!(
        run("true", &format!("{d}:/bin:/usr/bin")),
        (Exit::Code(0), None)
    );
    assert_eq!(run("true", &d).0, Exit::Code(127));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What fds `pid` has open, each with what it names (readlink).
fn fds_of(pid: i32) -> std::collections::BTreeMap<i32, String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            Some((fd, std::fs::read_link(e.path()).ok()?.display().to_string()))
        })
        .collect()
}

/// A child gets exactly its stdio, its notification-fd, its sockets and
/// the fds tend inherited without close-on-exec: none of the hundreds of
/// fds tend holds, whether it copies only tend's low slots (up to `SLOTS`
/// fds to pass) or the whole table (more). And no slot keeps what it
/// passed: once the child is gone, the pipe it wrote to reads EOF.
#[test]
fn a_child_gets_exactly_its_fds_and_none_of_tends() {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    slots::reserve();
    // Hundreds of fds of "tend", all close-on-exec, as tend's are.
    let many: Vec<(OwnedFd, OwnedFd)> = (0..300).map(|_| pipe(false).unwrap()).collect();
    let inherited: Vec<i32> = fds_of(std::process::id() as i32)
        .into_keys()
        .filter(|&fd| fd > 2)
        // SAFETY: F_GETFD only reads the flags of an fd number.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } == 0)
        .collect();
    // An fd opened later without close-on-exec (tend has none): shows
    // which path a child took. Only a full copy passes it on.
    let late = nix::fcntl::fcntl(&many[0].0, nix::fcntl::FcntlArg::F_DUPFD(900)).unwrap();
    // SAFETY: a new fd that nothing else owns.
    let late = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(late) };
    for sockets in [2, slots::SLOTS] {
        let socks: Vec<OwnedFd> = (0..sockets)
            .map(|_| {
                let s = socket(
                    AddressFamily::Unix,
                    SockType::Stream,
                    SockFlag::SOCK_CLOEXEC,
                    None,
                )
                .unwrap();
                fd_at_least(s, 700)
            })
            .collect();
        let (out_r, out_w) = pipe(false).unwrap();
        let (_nr, nw) = pipe(false).unwrap();
        let argv = ["/bin/sleep".into(), "1000".into()];
        let mask = SigSet::empty();
        let mut s = Spawn::new(&argv, &mask);
        s.stdio = [None, Some(out_w.as_raw_fd()), Some(out_w.as_raw_fd())];
        s.extra_fd = Some((nw.as_raw_fd(), 40));
        let listen: Vec<RawFd> = socks.iter().map(|s| s.as_raw_fd()).collect();
        s.listen_fds = &listen;
        let child = spawn(&s).unwrap();
        assert!(child.exec_err.is_none());
        let seen = fds_of(child.pid);
        let mine = fds_of(std::process::id() as i32);
        let mut want: Vec<i32> = [0, 1, 2, 40].into();
        want.extend(3..3 + sockets as i32);
        want.extend(&inherited);
        want.sort_unstable();
        want.dedup();
        let got: Vec<i32> = seen.keys().copied().collect();
        // The tests run on many threads: one may hold an fd without
        // close-on-exec at the moment of the clone, which the child then
        // has too (tend, on one thread, has none). So: every fd it should
        // have, none of "tend's", and `late` only from a full copy.
        assert!(
            want.iter().all(|fd| got.contains(fd)),
            "{sockets} sockets: {got:?}, want {want:?}"
        );
        let tends: Vec<i32> = (many.iter())
            .flat_map(|(r, w)| [r.as_raw_fd(), w.as_raw_fd()])
            .chain(listen.iter().copied())
            .chain([out_r.as_raw_fd(), out_w.as_raw_fd(), nw.as_raw_fd()])
            .filter(|fd| !want.contains(fd))
            .collect();
        assert!(
            got.iter().all(|fd| !tends.contains(fd)),
            "{sockets} sockets: the child has one of tend's fds: {got:?}"
        );
        assert_eq!(got.contains(&late.as_raw_fd()), sockets > 2, "{got:?}");
        assert_eq!(seen[&0], "/dev/null");
        assert_eq!(seen[&1], mine[&out_w.as_raw_fd()]);
        assert_eq!(seen[&2], mine[&out_w.as_raw_fd()]);
        assert_eq!(seen[&40], mine[&nw.as_raw_fd()]);
        for (i, fd) in listen.iter().enumerate() {
            assert_eq!(seen[&(3 + i as i32)], mine[fd]);
        }
        // SAFETY: kill(2) of the child this test started.
        unsafe { libc::kill(child.pid, libc::SIGKILL) };
        assert_eq!(wait_pid(child.pid), Exit::Signal(libc::SIGKILL));
        drop(out_w);
        let mut rest = Vec::new();
        std::fs::File::from(out_r).read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
    drop((many, late));
}
