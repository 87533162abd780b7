//! The control verbs (SPEC §5), answered from the supervisor's state:
//! status tables and JSON, up/down/restart, signal, wait, check.

use super::*;

impl Supervisor {
    // ---- control verbs (SPEC §5) ---------------------------------------

    pub(super) fn answer(&mut self, inc: Incoming, now: Instant) {
        let (code, body) = match inc.request {
            Err(e) => (2, e),
            Ok(req) => match self.verb(req, inc.id, now) {
                Some(reply) => reply,
                None => return, // a waiter answers later
            },
        };
        if let Some(c) = &mut self.control {
            c.reply(inc.id, code, &body);
        }
    }

    /// Indexes of the named services; an unknown name is an error.
    fn lookup(&self, names: &[String]) -> Result<Vec<usize>, String> {
        names
            .iter()
            .map(|n| {
                self.svcs
                    .iter()
                    .position(|s| &s.spec.name == n && !s.removed)
                    .ok_or_else(|| format!("no service named {n:?}"))
            })
            .collect()
    }

    fn verb(&mut self, req: Request, conn: u64, now: Instant) -> Option<(i32, String)> {
        let running = self.phase == Phase::Running;
        let found = match &req {
            Request::Status { names, .. }
            | Request::Up(names)
            | Request::Down(names)
            | Request::Restart(names)
            | Request::Signal { names, .. }
            | Request::Wait { names, .. }
            | Request::Reload(names) => self.lookup(names),
            Request::Check | Request::Shutdown => Ok(Vec::new()),
        };
        let idx = match found {
            Ok(idx) => idx,
            Err(e) => return Some((1, e)),
        };
        let event = match &req {
            Request::Up(_) => Some(Event::Start),
            Request::Down(_) => Some(Event::Stop),
            Request::Restart(_) => Some(Event::Restart),
            _ => None,
        };
        if let Some(ev) = event {
            if !running && ev != Event::Stop {
                return Some((1, "tend is shutting down".into()));
            }
            for &i in &idx {
                // An explicit up, down or restart overrides waiting for
                // the `after` services.
                self.svcs[i].order.held = false;
                self.svcs[i].sockets.listening = false;
                self.feed(i, ev, now);
            }
            // A unit's `PartOf=`, `Requires=` or `BindsTo=` these: stopped
            // with them, or restarted once its `after` services are ready
            // again (systemd orders the restart's start by `After=`).
            if ev != Event::Start {
                let names: Vec<String> = idx
                    .iter()
                    .map(|&i| self.svcs[i].spec.name.clone())
                    .collect();
                self.follow(&names, ev == Event::Restart, now);
            }
            return Some((0, String::new()));
        }
        Some(match req {
            Request::Status { json, .. } => {
                let all: Vec<usize> = if idx.is_empty() {
                    (0..self.svcs.len())
                        .filter(|&i| !self.svcs[i].removed)
                        .collect()
                } else {
                    idx
                };
                (0, self.status(&all, json, now))
            }
            // `signal` to the group of each service's main process;
            // `reload NAME` its reload signal to the main process only (a
            // master such as nginx's replaces its workers itself).
            Request::Signal { signal, .. } => self.send(&idx, Some(signal)),
            Request::Reload(names) if !names.is_empty() => self.send(&idx, None),
            Request::Wait {
                goal,
                names,
                timeout,
            } => {
                self.watch.changed = true;
                self.waiters.push(Waiter {
                    conn,
                    goal,
                    names,
                    deadline: timeout.map(|t| now + t),
                });
                return None;
            }
            Request::Check => self.check(),
            Request::Reload(_) => {
                self.reload(now);
                (0, String::new())
            }
            Request::Shutdown => {
                self.on_signal(libc::SIGTERM, now);
                (0, String::new())
            }
            Request::Up(_) | Request::Down(_) | Request::Restart(_) => (0, String::new()),
        })
    }

