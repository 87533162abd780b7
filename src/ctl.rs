//! The `tend ctl` / `tendctl` client. The control socket is not built yet:
//! every verb answers that, with the client's exit code for "no supervisor".

pub fn run(args: &[String]) -> i32 {
    if args.is_empty() {
        eprintln!("usage: tend ctl VERB [ARGS...]");
        return 2;
    }
    eprintln!("tend: ctl: the control socket is not available in this version");
    1
}
