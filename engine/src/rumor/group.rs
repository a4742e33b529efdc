//! [`ServiceGroup`]: the `[app.env#]service.group[@org]` name every service rumor is filed under.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest service group name accepted, in bytes.
pub const MAX_SERVICE_GROUP_LEN: usize = 255;

/// A service group name, `service.group`, `service.group@organization` or, with Habitat's
/// application and environment prefix, `app.env#service.group[@organization]` (e.g.
/// `redis.default`, `redis.production@acme`, `shop.prod#redis.default`).
///
/// Built only by parsing, so every value has a non-empty service, a non-empty group and, when
/// present, a non-empty organization, application and environment, each made of ASCII
/// letters, digits, `_` and `-`. Stored as one boxed string and three offsets (24 bytes),
/// because every service rumor carries one.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceGroup {
    text: Box<str>,
    /// Offset of the service name (after the `#`, or 0 without a prefix).
    start: u16,
    /// Offset of the `.` between service and group.
    dot: u16,
    /// Offset of the `@` before the organization, or `text.len()` when there is none.
    at: u16,
}

/// Why a string is not a service group name. Nothing was created.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid service group {input:?}: {reason} (expected service.group[@organization])")]
pub struct ParseServiceGroupError {
    /// The offending input (at most 80 characters of it).
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ServiceGroup {
    /// The service name (`redis` in `redis.default@acme`).
    pub fn service(&self) -> &str {
        &self.text[usize::from(self.start)..usize::from(self.dot)]
    }

    /// The application and environment prefix, if any (`("shop", "prod")` in
    /// `shop.prod#redis.default`).
    pub fn app_env(&self) -> Option<(&str, &str)> {
        let start = usize::from(self.start);
        if start == 0 {
            return None;
        }
        self.text[..start - 1].split_once('.')
    }

    /// The group name (`default` in `redis.default@acme`).
    pub fn group(&self) -> &str {
        &self.text[usize::from(self.dot) + 1..usize::from(self.at)]
    }

    /// The organization, if any (`acme` in `redis.default@acme`).
    pub fn org(&self) -> Option<&str> {
        let at = usize::from(self.at);
        (at < self.text.len()).then(|| &self.text[at + 1..])
    }

    /// The whole name as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl FromStr for ServiceGroup {
    type Err = ParseServiceGroupError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseServiceGroupError {
            input: s.chars().take(80).collect(),
            reason,
        };
        if s.len() > MAX_SERVICE_GROUP_LEN {
            return Err(err("longer than 255 bytes"));
        }
        let (prefix, rest) = match s.split_once('#') {
            Some((prefix, rest)) => (Some(prefix), rest),
            None => (None, s),
        };
        if let Some(prefix) = prefix {
            let ok = prefix
                .split_once('.')
                .is_some_and(|(app, env)| valid_part(app) && valid_part(env));
            if !ok {
                return Err(err(
                    "the prefix before '#' must be app.env, each non-empty ASCII letters, digits, '_' or '-'",
                ));
            }
        }
        let start = prefix.map_or(0, |p| p.len() + 1);
        let (name, org) = match rest.split_once('@') {
            Some((name, org)) => (name, Some(org)),
            None => (s, None),
        };
        let (service, group) = name
            .split_once('.')
            .ok_or_else(|| err("no '.' between service and group"))?;
        if !valid_part(service) {
            return Err(err(
                "the service must be non-empty ASCII letters, digits, '_' or '-'",
            ));
        }
        if !valid_part(group) {
            return Err(err(
                "the group must be non-empty ASCII letters, digits, '_' or '-'",
            ));
        }
        if let Some(org) = org {
            if !valid_part(org) {
                return Err(err(
                    "the organization must be non-empty ASCII letters, digits, '_' or '-'",
                ));
            }
        }
        // Lengths are at most 255, so the offsets fit.
        let dot = u16::try_from(start + service.len()).map_err(|_| err("too long"))?;
        let at = u16::try_from(start + name.len()).map_err(|_| err("too long"))?;
        let start = u16::try_from(start).map_err(|_| err("too long"))?;
        Ok(ServiceGroup {
            text: s.into(),
            start,
            dot,
            at,
        })
    }
}

impl fmt::Display for ServiceGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ServiceGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceGroup({})", self.text)
    }
}

impl Serialize for ServiceGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ServiceGroup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_group_and_org() {
        let g: ServiceGroup = "redis.default".parse().expect("valid");
        assert_eq!(
            (g.service(), g.group(), g.org()),
            ("redis", "default", None)
        );
        assert_eq!(g.to_string(), "redis.default");
        let g: ServiceGroup = "my-app.prod_1@acme".parse().expect("valid");
        assert_eq!(
            (g.service(), g.group(), g.org()),
            ("my-app", "prod_1", Some("acme"))
        );
        assert_eq!(g.as_str(), "my-app.prod_1@acme");
        // Habitat's application and environment prefix.
        let g: ServiceGroup = "shop.prod#redis.default@acme".parse().expect("valid");
        assert_eq!(
            (g.app_env(), g.service(), g.group(), g.org()),
            (Some(("shop", "prod")), "redis", "default", Some("acme"))
        );
        assert_eq!(g.to_string(), "shop.prod#redis.default@acme");
        let g: ServiceGroup = "redis.default".parse().expect("valid");
        assert_eq!(g.app_env(), None);
    }

    #[test]
    fn refuses_malformed_names_with_a_reason() {
        for bad in [
            "redis",
            ".default",
            "redis.",
            "redis.default@",
            "re dis.default",
            "a.b.c",
            "a.b@c@d",
            "",
            "app#redis.default",
            "#redis.default",
            "a.b#c.d#e.f",
            "a.b#redis",
        ] {
            let e = bad.parse::<ServiceGroup>().expect_err(bad);
            assert_eq!(e.input, bad);
            assert!(e.to_string().contains("service.group"), "{e}");
        }
        assert!("a.".repeat(200).parse::<ServiceGroup>().is_err());
    }

    #[test]
    fn serde_as_a_string() {
        let g: ServiceGroup = "redis.default".parse().expect("valid");
        let json = toml::Value::try_from(&g).expect("serialize");
        assert_eq!(json.as_str(), Some("redis.default"));
        let back: ServiceGroup = toml::Value::String("x.y".into()).try_into().expect("parse");
        assert_eq!(back.group(), "y");
        assert!(toml::Value::String("nope".into())
            .try_into::<ServiceGroup>()
            .is_err());
    }
}