    /// `signal` (`Some`) or `reload NAME` (`None`) to services `idx`.
    /// A unit's `ExecReload=` is run instead of the reload signal.
    fn send(&mut self, idx: &[usize], signal: Option<i32>) -> (i32, String) {
        let mut missing = Vec::new();
        for &i in idx {
            let s = &self.svcs[i];
            match (signal, s.run_pid) {
                (Some(sig), Some(pid)) => self.pids.signal_pgid(pid, s.group(), sig),
                (None, Some(_))
                    if s.sm.is_up()
                        && s.spec
                            .unit
                            .as_ref()
                            .is_some_and(|u| u.reload_command.is_some()) =>
                {
                    // One at a time, as systemd merges reload jobs: a
                    // reload asked again while one hangs must not pile up
                    // processes.
                    if let Some(pid) = s.reload_pid {
                        log::info!("{}[{pid}]: ExecReload still running", s.spec.name);
                    } else if !self.spawn_helper(i, false) {
                        missing.push(self.svcs[i].spec.name.clone());
                    }
                }
                (None, Some(pid)) if s.sm.is_up() => {
                    self.pids.signal(pid, s.spec.policy.reload_signal)
                }
                _ => missing.push(s.spec.name.clone()),
            }
        }
        if missing.is_empty() {
            return (0, String::new());
        }
        let not = if signal.is_some() { "running" } else { "up" };
        (1, format!("not {not}: {}", missing.join(", ")))
    }

    fn reached(&self, i: usize, goal: Goal) -> bool {
        let sm = &self.svcs[i].sm;
        match goal {
            Goal::Up => sm.is_up(),
            Goal::Ready => sm.is_up() && sm.ready,
            Goal::Down => matches!(sm.state, State::Down | State::Failed),
        }
    }

    /// Answers the waiters whose goal is reached or whose time is up: only
    /// when something changed, or a waiter's deadline passed.
    pub(super) fn check_waiters(&mut self, now: Instant) {
        let due = self
            .waiters
            .iter()
            .any(|w| w.deadline.is_some_and(|d| d <= now));
        if !(self.watch.any_change() || due || self.phase == Phase::Done) {
            return;
        }
        let mut i = 0;
        while i < self.waiters.len() {
            let w = &self.waiters[i];
            let pending: Vec<String> = w
                .names
                .iter()
                .filter(|n| match self.lookup(std::slice::from_ref(n)) {
                    Ok(idx) => !self.reached(idx[0], w.goal),
                    Err(_) => true,
                })
                .cloned()
                .collect();
            let reply = if pending.is_empty() {
                Some((0, String::new()))
            } else if w.deadline.is_some_and(|d| d <= now) {
                Some((1, format!("timed out waiting for {}", pending.join(", "))))
            } else if self.phase == Phase::Done {
                Some((1, "tend exited".to_string()))
            } else {
                None
            };
            match reply {
                Some((code, body)) => {
                    let w = self.waiters.remove(i);
                    if let Some(c) = &mut self.control {
                        c.reply(w.conn, code, &body);
                    }
                }
                None => i += 1,
            }
        }
    }

    /// `check`: every service that should run is up, and ready if it has a
    /// readiness signal.
    fn check(&self) -> (i32, String) {
        let mut problems = Vec::new();
        if self.phase != Phase::Running {
            problems.push("tend is not running services (starting or shutting down)".to_string());
        }
        for s in self.svcs.iter().filter(|s| s.should_run()) {
            let state = s.state_name();
            if !s.up_and_ready() {
                problems.push(format!("{}: {state}", s.spec.name));
            }
            if let Some(e) = &s.config_error {
                problems.push(format!(
                    "{}: runs on its previous definition: {e}",
                    s.spec.name
                ));
            }
        }
        if problems.is_empty() {
            (0, String::new())
        } else {
            (1, problems.join("\n"))
        }
    }

