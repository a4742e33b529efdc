//! An `[[at]]` entry read into the action it names: each action kind takes the keys it needs by
//! name, and a key the action did not take is an error naming it.
//!
//! The file format stays one flat table per entry ([`At`]), so that every kind shares `time`
//! and `action` and `--set at[2].members=…` works on any of them; this module is where that
//! table becomes a typed value.

use std::time::Duration;

use crate::scenario::{ActionKind, At};
use crate::selector::Selector;

/// A key of an `[[at]]` entry and what is wrong with it.
pub(super) type KeyError = (&'static str, String);

/// One `[[at]]` entry with the keys its action needs, checked.
#[derive(Clone, Copy, Debug)]
pub(super) enum ActionSpec<'a> {
    /// `partition`: two or more groups.
    Partition(&'a [Selector]),
    /// `partition_oneway`: messages from `from` to `to` are lost.
    PartitionOneway {
        from: &'a Selector,
        to: &'a Selector,
    },
    /// `heal`.
    Heal,
    /// `isolate`, `crash`, `restart`, `join`, `depart`: an action on members and nothing else.
    Members(MemberAction, &'a Selector),
    /// `pause`, once or repeated.
    Pause {
        members: &'a Selector,
        duration: Duration,
        repeat: Option<Repeat>,
    },
    /// `slow`.
    Slow {
        members: &'a Selector,
        duration: Duration,
        delay: Duration,
    },
    /// `set_network`.
    SetNetwork(NetworkSetting<'a>),
    /// `apply_config`.
    ApplyConfig {
        group: &'a str,
        version: u64,
        payload: Payload<'a>,
        via: Option<u32>,
    },
    /// `upload_file`.
    UploadFile {
        group: &'a str,
        version: u64,
        file: &'a str,
        payload: Payload<'a>,
        via: Option<u32>,
    },
    /// `depart_member`.
    DepartMember {
        members: &'a Selector,
        via: Option<u32>,
    },
    /// `update_service`.
    UpdateService(ServiceUpdate<'a>),
}

/// An `update_service`: at least one of `pkg` and `cfg`.
#[derive(Clone, Copy, Debug)]
pub(super) struct ServiceUpdate<'a> {
    pub group: &'a str,
    pub members: &'a Selector,
    pub pkg: Option<&'a str>,
    pub cfg: Option<Payload<'a>>,
}

/// The actions whose only key is `members`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MemberAction {
    Isolate,
    Crash,
    Restart,
    Join,
    Depart,
}

/// A repeated `pause`: every `every`, `count` times or until `until`, each member's each pause
/// up to `jitter` late.
#[derive(Clone, Copy, Debug)]
pub(super) struct Repeat {
    pub every: Duration,
    pub count: Option<u32>,
    pub until: Option<Duration>,
    pub jitter: Option<Duration>,
}

/// A rumor's payload: the text given, or `size` bytes of filler drawn from the seed.
#[derive(Clone, Copy, Debug)]
pub(super) enum Payload<'a> {
    Text(&'a str),
    Size(u64),
}

/// What a `set_network` changes.
#[derive(Clone, Copy, Debug)]
pub(super) enum NetworkSetting<'a> {
    /// The global parameters given.
    Global(NetworkChange),
    /// With `a` and `b`: the link between two zones.
    Link {
        a: &'a str,
        b: &'a str,
        change: LinkChange,
    },
}

/// The `[network]` keys a `set_network` gives (at least one).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct NetworkChange {
    pub one_way_delay_min: Option<Duration>,
    pub one_way_delay_mean: Option<Duration>,
    pub loss_probability: Option<f64>,
    pub stream_loss_probability: Option<f64>,
    pub duplicate_probability: Option<f64>,
}

/// The link keys a `set_network` on a link gives.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct LinkChange {
    pub one_way_delay_min: Option<Duration>,
    pub one_way_delay_mean: Option<Duration>,
    pub loss_probability: Option<f64>,
}

