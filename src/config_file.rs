//! Loading a role's TOML configuration with `MERIDIAN_<ROLE>__<KEY>` environment
//! overrides (`__` separates nested keys: `MERIDIAN_CLUSTER__RAFT__HEARTBEAT_MS=50`).

use std::path::Path;

use serde::de::DeserializeOwned;

/// Reads `path`, applies the environment overrides for `role` and deserializes.
/// Errors are one line naming the file (and the key where the parser knows it).
pub fn load<T: DeserializeOwned>(path: &Path, role: &str) -> Result<T, String> {
    load_with(path, role, std::env::vars())
}

/// [`load`] with the environment given: `vars` are its (name, value) pairs.
fn load_with<T: DeserializeOwned>(
    path: &Path,
    role: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut value: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), one_line(&e)))?;
    let prefix = format!("MERIDIAN_{}__", role.to_ascii_uppercase());
    for (name, raw) in vars {
        let Some(key) = name.strip_prefix(&prefix) else {
            continue;
        };
        let path_keys: Vec<String> = key.split("__").map(|k| k.to_ascii_lowercase()).collect();
        set(&mut value, &path_keys, parse_scalar(&raw)).map_err(|e| format!("{name}: {e}"))?;
    }
    T::deserialize(toml::Value::Table(value))
        .map_err(|e| format!("{}: {}", path.display(), one_line(&e)))
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// An override is read as a TOML value when it parses as one (numbers, booleans,
/// arrays), else as a string.
fn parse_scalar(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = keys.split_last() else {
        return Err("empty key".into());
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("key {key} is not a table"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Sample {
        name: String,
        port: u16,
        nested: Nested,
    }

    #[derive(serde::Deserialize, Debug)]
    struct Nested {
        on: bool,
    }

    #[test]
    fn overrides_reach_nested_keys_with_their_types() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.toml");
        std::fs::write(&file, "name = \"a\"\nport = 1\n[nested]\non = false\n").unwrap();
        let vars = [
            ("MERIDIAN_SAMPLEROLE__PORT", "8080"),
            ("MERIDIAN_SAMPLEROLE__NESTED__ON", "true"),
            ("MERIDIAN_SAMPLEROLE__NAME", "plain text"),
            ("MERIDIAN_OTHERROLE__PORT", "9090"),
        ];
        let vars = vars.map(|(name, value)| (name.to_string(), value.to_string()));
        let sample: Sample = load_with(&file, "samplerole", vars).unwrap();
        assert_eq!(sample.port, 8080);
        assert!(sample.nested.on);
        assert_eq!(sample.name, "plain text");
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "name = \"a\"\nport = \"x\"\n[nested]\non = false\n").unwrap();
        let err = load::<Sample>(&file, "unusedrole").unwrap_err();
        assert!(err.contains("bad.toml") && err.contains("port"), "{err}");
        let err = load::<Sample>(&dir.path().join("missing.toml"), "unusedrole").unwrap_err();
        assert!(err.contains("missing.toml"), "{err}");
    }
}