    fn status(&self, idx: &[usize], json: bool, now: Instant) -> String {
        let mut rows = Vec::new();
        for &i in idx {
            let s = &self.svcs[i];
            let uptime = match s.sm.state {
                State::Up { since }
                | State::Stopping { since, .. }
                | State::Remaining { since } => Some(now.saturating_duration_since(since)),
                _ => None,
            };
            rows.push((s, uptime));
        }
        let errors: Vec<String> = rows
            .iter()
            .filter_map(|(s, _)| {
                let e = s.config_error.as_ref()?;
                Some(format!(
                    "{}: runs on its previous definition: {}\n",
                    s.spec.name,
                    crate::log::one_line(e)
                ))
            })
            .collect();
        // Which sockets each service holds, and where they came from.
        let sockets = |s: &Svc| -> Vec<String> {
            s.spec
                .listen
                .iter()
                .map(|l| match &l.addr {
                    ListenAddr::Inherited(_) => format!("{} (from tend's manager)", l.addr),
                    _ => format!("{} (bound by tend)", l.addr),
                })
                .collect()
        };
        if json {
            let items: Vec<String> = rows
                .iter()
                .map(|(s, up)| {
                    let last = match s.sm.last_exit {
                        None => "null".to_string(),
                        Some(Exit::Code(c)) => format!("{{\"code\":{c}}}"),
                        Some(Exit::Signal(n)) => format!("{{\"signal\":{n}}}"),
                    };
                    let error = s
                        .config_error
                        .as_deref()
                        .map_or("null".to_string(), proto::json_str);
                    let socks: Vec<String> =
                        sockets(s).iter().map(|x| proto::json_str(x)).collect();
                    let socks = socks.join(",");
                    let unit = s.spec.unit.as_ref().map_or("null".to_string(), |u| {
                        let desc = proto::json_str(&u.description);
                        format!("{{\"type\":\"{}\",\"description\":{desc}}}", u.kind)
                    });
                    format!(
                        "{{\"name\":{},\"state\":\"{}\",\"pid\":{},\"ready\":{},\"restarts\":{},\"uptime_ms\":{},\"last_exit\":{last},\"error\":{error},\"sockets\":[{socks}],\"unit\":{unit}}}",
                        proto::json_str(&s.spec.name),
                        s.state_name(),
                        s.run_pid.map_or("null".to_string(), |p| p.to_string()),
                        s.sm.ready,
                        s.sm.restarts,
                        up.map_or(0, |d| d.as_millis()),
                    )
                })
                .collect();
            return format!("[{}]\n", items.join(","));
        }
        // A unit's Type= and Description=, as systemctl status heads it.
        let unit_lines: Vec<String> = (rows.iter())
            .filter_map(|(s, _)| {
                let u = s.spec.unit.as_ref()?;
                let desc = match u.description.as_str() {
                    "" => String::new(),
                    d => format!(", Description={}", crate::log::one_line(d)),
                };
                Some(format!("{}: Type={}{desc}\n", s.spec.name, u.kind))
            })
            .collect();
        let socket_lines: Vec<String> = rows
            .iter()
            .filter(|(s, _)| !s.spec.listen.is_empty())
            .map(|(s, _)| format!("{}: sockets: {}\n", s.spec.name, sockets(s).join(", ")))
            .collect();
        let mut table = vec![[
            "NAME".to_string(),
            "STATE".into(),
            "PID".into(),
            "UPTIME".into(),
            "RESTARTS".into(),
            "LAST EXIT".into(),
        ]];
        for (s, up) in rows {
            table.push([
                s.spec.name.clone(),
                s.state_name().into(),
                s.run_pid.map_or("-".into(), |p| p.to_string()),
                up.map_or("-".into(), human),
                s.sm.restarts.to_string(),
                match s.sm.last_exit {
                    None => "-".into(),
                    Some(Exit::Code(c)) => format!("status {c}"),
                    Some(Exit::Signal(n)) => signal_name(n),
                },
            ]);
        }
        let mut widths = [0usize; 6];
        for row in &table {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let mut out = String::new();
        for row in &table {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out.extend(unit_lines);
        out.extend(socket_lines);
        out.extend(errors);
        out
    }
}

/// `3s`, `2m5s`, `1h2m`: uptime for people.
fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, s % 3600 / 60),
    }
}