impl ActionSpec<'_> {
    /// Whether a `leader:GROUP` selector may add to this action's members: it is resolved when
    /// the action runs, so only actions on running members take one, and not a pause whose
    /// members are jittered one by one when the plan is made.
    pub(super) fn takes_leaders(&self) -> bool {
        match self {
            ActionSpec::Members(kind, _) => *kind != MemberAction::Join,
            ActionSpec::Pause { .. } => !self.jittered(),
            ActionSpec::Slow { .. } | ActionSpec::DepartMember { .. } => true,
            _ => false,
        }
    }

    /// Whether this is a repeated pause with jitter.
    pub(super) fn jittered(&self) -> bool {
        matches!(
            self,
            ActionSpec::Pause {
                repeat: Some(Repeat {
                    jitter: Some(_),
                    ..
                }),
                ..
            }
        )
    }
}

/// Reads `at` as the action it names; errors name the key.
pub(super) fn read(at: &At) -> Result<ActionSpec<'_>, KeyError> {
    let mut keys = Keys::new(at);
    let spec = match at.action {
        ActionKind::Partition => ActionSpec::Partition(groups(&mut keys, at, 2, "at least 2")?),
        ActionKind::PartitionOneway => match groups(&mut keys, at, 2, "exactly 2")? {
            [from, to] => ActionSpec::PartitionOneway { from, to },
            more => {
                return Err((
                    "groups",
                    format!("{} needs exactly 2 groups, not {}", keys.action, more.len()),
                ))
            }
        },
        ActionKind::Heal => ActionSpec::Heal,
        ActionKind::Isolate => member_action(&mut keys, at, MemberAction::Isolate)?,
        ActionKind::Crash => member_action(&mut keys, at, MemberAction::Crash)?,
        ActionKind::Restart => member_action(&mut keys, at, MemberAction::Restart)?,
        ActionKind::Join => member_action(&mut keys, at, MemberAction::Join)?,
        ActionKind::Depart => member_action(&mut keys, at, MemberAction::Depart)?,
        ActionKind::Pause => pause(&mut keys, at)?,
        ActionKind::Slow => {
            let members = keys.required("members", at.members.as_ref())?;
            let duration = keys.required("duration", at.duration)?;
            let delay = keys.required("delay", at.delay)?;
            keys.finish()?;
            if duration.is_zero() {
                return Err(("duration", "must not be zero".into()));
            }
            ActionSpec::Slow {
                members,
                duration,
                delay,
            }
        }
        ActionKind::SetNetwork if at.a.is_some() || at.b.is_some() => {
            ActionSpec::SetNetwork(NetworkSetting::Link {
                a: keys.required("a", at.a.as_deref())?,
                b: keys.required("b", at.b.as_deref())?,
                change: LinkChange {
                    one_way_delay_min: keys.optional("one_way_delay_min", at.one_way_delay_min),
                    one_way_delay_mean: keys.optional("one_way_delay_mean", at.one_way_delay_mean),
                    loss_probability: keys.optional("loss_probability", at.loss_probability),
                },
            })
        }
        ActionKind::SetNetwork => set_network(&mut keys, at)?,
        ActionKind::ApplyConfig => {
            let group = keys.required("group", at.group.as_deref())?;
            let version = keys.required("version", at.version)?;
            let payload = payload(&mut keys, at);
            let via = keys.optional("via", at.via);
            keys.finish()?;
            ActionSpec::ApplyConfig {
                group,
                version,
                payload: required_payload(keys.action, payload?)?,
                via,
            }
        }
        ActionKind::UploadFile => {
            let group = keys.required("group", at.group.as_deref())?;
            let version = keys.required("version", at.version)?;
            let file = keys.required("file", at.file.as_deref())?;
            let payload = payload(&mut keys, at);
            let via = keys.optional("via", at.via);
            keys.finish()?;
            ActionSpec::UploadFile {
                group,
                version,
                file,
                payload: required_payload(keys.action, payload?)?,
                via,
            }
        }
        ActionKind::DepartMember => ActionSpec::DepartMember {
            members: keys.required("members", at.members.as_ref())?,
            via: keys.optional("via", at.via),
        },
        ActionKind::UpdateService => {
            if at.pkg.is_none() && at.text.is_none() && at.size.is_none() {
                return Err((
                    "pkg",
                    "update_service needs pkg, text or size (what changes)".into(),
                ));
            }
            let group = keys.required("group", at.group.as_deref())?;
            let members = keys.required("members", at.members.as_ref())?;
            let pkg = keys.optional("pkg", at.pkg.as_deref());
            let cfg = payload(&mut keys, at);
            keys.finish()?;
            ActionSpec::UpdateService(ServiceUpdate {
                group,
                members,
                pkg,
                cfg: cfg?,
            })
        }
    };
    keys.finish()?;
    Ok(spec)
}

