//! The area catalog: one TOML file per area (`regions/areas/<code>.toml`), parsed,
//! validated, and keyed by [`AreaCode`].
//!
//! Every error names the file and, where one applies, the dotted key
//! (`retention.offline_days`, `cluster.peers[1].id`), so an operator can fix a bad
//! file without reading code.

mod config;
mod error;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::area::AreaCode;

pub use config::{
    AreaConfig, CatalogEntry, ClusterSeeds, EdgeDiscovery, HostPair, InvalidKey, RateLimits,
    Retention, SeedPeer,
};
use error::toml_error;
pub use error::{CatalogError, Location};

/// All configured areas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    areas: BTreeMap<AreaCode, AreaConfig>,
}

/// The shipped catalog, embedded so `builtin()` needs no files at run time.
const BUILTIN: [(&str, &str); 5] = [
    ("regions/areas/cn.toml", include_str!("../../areas/cn.toml")),
    ("regions/areas/sg.toml", include_str!("../../areas/sg.toml")),
    (
        "regions/areas/sg-b.toml",
        include_str!("../../areas/sg-b.toml"),
    ),
    ("regions/areas/na.toml", include_str!("../../areas/na.toml")),
    ("regions/areas/sa.toml", include_str!("../../areas/sa.toml")),
];

impl Catalog {
    /// Loads every `*.toml` file in `dir` (other files are ignored), in name order.
    pub fn load_dir(dir: &Path) -> Result<Catalog, CatalogError> {
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |source| CatalogError::Io { path, source }
        };
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let path = entry.map_err(io_error(dir))?.path();
            if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(CatalogError::NoAreas {
                dir: dir.to_owned(),
            });
        }
        // Name order makes "first defined" in duplicate errors deterministic.
        paths.sort();
        let mut files = Vec::with_capacity(paths.len());
        for path in &paths {
            let contents = fs::read_to_string(path).map_err(io_error(path))?;
            files.push((path.display().to_string(), contents));
        }
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(name, contents)| (name.as_str(), contents.as_str()))
            .collect();
        Catalog::from_files(&files)
    }

    /// Builds a catalog from `(file name, contents)` pairs. The file name is used for
    /// error messages and its stem must be the lowercase area code.
    pub fn from_files(files: &[(&str, &str)]) -> Result<Catalog, CatalogError> {
        let mut areas = BTreeMap::new();
        let mut sources: BTreeMap<AreaCode, &str> = BTreeMap::new();
        for &(file, contents) in files {
            let config = parse_area(file, contents)?;
            if let Some(first) = sources.insert(config.code, file) {
                return Err(CatalogError::DuplicateArea {
                    file: file.to_owned(),
                    code: config.code,
                    first: first.to_owned(),
                });
            }
            areas.insert(config.code, config);
        }
        Ok(Catalog { areas })
    }

    /// The catalog shipped in `regions/areas/`, compiled in.
    pub fn builtin() -> Catalog {
        // The inputs are compile-time constants checked by a unit test, so failure
        // here is a bug in this crate, not a runtime condition to handle.
        Catalog::from_files(&BUILTIN)
            .unwrap_or_else(|err| panic!("built-in area catalog is invalid: {err}"))
    }

    pub fn get(&self, code: AreaCode) -> Option<&AreaConfig> {
        self.areas.get(&code)
    }

    /// Areas in `AreaCode` order.
    pub fn iter(&self) -> impl Iterator<Item = (AreaCode, &AreaConfig)> + '_ {
        self.areas.iter().map(|(code, config)| (*code, config))
    }

    /// Codes of the configured areas, in `AreaCode` order.
    pub fn codes(&self) -> impl Iterator<Item = AreaCode> + '_ {
        self.areas.keys().copied()
    }
}

