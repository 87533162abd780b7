//! What every unit type shares: how each key layers (`kind`), the
//! `[Unit]` dependencies and start limit, `[Install]`, and the bookkeeping
//! of a build (errors with their place, the unsupported list).

use super::parse::{Directive, Kind, Layered};
use super::spec::{self, SpecContext};
use super::value;
use std::time::Duration;

/// Keys whose `Key=` resets the list (systemd.service(5), .exec(5),
/// .socket(5), .unit(5) [Install]); every `Listen*` shares one group.
const LISTS: &[&str] = &[
    "ExecStartPre",
    "ExecStart",
    "ExecStartPost",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
    "ExecCondition",
    "Environment",
    "EnvironmentFile",
    "UnsetEnvironment",
    "PassEnvironment",
    "SupplementaryGroups",
    "SuccessExitStatus",
    "RestartPreventExitStatus",
    "RestartForceExitStatus",
    "RuntimeDirectory",
    "StateDirectory",
    "CacheDirectory",
    "LogsDirectory",
    "ConfigurationDirectory",
    "Documentation",
    "WantedBy",
    "RequiredBy",
    "UpheldBy",
    "Also",
    "Alias",
];

/// How `key` in `section` combines with earlier assignments, for
/// `parse::layer`. Dependencies accumulate: systemd cannot drop one in a
/// drop-in (`After=` does nothing).
pub fn kind(section: &str, key: &str) -> Kind {
    if section == "Unit" && DEPS.contains(&key) {
        return Kind::Accumulate;
    }
    if section == "Socket" && key.starts_with("Listen") {
        return Kind::List("Listen");
    }
    match LISTS.iter().find(|k| **k == key) {
        Some(k) => Kind::List(k),
        None => Kind::Single,
    }
}

const DEPS: &[&str] = &[
    "After",
    "Before",
    "Requires",
    "Wants",
    "BindsTo",
    "PartOf",
    "Requisite",
    "Conflicts",
    "Upholds",
    "OnFailure",
    "OnSuccess",
    "PropagatesReloadTo",
    "ReloadPropagatedFrom",
    "JoinsNamespaceOf",
];

/// The `[Unit]` directives SPEC §8 supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitSection {
    pub description: Option<String>,
    pub after: Vec<String>,
    pub before: Vec<String>,
    pub requires: Vec<String>,
    pub wants: Vec<String>,
    pub binds_to: Vec<String>,
    pub part_of: Vec<String>,
    /// StartLimitBurst in StartLimitIntervalSec (systemd's defaults: 5 in
    /// 10s); `None` when the interval is 0 (no limit).
    pub start_limit: Option<(u32, Duration)>,
}

/// `[Install]`, read only by `enable`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Install {
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
    pub also: Vec<String>,
    pub alias: Vec<String>,
    pub default_instance: Option<String>,
}

/// What `Build::done` gives every kind of unit: `[Unit]`, `[Install]`,
/// the directives ignored, the warnings.
pub(crate) type Built = (UnitSection, Install, Vec<String>, Vec<String>);

/// Shared state while a unit is built.
pub(crate) struct Build<'a> {
    pub layered: &'a Layered,
    pub ctx: &'a SpecContext,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub unsupported: Vec<String>,
    pub unit: UnitSection,
    pub install: Install,
    limit_burst: u32,
    limit_interval: Option<Duration>,
}

/// What an `apply` did with a directive.
pub(crate) type Applied = Result<bool, String>;

impl<'a> Build<'a> {
    pub fn new(layered: &'a Layered, ctx: &'a SpecContext) -> Self {
        Build {
            layered,
            ctx,
            errors: Vec::new(),
            warnings: layered.warnings.clone(),
            unsupported: Vec::new(),
            unit: UnitSection::default(),
            install: Install::default(),
            limit_burst: 5,
            limit_interval: Some(Duration::from_secs(10)),
        }
    }

