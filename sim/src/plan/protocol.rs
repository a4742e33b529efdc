//! The protocol config of a run: a preset with the `[protocol]` table merged over it.

use engine::Config;

use crate::scenario::ScenarioError;

/// The preset named `preset` with the `[protocol]` table merged over it, validated.
pub(super) fn config(
    file: &str,
    preset: &str,
    overrides: &toml::Table,
) -> Result<Config, ScenarioError> {
    let base = Config::preset(preset).ok_or_else(|| {
        ScenarioError::new(
            file,
            "preset",
            format!("unknown preset {preset:?}: expected habitat, lan or local"),
        )
    })?;
    let mut table = match toml::Value::try_from(&base) {
        Ok(toml::Value::Table(t)) => t,
        Ok(_) | Err(_) => {
            return Err(ScenarioError::new(
                file,
                "preset",
                "cannot represent the preset as TOML",
            ))
        }
    };
    for (key, value) in overrides {
        table.insert(key.clone(), value.clone());
    }
    let config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." {
                "protocol".to_string()
            } else {
                format!("protocol.{path}")
            };
            ScenarioError::new(file, key, e.into_inner())
        })?;
    config
        .validate()
        .map_err(|e| ScenarioError::new(file, "protocol", e))?;
    Ok(config)
}