/// `groups` with at least `least` entries (`needed` says how many in the error).
fn groups<'a>(
    keys: &mut Keys,
    at: &'a At,
    least: usize,
    needed: &str,
) -> Result<&'a [Selector], KeyError> {
    let groups = keys.required("groups", at.groups.as_deref())?;
    keys.finish()?;
    if groups.len() < least {
        return Err((
            "groups",
            format!(
                "{} needs {needed} groups, not {}",
                keys.action,
                groups.len()
            ),
        ));
    }
    Ok(groups)
}

fn member_action<'a>(
    keys: &mut Keys,
    at: &'a At,
    kind: MemberAction,
) -> Result<ActionSpec<'a>, KeyError> {
    Ok(ActionSpec::Members(
        kind,
        keys.required("members", at.members.as_ref())?,
    ))
}

fn pause<'a>(keys: &mut Keys, at: &'a At) -> Result<ActionSpec<'a>, KeyError> {
    let repeat_keys = [
        ("count", at.count.is_some()),
        ("until", at.until.is_some()),
        ("jitter", at.jitter.is_some()),
    ];
    for (key, given) in repeat_keys {
        if given && at.every.is_none() {
            return Err((key, "repeats a pause, so it needs every".into()));
        }
    }
    let members = keys.required("members", at.members.as_ref())?;
    let duration = keys.required("duration", at.duration)?;
    let repeat = keys.optional("every", at.every).map(|every| Repeat {
        every,
        count: keys.optional("count", at.count),
        until: keys.optional("until", at.until),
        jitter: keys.optional("jitter", at.jitter),
    });
    keys.finish()?;
    if duration.is_zero() {
        return Err(("duration", "must not be zero".into()));
    }
    if let Some(r) = repeat {
        if r.every.is_zero() {
            return Err(("every", "must not be zero".into()));
        }
        if r.count == Some(0) {
            return Err(("count", "must be at least 1".into()));
        }
    }
    Ok(ActionSpec::Pause {
        members,
        duration,
        repeat,
    })
}

fn set_network<'a>(keys: &mut Keys, at: &'a At) -> Result<ActionSpec<'a>, KeyError> {
    let change = NetworkChange {
        one_way_delay_min: keys.optional("one_way_delay_min", at.one_way_delay_min),
        one_way_delay_mean: keys.optional("one_way_delay_mean", at.one_way_delay_mean),
        loss_probability: keys.optional("loss_probability", at.loss_probability),
        stream_loss_probability: keys
            .optional("stream_loss_probability", at.stream_loss_probability),
        duplicate_probability: keys.optional("duplicate_probability", at.duplicate_probability),
    };
    if keys.used.is_empty() {
        return Err((
            "action",
            "set_network needs at least one network key".into(),
        ));
    }
    Ok(ActionSpec::SetNetwork(NetworkSetting::Global(change)))
}

/// `text` or `size`, not both; `None` when neither is given.
fn payload<'a>(keys: &mut Keys, at: &'a At) -> Result<Option<Payload<'a>>, KeyError> {
    let text = keys.optional("text", at.text.as_deref());
    let size = keys.optional("size", at.size);
    match (text, size) {
        (Some(_), Some(_)) => Err(("size", "give text or size, not both".into())),
        (Some(text), None) => Ok(Some(Payload::Text(text))),
        (None, Some(size)) => Ok(Some(Payload::Size(size))),
        (None, None) => Ok(None),
    }
}

fn required_payload<'a>(
    action: &str,
    payload: Option<Payload<'a>>,
) -> Result<Payload<'a>, KeyError> {
    payload.ok_or_else(|| ("text", format!("required by action {action} (or size)")))
}

