//! The `after` graph (SPEC §2, §6): names that exist, templates that
//! stand for their instances, and no cycles. A service that fails the
//! check is left out with one error line; the others run.

use crate::spec::ServiceSpec;

/// Drops the services whose `after` names an unknown service or lies on a
/// cycle (and, in turn, those that depend on a dropped one), with one
/// error line each naming the services involved.
pub fn check_order(mut specs: Vec<ServiceSpec>) -> (Vec<ServiceSpec>, Vec<String>) {
    let mut errors = Vec::new();
    // `after` may name a template: it means every instance of it.
    let templates: Vec<(String, String)> = specs
        .iter()
        .filter_map(|s| Some((s.template.clone()?, s.name.clone())))
        .collect();
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    for s in &mut specs {
        s.after = s
            .after
            .iter()
            .flat_map(|a| {
                let instances: Vec<String> = templates
                    .iter()
                    .filter(|(t, _)| t == a && !names.contains(a))
                    .map(|(_, n)| n.clone())
                    .collect();
                if instances.is_empty() {
                    vec![a.clone()]
                } else {
                    instances
                }
            })
            .collect();
    }
    let index = |name: &str| specs.iter().position(|s| s.name == name);
    let mut bad = vec![false; specs.len()];
    for (i, s) in specs.iter().enumerate() {
        for dep in &s.after {
            if index(dep).is_none() {
                errors.push(format!(
                    "{}: after: no service named {dep:?}",
                    s.dir.display()
                ));
                bad[i] = true;
            }
        }
    }
    // Depth-first search; a node met again while on the stack closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut mark = vec![Mark::New; specs.len()];
    let deps: Vec<Vec<usize>> = specs
        .iter()
        .map(|s| s.after.iter().filter_map(|d| index(d)).collect())
        .collect();
    for root in 0..specs.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // Stack of (node, next dep to look at).
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::OnStack;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::New => {
                        mark[dep] = Mark::OnStack;
                        stack.push((dep, 0));
                    }
                    Mark::OnStack => {
                        let from = stack.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                        let cycle: Vec<&str> = stack[from..]
                            .iter()
                            .map(|&(n, _)| specs[n].name.as_str())
                            .chain([specs[dep].name.as_str()])
                            .collect();
                        errors.push(format!("after: dependency cycle {}", cycle.join(" -> ")));
                        for &(n, _) in &stack[from..] {
                            bad[n] = true;
                        }
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    // Whatever needs a dropped service cannot start either.
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..specs.len() {
            if !bad[i] && deps[i].iter().any(|&d| bad[d]) {
                bad[i] = true;
                changed = true;
                let on: Vec<&str> = deps[i]
                    .iter()
                    .filter(|&&d| bad[d])
                    .map(|&d| specs[d].name.as_str())
                    .collect();
                errors.push(format!(
                    "{}: not started: it runs after {}, which cannot start",
                    specs[i].dir.display(),
                    on.join(", ")
                ));
            }
        }
    }
    let kept = specs
        .into_iter()
        .zip(bad)
        .filter(|(_, b)| !b)
        .map(|(s, _)| s)
        .collect();
    (kept, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Restart;
    use crate::spec::{PolicySpec, Readiness};
    use std::path::PathBuf;
    use std::time::Duration;

    fn spec(name: &str, after: &[&str]) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            dir: PathBuf::from("/s").join(name),
            argv: vec!["run".into()],
            finish: None,
            down: false,
            critical: false,
            user: None,
            readiness: Readiness::None,
            after: after.iter().map(|a| a.to_string()).collect(),
            logger_of: None,
            listen: Vec::new(),
            on_demand: false,
            instances: 0,
            template: None,
            watchdog: None,
            env: Vec::new(),
            policy: PolicySpec {
                restart: Restart::Always,
                delay: Duration::ZERO,
                delay_max: Duration::ZERO,
                stop_signal: 15,
                grace: Duration::ZERO,
                finish_timeout: None,
                start_limit: None,
                reload_signal: libc::SIGHUP,
                oneshot: false,
                remain_after_exit: false,
                unit: Default::default(),
            },
            pid_file: None,
            unit: None,
            fingerprint: 0,
        }
    }

    #[test]
    fn order_checks() {
        // (services as name: after..., kept, error substrings)
        type Case<'a> = (&'a [(&'a str, &'a [&'a str])], &'a [&'a str], &'a [&'a str]);
        let cases: &[Case] = &[
            (&[("db", &[]), ("web", &["db"])], &["db", "web"], &[]),
            (&[("web", &["nope"])], &[], &["no service named \"nope\""]),
            (
                &[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])],
                &["d"],
                &["cycle a -> b -> c -> a"],
            ),
            (&[("a", &["a"])], &[], &["cycle a -> a"]),
            (
                &[("a", &["b"]), ("b", &["a"]), ("w", &["a"]), ("ok", &[])],
                &["ok"],
                &["cycle", "/s/w: not started: it runs after a"],
            ),
        ];
        for (services, kept, errs) in cases {
            let specs = services.iter().map(|(n, a)| spec(n, a)).collect();
            let (got, errors) = check_order(specs);
            let names: Vec<&str> = got.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(&names, kept, "{services:?}");
            for e in *errs {
                assert!(
                    errors.iter().any(|x| x.contains(e)),
                    "{e:?} not in {errors:?}"
                );
            }
            assert_eq!(errors.is_empty(), errs.is_empty(), "{errors:?}");
        }
    }

    #[test]
    fn after_a_template_means_every_instance() {
        let mut w1 = spec("w@1", &[]);
        w1.template = Some("w".into());
        let mut w2 = spec("w@2", &[]);
        w2.template = Some("w".into());
        let (got, errors) = check_order(vec![w1, w2, spec("lb", &["w"]), spec("one", &["w@2"])]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(got[2].after, vec!["w@1", "w@2"]);
        assert_eq!(got[3].after, vec!["w@2"]);
    }
}