    /// Runs `apply` on every directive of `sections` (the others are
    /// warned about once); records errors with their place and every key
    /// `apply` does not know. An empty single value was a reset to the
    /// default, which the layering already did: it is skipped.
    pub fn each(
        &mut self,
        sections: &[&str],
        apply: &mut dyn FnMut(&mut Self, &Directive) -> Applied,
    ) {
        let mut unknown_sections: Vec<&str> = Vec::new();
        for d in &self.layered.directives {
            if d.key.starts_with("X-") || d.section.starts_with("X-") {
                continue;
            }
            if !sections.contains(&d.section.as_str()) {
                if !unknown_sections.contains(&d.section.as_str()) {
                    unknown_sections.push(&d.section);
                    let w = format!("unknown section [{}], ignored", d.section);
                    self.warnings.push(self.layered.at(d, &w));
                }
                continue;
            }
            if d.value.is_empty() && kind(&d.section, &d.key) == Kind::Single {
                continue;
            }
            match apply(self, d) {
                Ok(true) => {}
                Ok(false) => self.unsupported(&d.key),
                Err(e) => {
                    let what = format!("{}={}: {e}", d.key, super::clip(&d.value));
                    self.errors.push(self.layered.at(d, &what));
                }
            }
        }
    }

    /// Notes an unsupported directive (or `Key=value`), once.
    pub fn unsupported(&mut self, what: &str) {
        if !self.unsupported.iter().any(|u| u == what) {
            self.unsupported.push(what.to_string());
        }
    }

    pub fn at(&self, d: &Directive, what: &str) -> String {
        self.layered.at(d, what)
    }

    pub fn expand(&self, s: &str) -> Result<String, String> {
        spec::expand(s, self.ctx)
    }

    /// Unquoted words with specifiers expanded.
    pub fn words(&self, v: &str) -> Result<Vec<String>, String> {
        super::exec::split_words(v)?
            .iter()
            .map(|w| self.expand(w))
            .collect()
    }

    /// `[Unit]`.
    pub fn apply_unit(&mut self, key: &str, v: &str) -> Applied {
        let list = match key {
            "Description" => {
                self.unit.description = Some(self.expand(v)?);
                return Ok(true);
            }
            "StartLimitIntervalSec" | "StartLimitInterval" => {
                self.limit_interval = value::parse_sec(v)?.filter(|d| !d.is_zero());
                return Ok(true);
            }
            "StartLimitBurst" => {
                self.limit_burst = v.parse().map_err(|_| "expected a count".to_string())?;
                return Ok(true);
            }
            "After" => &mut self.unit.after,
            "Before" => &mut self.unit.before,
            "Requires" => &mut self.unit.requires,
            "Wants" => &mut self.unit.wants,
            "BindsTo" => &mut self.unit.binds_to,
            "PartOf" => &mut self.unit.part_of,
            _ => return Ok(false),
        };
        let names = super::exec::split_words(v)?;
        for n in names {
            list.push(spec::expand(&n, self.ctx)?);
        }
        Ok(true)
    }

    /// `[Install]`.
    pub fn apply_install(&mut self, key: &str, v: &str) -> Applied {
        let words = self.words(v)?;
        match key {
            "WantedBy" => self.install.wanted_by.extend(words),
            "RequiredBy" => self.install.required_by.extend(words),
            "Also" => self.install.also.extend(words),
            "Alias" => self.install.alias.extend(words),
            "DefaultInstance" => self.install.default_instance = Some(self.expand(v)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The start limit, once every directive is in.
    /// What every kind of unit keeps of its build: its `[Unit]` section
    /// (start limit included), `[Install]`, the directives ignored and the
    /// warnings; or every error, when there is one.
    pub fn done(self) -> Result<Built, Vec<String>> {
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let mut unit = self.unit;
        unit.start_limit = match (self.limit_burst, self.limit_interval) {
            (0, _) | (_, None) => None,
            (n, Some(d)) => Some((n, d)),
        };
        Ok((unit, self.install, self.unsupported, self.warnings))
    }
}
