//! Why a catalog file was refused: each error names the file and, where one applies, the
//! dotted key and the line, found from the TOML parser's span.

use std::fmt;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

use super::config::InvalidKey;
use crate::area::AreaCode;

/// Line and column (both 1-based) of a position in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub(super) fn of(contents: &str, offset: usize) -> Location {
        let before = contents.get(..offset).unwrap_or(contents);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why the catalog could not be built. Display is one line starting with the file.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Not valid TOML, or a value of the wrong type or a missing key.
    #[error("{file}: {}", parse_detail(.key.as_deref(), .message, .location.as_ref()))]
    Parse {
        file: String,
        key: Option<String>,
        message: String,
        location: Option<Location>,
    },
    /// A key the schema does not know (usually a typo).
    #[error("{file}: {}", parse_detail(Some(.key), .message, .location.as_ref()))]
    UnknownKey {
        file: String,
        key: String,
        message: String,
        location: Option<Location>,
    },
    /// The file parsed but a value is out of range or inconsistent.
    #[error("{file}: {error}")]
    Invalid { file: String, error: InvalidKey },
    /// The file's stem must be the lowercase area code, so the file an operator
    /// edits is the area they think it is.
    #[error("{file}: key code: area {code} must be in {}.toml, not {stem}.toml", .code.as_str().to_ascii_lowercase())]
    CodeMismatch {
        file: String,
        stem: String,
        code: AreaCode,
    },
    #[error("{file}: key code: area {code} is already defined in {first}")]
    DuplicateArea {
        file: String,
        code: AreaCode,
        first: String,
    },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An empty directory is almost always a wrong path, not an intended catalog.
    #[error("{}: no area files (*.toml) found", .dir.display())]
    NoAreas { dir: PathBuf },
}

impl CatalogError {
    /// The file (or directory) the error is about.
    pub fn file(&self) -> String {
        match self {
            CatalogError::Parse { file, .. }
            | CatalogError::UnknownKey { file, .. }
            | CatalogError::Invalid { file, .. }
            | CatalogError::CodeMismatch { file, .. }
            | CatalogError::DuplicateArea { file, .. } => file.clone(),
            CatalogError::Io { path, .. } => path.display().to_string(),
            CatalogError::NoAreas { dir } => dir.display().to_string(),
        }
    }

    /// The dotted key the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            CatalogError::Parse { key, .. } => key.as_deref(),
            CatalogError::UnknownKey { key, .. } => Some(key),
            CatalogError::Invalid { error, .. } => Some(&error.key),
            CatalogError::CodeMismatch { .. } | CatalogError::DuplicateArea { .. } => Some("code"),
            CatalogError::Io { .. } | CatalogError::NoAreas { .. } => None,
        }
    }
}

fn parse_detail(key: Option<&str>, message: &str, location: Option<&Location>) -> String {
    let mut out = String::new();
    if let Some(key) = key {
        out.push_str("key ");
        out.push_str(key);
        out.push_str(": ");
    }
    out.push_str(message);
    if let Some(location) = location {
        out.push_str(&format!(" ({location})"));
    }
    out
}

/// Turns a TOML error into a one-line error naming the key and position.
pub(super) fn toml_error(file: &str, contents: &str, err: &toml::de::Error) -> CatalogError {
    // toml's Display is a multi-line snippet; keep only the message itself.
    let message = err.message().trim().replace('\n', "; ");
    let span = err.span();
    let location = span.as_ref().map(|span| Location::of(contents, span.start));
    let path = span.and_then(|span| path_at(contents, span));
    // serde's wording for `deny_unknown_fields`; say "key" as TOML does.
    if let (Some(rest), Some(key)) = (message.strip_prefix("unknown field"), &path) {
        if !key.is_empty() {
            return CatalogError::UnknownKey {
                file: file.to_owned(),
                key: key.clone(),
                message: format!("unknown key{rest}"),
                location,
            };
        }
    }
    // A missing key is reported on its table; name the key itself.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'));
    let key = match (path, missing) {
        (Some(table), Some(name)) if table.is_empty() => Some(name.to_owned()),
        (Some(table), Some(name)) => Some(format!("{table}.{name}")),
        (path, _) => path.filter(|p| !p.is_empty()),
    };
    CatalogError::Parse {
        file: file.to_owned(),
        key,
        message,
        location,
    }
}

/// Dotted path of the innermost key or value covering `span`, found by re-parsing
/// the document with spans (toml errors carry a span but no path). `""` is the
/// document itself; `None` when the document is not syntactically valid TOML or
/// nothing covers the span.
fn path_at(contents: &str, span: std::ops::Range<usize>) -> Option<String> {
    let root = DeTable::parse(contents).ok()?;
    if root.span() == span {
        return Some(String::new());
    }
    let mut path = String::new();
    find_in_table(root.get_ref(), span.start, &mut path).then_some(path)
}

fn find_in_table(table: &DeTable<'_>, offset: usize, path: &mut String) -> bool {
    for (key, value) in table.iter() {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key.get_ref());
        if key.span().contains(&offset) {
            return true;
        }
        // Descend before testing the value's own span: a `[table]` header's span need
        // not cover its body.
        if find_in_value(value.get_ref(), offset, path) || value.span().contains(&offset) {
            return true;
        }
        path.truncate(len);
    }
    false
}

fn find_in_value(value: &DeValue<'_>, offset: usize, path: &mut String) -> bool {
    match value {
        DeValue::Table(table) => find_in_table(table, offset, path),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                if find_in_value(item.get_ref(), offset, path) || item.span().contains(&offset) {
                    return true;
                }
                path.truncate(len);
            }
            false
        }
        _ => false,
    }
}
