//! `--set KEY=VALUE`: override any scenario key by its dotted path before deserializing.
//!
//! The path walks tables by key and arrays by index (`at.1.time=70s`); missing tables are
//! created. The value is read as a TOML value when it is one (`2000`, `0.1`, `true`,
//! `["0..9", "10..19"]`) and as a string otherwise (`5s`, `0..99`, `habitat`).

/// Applies one `KEY=VALUE` to `table`; the error says what is wrong with it.
pub fn apply(table: &mut toml::Table, set: &str) -> Result<(), String> {
    let (path, raw) = set
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE".to_string())?;
    let segments: Vec<&str> = path.trim().split('.').map(str::trim).collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!("invalid key path {path:?}"));
    }
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_at(&mut root, &segments, parse_value(raw.trim()));
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

/// Sets `value` at `path` below `node`, creating missing tables.
fn set_at(node: &mut toml::Value, path: &[&str], value: toml::Value) -> Result<(), String> {
    let Some((segment, rest)) = path.split_first() else {
        *node = value;
        return Ok(());
    };
    let child = match node {
        toml::Value::Table(t) => t
            .entry(segment.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new())),
        toml::Value::Array(items) => {
            let len = items.len();
            let index: usize = segment
                .parse()
                .map_err(|_| format!("{segment:?} is not an index into an array of {len}"))?;
            items
                .get_mut(index)
                .ok_or_else(|| format!("index {index} is past the end of an array of {len}"))?
        }
        _ => return Err(format!("cannot set {segment:?} inside a plain value")),
    };
    if rest.is_empty() {
        *child = value;
        Ok(())
    } else {
        set_at(child, rest, value)
    }
}

/// Reads `raw` as a TOML value if it is one, else as a string.
fn parse_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("valid toml")
    }

    #[test]
    fn scalars_are_typed() {
        let mut t = table("members = 1");
        apply(&mut t, "members=2000").expect("ok");
        apply(&mut t, "network.loss_probability=0.1").expect("ok");
        apply(&mut t, "protocol.suspicion_timeout=5s").expect("ok");
        apply(&mut t, "persistent=0,100").expect("ok");
        apply(&mut t, "flag = true").expect("ok");
        assert_eq!(t["members"], toml::Value::Integer(2000));
        assert_eq!(t["network"]["loss_probability"], toml::Value::Float(0.1));
        assert_eq!(
            t["protocol"]["suspicion_timeout"],
            toml::Value::String("5s".into())
        );
        assert_eq!(t["persistent"], toml::Value::String("0,100".into()));
        assert_eq!(t["flag"], toml::Value::Boolean(true));
    }

    #[test]
    fn arrays_are_indexed() {
        let mut t = table("[[at]]\ntime = \"1s\"\n[[at]]\ntime = \"2s\"\n");
        apply(&mut t, "at.1.time=70s").expect("ok");
        assert_eq!(t["at"][1]["time"], toml::Value::String("70s".into()));
        assert!(apply(&mut t, "at.7.time=1s").is_err());
        assert!(apply(&mut t, "at.time=1s").is_err());
    }

    #[test]
    fn bad_sets_are_errors() {
        let mut t = table("members = 1");
        assert!(apply(&mut t, "members").is_err());
        assert!(apply(&mut t, "a..b=1").is_err());
        assert!(apply(&mut t, "members.x=1").is_err());
    }
}