/// The keys given in an `[[at]]` entry, and those its action has taken so far.
struct Keys {
    /// The action's name in scenario files.
    action: &'static str,
    /// Every key given besides `time` and `action`, in the order of [`At`]'s fields.
    given: Vec<&'static str>,
    used: Vec<&'static str>,
}

impl Keys {
    fn new(at: &At) -> Self {
        let given = [
            ("groups", at.groups.is_some()),
            ("members", at.members.is_some()),
            ("duration", at.duration.is_some()),
            ("a", at.a.is_some()),
            ("b", at.b.is_some()),
            ("one_way_delay_min", at.one_way_delay_min.is_some()),
            ("one_way_delay_mean", at.one_way_delay_mean.is_some()),
            ("loss_probability", at.loss_probability.is_some()),
            (
                "stream_loss_probability",
                at.stream_loss_probability.is_some(),
            ),
            ("duplicate_probability", at.duplicate_probability.is_some()),
            ("every", at.every.is_some()),
            ("count", at.count.is_some()),
            ("until", at.until.is_some()),
            ("jitter", at.jitter.is_some()),
            ("group", at.group.is_some()),
            ("version", at.version.is_some()),
            ("text", at.text.is_some()),
            ("size", at.size.is_some()),
            ("file", at.file.is_some()),
            ("pkg", at.pkg.is_some()),
            ("via", at.via.is_some()),
            ("delay", at.delay.is_some()),
        ];
        Keys {
            action: at.action.as_str(),
            given: given
                .into_iter()
                .filter_map(|(name, given)| given.then_some(name))
                .collect(),
            used: Vec::new(),
        }
    }

    /// Takes key `name`, which the action needs.
    fn required<T>(&mut self, name: &'static str, value: Option<T>) -> Result<T, KeyError> {
        self.used.push(name);
        value.ok_or_else(|| (name, format!("required by action {}", self.action)))
    }

    /// Takes key `name`, which the action may use.
    fn optional<T>(&mut self, name: &'static str, value: Option<T>) -> Option<T> {
        if value.is_some() {
            self.used.push(name);
        }
        value
    }