/// Parses and validates one area file.
fn parse_area(file: &str, contents: &str) -> Result<AreaConfig, CatalogError> {
    let config: AreaConfig =
        toml::from_str(contents).map_err(|err| toml_error(file, contents, &err))?;
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem != config.code.as_str().to_ascii_lowercase() {
        return Err(CatalogError::CodeMismatch {
            file: file.to_owned(),
            stem,
            code: config.code,
        });
    }
    config.validate().map_err(|error| CatalogError::Invalid {
        file: file.to_owned(),
        error,
    })?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SG_FILE: &str = "regions/areas/sg.toml";

    fn sg() -> &'static str {
        BUILTIN[1].1
    }

    /// The built-in SG file with one exact substring replaced.
    fn sg_with(from: &str, to: &str) -> String {
        assert!(sg().contains(from), "fixture lacks {from:?}");
        sg().replacen(from, to, 1)
    }

    fn load_sg(contents: &str) -> CatalogError {
        Catalog::from_files(&[(SG_FILE, contents)]).unwrap_err()
    }

    #[test]
    fn builtin_loads_all_five_areas() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.codes().collect::<Vec<_>>(), AreaCode::ALL);
        for (code, config) in catalog.iter() {
            assert_eq!(config.code, code);
            assert_eq!(catalog.get(code), Some(config));
            config.validate().unwrap();
            let lower = code.as_str().to_ascii_lowercase();
            assert_eq!(config.nav.primary, format!("nav-{lower}.meridian.example"));
            assert_eq!(
                config
                    .cluster
                    .peers
                    .iter()
                    .map(|p| p.id)
                    .collect::<Vec<_>>(),
                [1, 2, 3]
            );
            assert_eq!(
                config.cluster.peers[0].addr,
                format!("{lower}-1.internal:7100")
            );
            assert_eq!(config.retention, Retention::default());
            assert_eq!(config.rate_limits, RateLimits::default());
        }
    }

    #[test]
    fn load_dir_reads_the_shipped_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("areas");
        assert_eq!(Catalog::load_dir(&dir).unwrap(), Catalog::builtin());
    }

    #[test]
    fn load_dir_ignores_other_files_and_names_paths_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("README.md"), "not toml").unwrap();
        fs::write(dir.path().join("sg.toml"), sg()).unwrap();
        let catalog = Catalog::load_dir(dir.path()).unwrap();
        assert_eq!(catalog.codes().collect::<Vec<_>>(), [AreaCode::Sg]);

        let bad = dir.path().join("na.toml");
        fs::write(
            &bad,
            sg_with("code = \"SG\"", "code = \"NA\"")
                .replace("broadcasts_per_day = 3", "broadcasts_per_day = 1"),
        )
        .unwrap();
        let err = Catalog::load_dir(dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: key rate_limits.broadcasts_per_day: must be at least broadcasts_per_hour (2), got 1",
                bad.display()
            )
        );
    }

    #[test]
    fn load_dir_reports_missing_and_empty_directories() {
        let dir = tempfile::tempdir().unwrap();
        let err = Catalog::load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, CatalogError::NoAreas { .. }));
        assert_eq!(
            err.to_string(),
            format!("{}: no area files (*.toml) found", dir.path().display())
        );

        let missing = dir.path().join("nope");
        let err = Catalog::load_dir(&missing).unwrap_err();
        assert!(matches!(err, CatalogError::Io { .. }));
        assert!(
            err.to_string()
                .starts_with(&format!("{}: ", missing.display())),
            "{err}"
        );
        assert_eq!(err.file(), missing.display().to_string());
    }

    #[test]
    fn bad_area_code_names_key_and_valid_codes() {
        let err = load_sg(&sg_with("code = \"SG\"", "code = \"SGB\""));
        assert!(matches!(err, CatalogError::Parse { .. }), "{err:?}");
        assert_eq!(err.key(), Some("code"));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key code: unknown area code \"SGB\", \
             expected one of CN, SG, SG-B, NA, SA (line 2, column 8)"
        );
    }

    #[test]
    fn area_code_in_file_is_case_insensitive() {
        let catalog = Catalog::from_files(&[(SG_FILE, &sg_with("\"SG\"", "\"sg\""))]).unwrap();
        assert_eq!(catalog.codes().collect::<Vec<_>>(), [AreaCode::Sg]);
    }

    #[test]
    fn offline_days_out_of_range() {
        let err = load_sg(&sg_with("offline_days = 7", "offline_days = 9"));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key retention.offline_days: must be between 1 and 7, got 9"
        );
        let err = load_sg(&sg_with("offline_days = 7", "offline_days = 0"));
        assert_eq!(err.key(), Some("retention.offline_days"));
        assert!(
            err.to_string().ends_with("must be between 1 and 7, got 0"),
            "{err}"
        );
    }

    #[test]
    fn other_ranges() {
        let cases = [
            (
                ("ultragroup_history_days = 7", "ultragroup_history_days = 1096"),
                "key retention.ultragroup_history_days: must be between 1 and 1095, got 1096",
            ),
            (
                ("chatroom_history_days = 60", "chatroom_history_days = 0"),
                "key retention.chatroom_history_days: must be at least 1, got 0",
            ),
            (
                ("client_messages_per_sec = 5", "client_messages_per_sec = 0"),
                "key rate_limits.client_messages_per_sec: must be at least 1, got 0",
            ),
            (
                ("broadcasts_per_day = 3", "broadcasts_per_day = 1"),
                "key rate_limits.broadcasts_per_day: must be at least broadcasts_per_hour (2), got 1",
            ),
        ];
        for ((from, to), want) in cases {
            let err = load_sg(&sg_with(from, to));
            assert_eq!(err.to_string(), format!("{SG_FILE}: {want}"));
        }
    }

    #[test]
    fn duplicate_peer_id() {
        let err = load_sg(&sg_with("{ id = 2,", "{ id = 1,"));
        assert!(matches!(err, CatalogError::Invalid { .. }), "{err:?}");
        assert_eq!(err.key(), Some("cluster.peers[1].id"));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key cluster.peers[1].id: duplicate peer id 1 \
             (also cluster.peers[0].id)"
        );
    }

    #[test]
    fn duplicate_peer_addr() {
        let err = load_sg(&sg_with("sg-3.internal:7100", "sg-1.internal:7100"));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key cluster.peers[2].addr: duplicate peer address \
             \"sg-1.internal:7100\" (also cluster.peers[0].addr)"
        );
    }

    #[test]
    fn empty_peers() {
        let start = sg().find("peers = [").unwrap();
        let end = start + sg()[start..].find("]\n").unwrap() + 2;
        let contents = format!("{}peers = []\n{}", &sg()[..start], &sg()[end..]);
        let err = load_sg(&contents);
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key cluster.peers: must list at least one seed peer"
        );
    }

    #[test]
    fn empty_and_blank_hosts() {
        let err = load_sg(&sg_with(
            "primary = \"nav-sg.meridian.example\"",
            "primary = \"\"",
        ));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key nav.primary: must not be empty"
        );
        let err = load_sg(&sg_with(
            "backup = \"api-sg-backup.meridian.example\"",
            "backup = \"api sg\"",
        ));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key api.backup: must not contain whitespace, got \"api sg\""
        );
        let err = load_sg(&sg_with("\"edge-sg-2.meridian.example:443\"", "\" \""));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key edges.static[1]: must not be empty"
        );
        let err = load_sg(&sg_with("addr = \"sg-2.internal:7100\"", "addr = \"\""));
        assert_eq!(err.key(), Some("cluster.peers[1].addr"));
    }

    #[test]
    fn edges_need_a_source() {
        let start = sg().find("discovery =").unwrap();
        let end = sg().find("[cluster]").unwrap();
        let contents = format!("{}\n{}", &sg()[..start], &sg()[end..]);
        let err = load_sg(&contents);
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key edges: needs a discovery name or at least one static edge"
        );
        // Either source alone is enough.
        let discovery_only = format!(
            "{}discovery = \"_e._tcp.sg.example\"\n\n{}",
            &sg()[..start],
            &sg()[end..]
        );
        let catalog = Catalog::from_files(&[(SG_FILE, &discovery_only)]).unwrap();
        let edges = &catalog.get(AreaCode::Sg).unwrap().edges;
        assert!(edges.static_edges.is_empty());
        assert_eq!(edges.discovery.as_deref(), Some("_e._tcp.sg.example"));
    }

    #[test]
    fn unknown_key_names_dotted_path() {
        let err = load_sg(&sg_with("[nav]\n", "[nav]\nprmary = \"x\"\n"));
        assert!(matches!(err, CatalogError::UnknownKey { .. }), "{err:?}");
        assert_eq!(err.key(), Some("nav.prmary"));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key nav.prmary: unknown key `prmary`, \
             expected `primary` or `backup` (line 5, column 1)"
        );

        let err = load_sg(&sg_with("{ id = 2, ", "{ id = 2, weight = 3, "));
        assert_eq!(err.key(), Some("cluster.peers[1].weight"));
        assert!(err.to_string().contains("unknown key `weight`"), "{err}");

        let err = load_sg(&sg_with("[nav]", "extra = 1\n\n[nav]"));
        assert_eq!(err.key(), Some("extra"));
        assert!(
            err.to_string().starts_with(
                "regions/areas/sg.toml: key extra: unknown key `extra`, expected one of `code`"
            ),
            "{err}"
        );
    }

    #[test]
    fn mismatched_file_stem() {
        let err = Catalog::from_files(&[("regions/areas/na.toml", sg())]).unwrap_err();
        assert!(matches!(err, CatalogError::CodeMismatch { .. }), "{err:?}");
        assert_eq!(err.key(), Some("code"));
        assert_eq!(
            err.to_string(),
            "regions/areas/na.toml: key code: area SG must be in sg.toml, not na.toml"
        );
        // The stem is the lowercase code exactly; "SG.toml" is not accepted.
        let err = Catalog::from_files(&[("SG.toml", sg())]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SG.toml: key code: area SG must be in sg.toml, not SG.toml"
        );
    }

    #[test]
    fn duplicate_area() {
        let err = Catalog::from_files(&[("a/sg.toml", sg()), ("b/sg.toml", sg())]).unwrap_err();
        assert!(matches!(err, CatalogError::DuplicateArea { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "b/sg.toml: key code: area SG is already defined in a/sg.toml"
        );
    }

    #[test]
    fn malformed_toml_names_line() {
        let err = load_sg(&sg_with("[retention]", "[retention"));
        assert!(matches!(err, CatalogError::Parse { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: unclosed table, expected `]` (line 24, column 11)"
        );
        let err = load_sg(&sg_with("offline_days = 7", "offline_days = "));
        let msg = err.to_string();
        assert!(msg.starts_with("regions/areas/sg.toml: "), "{msg}");
        assert!(msg.ends_with("(line 25, column 16)"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn wrong_type_names_key() {
        let err = load_sg(&sg_with("offline_days = 7", "offline_days = \"seven\""));
        assert_eq!(err.key(), Some("retention.offline_days"));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key retention.offline_days: invalid type: string \"seven\", \
             expected u32 (line 25, column 16)"
        );
    }

    #[test]
    fn missing_key_is_named() {
        let err = load_sg(&sg_with(
            "backup = \"api-sg-backup.meridian.example\"\n",
            "",
        ));
        assert_eq!(err.key(), Some("api.backup"));
        assert_eq!(
            err.to_string(),
            "regions/areas/sg.toml: key api.backup: missing field `backup` (line 8, column 1)"
        );
        let err = load_sg(&sg_with("code = \"SG\"\n", ""));
        assert_eq!(err.key(), Some("code"));
        assert!(
            err.to_string()
                .starts_with("regions/areas/sg.toml: key code: missing field `code`"),
            "{err}"
        );
        // Same when the document starts with a key, so the root span begins at one.
        let no_comment = sg()[sg().find("[nav]").unwrap()..].to_owned();
        let err = load_sg(&no_comment);
        assert_eq!(err.key(), Some("code"), "{err}");
    }

    #[test]
    fn retention_and_rate_limits_are_optional() {
        let body = &sg()[..sg().find("[retention]").unwrap()];
        let catalog = Catalog::from_files(&[(SG_FILE, body)]).unwrap();
        let sg = catalog.get(AreaCode::Sg).unwrap();
        assert_eq!(sg.retention, Retention::default());
        assert_eq!(sg.retention.offline_days, 7);
        assert_eq!(sg.rate_limits, RateLimits::default());
        assert_eq!(sg.rate_limits.api_ultragroup_chatroom_per_sec, 100);

        // A partial section keeps the defaults for the keys it leaves out.
        let partial = format!("{body}[retention]\noffline_days = 3\n");
        let catalog = Catalog::from_files(&[(SG_FILE, &partial)]).unwrap();
        let retention = &catalog.get(AreaCode::Sg).unwrap().retention;
        assert_eq!(retention.offline_days, 3);
        assert_eq!(retention.private_history_days, 180);
    }

    #[test]
    fn config_round_trips_through_toml() {
        let catalog = Catalog::builtin();
        for (_, config) in catalog.iter() {
            let text = toml::to_string(config).unwrap();
            assert!(text.contains("static = ["), "{text}");
            let back: AreaConfig = toml::from_str(&text).unwrap();
            assert_eq!(&back, config);
        }
    }

    #[test]
    fn location_counts_lines_and_chars() {
        assert_eq!(Location::of("a\nbé c", 6), Location { line: 2, column: 4 });
        assert_eq!(Location::of("abc", 0), Location { line: 1, column: 1 });
    }
}
