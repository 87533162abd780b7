//! A service's output as the loop sees it: the stdout and stderr pipes it
//! keeps for the service's whole life, prefixed into tend's own output or
//! (stdout) handed to the `log/` service. The line splitting, prefixing
//! and write queues themselves are `crate::logs`.

use super::*;

/// One service's output pipes.
pub(super) struct Pipes {
    /// `NAME | `, or empty when output is not prefixed.
    pub prefix: String,
    /// To tend (prefixing) or, for stdout, to the `log/` service.
    pub stdout: Option<Pipe>,
    pub stderr: Option<Pipe>,
    /// For a logger: the index of the service it reads.
    pub feeds: Option<usize>,
    /// Has a logger reading its stdout.
    pub has_log: bool,
    /// A unit's output files (`StandardOutput=`, `StandardError=`), opened
    /// at each start: they replace the pipes for all its processes.
    pub files: [Option<OwnedFd>; 2],
}

impl Pipes {
    pub fn new(spec: &ServiceSpec, prefixing: bool) -> Pipes {
        // Loggers write where they like, unprefixed.
        let prefix = if prefixing && spec.logger_of.is_none() {
            format!("{} | ", spec.name)
        } else {
            String::new()
        };
        Pipes {
            prefix,
            stdout: None,
            stderr: None,
            feeds: None,
            has_log: false,
            files: [None, None],
        }
    }

    /// tend itself reads this service's stdout pipe: it has one (prefixed,
    /// or it had a logger once) and no logger reads it now.
    pub fn reads_out(&self) -> bool {
        self.stdout.is_some() && !self.has_log
    }

    /// Creates the pipes on first use: stdout when prefixed or feeding a
    /// logger, stderr when prefixed.
    pub fn ensure(&mut self) -> std::io::Result<()> {
        if self.stdout.is_none() && (!self.prefix.is_empty() || self.has_log) {
            self.stdout = Some(Pipe::new(!self.has_log)?);
        }
        if self.stderr.is_none() && !self.prefix.is_empty() {
            self.stderr = Some(Pipe::new(true)?);
        }
        Ok(())
    }

    /// The write ends a child of this service gets as stdout and stderr.
    pub fn out_w(&self) -> Option<RawFd> {
        if let Some(f) = &self.files[0] {
            return Some(f.as_raw_fd());
        }
        self.stdout.as_ref()?.w.as_ref().map(|w| w.as_raw_fd())
    }

    pub fn err_w(&self) -> Option<RawFd> {
        if let Some(f) = &self.files[1] {
            return Some(f.as_raw_fd());
        }
        self.stderr.as_ref()?.w.as_ref().map(|w| w.as_raw_fd())
    }

    /// The pipes tend reads (a logger reads `stdout` itself). While the
    /// queue one feeds is full, the loop parks it (back-pressure).
    pub fn poll(&self, i: usize, add: &mut impl FnMut(RawFd, libc::c_short, Token)) {
        if let Some(p) = self.stdout.as_ref().filter(|_| self.reads_out()) {
            add(p.r.as_raw_fd(), libc::POLLIN, Token::Out(i));
        }
        if let Some(p) = &self.stderr {
            add(p.r.as_raw_fd(), libc::POLLIN, Token::Err(i));
        }
    }
}

impl Supervisor {
    /// Re-resolves `after` and loggers after a reload, and hands each
    /// stdout pipe to its new reader when a `log/` came or went: a logger
    /// gets a blocking read end, tend a non-blocking one. A running service
    /// that wrote straight to tend's stdout is restarted to write into its
    /// new logger's pipe.
    pub(super) fn relink(&mut self, now: Instant) {
        let before: Vec<bool> = self.svcs.iter().map(|s| s.pipes.has_log).collect();
        link(&mut self.svcs);
        for (i, had_log) in before.into_iter().enumerate() {
            let s = &mut self.svcs[i];
            if s.pipes.has_log == had_log {
                continue;
            }
            match &s.pipes.stdout {
                Some(p) => {
                    if let Err(e) = sys::set_nonblocking(&p.r, !s.pipes.has_log) {
                        log::error!("{}: stdout pipe: {e}", s.spec.name);
                    }
                }
                None if s.sm.has_process() => {
                    log::info!("{}: logger added, restarting", s.spec.name);
                    self.feed(i, Event::Restart, now);
                }
                None => {}
            }
        }
    }

    /// Output of service i is waiting: queue its lines, unless the queue
    /// is full and tend's output takes none of it now (then the pipe
    /// waits, parked, for room). Writing first when it does costs one
    /// write; parking costs two epoll_ctl, one now and one to unpark.
    pub(super) fn on_output(&mut self, i: usize, stderr: bool) {
        let out = if stderr {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        if out.full() {
            out.write_now();
        }
        if out.full() {
            self.park(i, stderr);
            return;
        }
        let s = &mut self.svcs[i];
        let (pipe, out) = if stderr {
            (&mut s.pipes.stderr, &mut self.stderr)
        } else {
            (&mut s.pipes.stdout, &mut self.stdout)
        };
        if let Some(pipe) = pipe {
            pipe.drain_into(&s.pipes.prefix, out);
        }
    }

    /// `run` of service i exited: what it wrote is in its pipes; take it,
    /// and end an unfinished last line there rather than glue it to the
    /// next run's first line.
    pub(super) fn end_of_run_output(&mut self, i: usize) {
        // Bounded: only what is in the pipe now, and only what the queue
        // has room for. A process the run left behind may keep writing.
        let s = &mut self.svcs[i];
        if s.pipes.reads_out() {
            if let Some(p) = &mut s.pipes.stdout {
                p.drain_pending(&s.pipes.prefix, &mut self.stdout);
            }
        }
        if let Some(p) = &mut s.pipes.stderr {
            p.drain_pending(&s.pipes.prefix, &mut self.stderr);
        }
    }

    /// On the way out: read what services left in their pipes and write
    /// what is queued, again while the pipes hold more than the queues
    /// took, bounded by a deadline (a stalled reader of tend's stdout must
    /// not keep PID 1 from exiting); what is left in them then is counted
    /// as dropped.
    pub(super) fn flush_output(&mut self) {
        let deadline = Instant::now() + crate::logs::FLUSH_LIMIT;
        loop {
            for i in 0..self.svcs.len() {
                self.end_of_run_output(i);
            }
            let (out, err) = self.unread();
            if out + err == 0 {
                break;
            }
            // Both written, whatever the first did.
            let written = [
                self.stdout.write_by(deadline),
                self.stderr.write_by(deadline),
            ];
            if written.contains(&false) {
                break;
            }
        }
        let (out, err) = self.unread();
        self.stdout.count_dropped(out);
        self.stderr.count_dropped(err);
        self.stderr.push_own(crate::log::take());
        self.stdout.flush_until(deadline);
        self.stderr.flush_blocking();
    }

    /// Bytes left in the pipes tend reads: those to stdout, to stderr.
    fn unread(&self) -> (usize, usize) {
        let waiting = |p: &Option<Pipe>| p.as_ref().map_or(0, Pipe::waiting);
        self.svcs.iter().fold((0, 0), |(out, err), s| {
            let o = if s.pipes.reads_out() {
                waiting(&s.pipes.stdout)
            } else {
                0
            };
            (out + o, err + waiting(&s.pipes.stderr))
        })
    }
}