    /// Refuses the first key given that the action has not taken.
    fn finish(&self) -> Result<(), KeyError> {
        match self.given.iter().find(|key| !self.used.contains(key)) {
            Some(key) => Err((key, format!("not used by action {}", self.action))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Reads the first `[[at]]` of a scenario with `body` as its entry's keys.
    fn read_entry(action: &str, body: &str) -> Result<String, KeyError> {
        let text = format!(
            "name = \"t\"\nduration = \"100s\"\nmembers = 10\n\
             [[at]]\ntime = \"1s\"\naction = \"{action}\"\n{body}"
        );
        let s = crate::scenario::parse(Path::new("t.toml"), &text, &[]).expect("parses");
        read(&s.at[0]).map(|spec| format!("{spec:?}"))
    }

    fn error(action: &str, body: &str) -> (&'static str, String) {
        read_entry(action, body).expect_err("refused")
    }

    #[test]
    fn each_action_takes_its_keys_by_name() {
        for (action, body, starts) in [
            (
                "partition",
                "groups = [\"0\", \"1\", \"2\"]\n",
                "Partition(",
            ),
            (
                "partition_oneway",
                "groups = [\"0\", \"1\"]\n",
                "PartitionOneway {",
            ),
            ("heal", "", "Heal"),
            ("join", "members = \"1\"\n", "Members(Join,"),
            (
                "pause",
                "members = \"1\"\nduration = \"1s\"\nevery = \"5s\"\njitter = \"1s\"\n",
                "Pause {",
            ),
            (
                "slow",
                "members = \"1\"\nduration = \"1s\"\ndelay = \"1ms\"\n",
                "Slow {",
            ),
            (
                "set_network",
                "duplicate_probability = 0.1\n",
                "SetNetwork(Global(",
            ),
            ("set_network", "a = \"x\"\nb = \"y\"\n", "SetNetwork(Link {"),
            (
                "upload_file",
                "group = \"a.b\"\nversion = 1\nfile = \"f\"\nsize = 3\nvia = 2\n",
                "UploadFile {",
            ),
            (
                "depart_member",
                "members = \"1\"\nvia = 2\n",
                "DepartMember {",
            ),
            (
                "update_service",
                "group = \"a.b\"\nmembers = \"1\"\ntext = \"cfg\"\n",
                "UpdateService(ServiceUpdate {",
            ),
        ] {
            let spec = read_entry(action, body).expect("valid");
            assert!(spec.starts_with(starts), "{action}: {spec}");
        }
    }

    #[test]
    fn missing_keys_come_before_unused_ones() {
        assert_eq!(
            error("slow", "members = \"1\"\ngroup = \"a.b\"\n"),
            ("duration", "required by action slow".to_string())
        );
        assert_eq!(
            error("crash", "members = \"1\"\ndelay = \"1s\"\nvia = 2\n"),
            ("via", "not used by action crash".to_string())
        );
        assert_eq!(
            error("set_network", "a = \"x\"\nstream_loss_probability = 0.1\n"),
            ("b", "required by action set_network".to_string())
        );
        assert_eq!(
            error(
                "set_network",
                "a = \"x\"\nb = \"y\"\nduplicate_probability = 0.1\n"
            ),
            (
                "duplicate_probability",
                "not used by action set_network".to_string()
            )
        );
        assert_eq!(
            error("set_network", "members = \"1\"\n"),
            (
                "action",
                "set_network needs at least one network key".to_string()
            )
        );
    }

    #[test]
    fn values_are_checked_after_keys() {
        for (action, body, key, message) in [
            (
                "partition_oneway",
                "groups = [\"0\", \"1\", \"2\"]\n",
                "groups",
                "partition_oneway needs exactly 2 groups, not 3",
            ),
            (
                "partition",
                "groups = [\"0\"]\n",
                "groups",
                "partition needs at least 2 groups, not 1",
            ),
            (
                "slow",
                "members = \"1\"\nduration = \"0s\"\ndelay = \"1ms\"\n",
                "duration",
                "must not be zero",
            ),
            (
                "pause",
                "members = \"1\"\nduration = \"1s\"\nevery = \"5s\"\ncount = 0\n",
                "count",
                "must be at least 1",
            ),
            (
                "pause",
                "members = \"1\"\nduration = \"1s\"\nuntil = \"5s\"\n",
                "until",
                "repeats a pause, so it needs every",
            ),
            (
                "apply_config",
                "group = \"a.b\"\nversion = 1\ntext = \"x\"\nsize = 1\n",
                "size",
                "give text or size, not both",
            ),
            (
                "upload_file",
                "group = \"a.b\"\nversion = 1\nfile = \"f\"\n",
                "text",
                "required by action upload_file (or size)",
            ),
            (
                "update_service",
                "group = \"a.b\"\nmembers = \"1\"\n",
                "pkg",
                "update_service needs pkg, text or size (what changes)",
            ),
        ] {
            assert_eq!(
                error(action, body),
                (key, message.to_string()),
                "{action} {body}"
            );
        }
    }

    #[test]
    fn leaders_only_join_actions_on_running_members() {
        let spec = |action: &str, body: &str| {
            let text = format!(
                "name = \"t\"\nduration = \"100s\"\nmembers = 10\n\
                 [[at]]\ntime = \"1s\"\naction = \"{action}\"\n{body}"
            );
            let s = crate::scenario::parse(Path::new("t.toml"), &text, &[]).expect("parses");
            let at = s.at[0].clone();
            let spec = read(&at).expect("valid");
            (spec.takes_leaders(), spec.jittered())
        };
        assert_eq!(spec("crash", "members = \"1\"\n"), (true, false));
        assert_eq!(spec("join", "members = \"1\"\n"), (false, false));
        assert_eq!(spec("heal", ""), (false, false));
        assert_eq!(
            spec(
                "pause",
                "members = \"1\"\nduration = \"1s\"\nevery = \"5s\"\njitter = \"1s\"\n"
            ),
            (false, true)
        );
    }
}
