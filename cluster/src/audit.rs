//! The residency audit (NAV-05): no area's storage may hold a record of an app homed in
//! another area. Beyond the state machine's guard (it refuses commands for other
//! areas), this looks at the bytes on disk.
//!
//! Every node data dir under the given roots is found (a `state` whose sled directory
//! exists — `state/sled`, or the one `state/sled.current` names after a compaction —
//! beside a `raft-log`). Each one's apps are read, with their home areas, and together they say
//! where every app key lives. Then every file of each node is searched for the keys of
//! apps that node does not hold: the state machine's sled files, the Raft log's chunks
//! and the snapshots. Deleted-but-not-compacted copies count too: they are still stored.
//! Nodes must be stopped, since sled locks its files.
//!
//! An area's file store, where its edges keep a local one (`files/` beside the area's
//! node dirs, as `meridian dev` lays them out), is audited too: its objects are named
//! `{appKey}/…`, so every app key there must be one homed in the store's area.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use meridian_regions::AreaCode;
use serde::Serialize;

use crate::raft::compaction;
use crate::raft::wire::from_bytes;
use crate::state::keys;
use crate::state::App;

/// One node data dir and what it holds.
struct NodeDir {
    path: PathBuf,
    /// Keys (dev and prod) of the apps in its state, with their home areas.
    apps: BTreeMap<String, AreaCode>,
}

/// A record of a foreign app found in a node's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub node: PathBuf,
    /// The node's area, as its own apps say (none when it holds no app).
    pub node_area: Option<AreaCode>,
    pub file: PathBuf,
    pub app_key: String,
    pub home: AreaCode,
    pub occurrences: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub nodes: Vec<PathBuf>,
    /// The local file stores found beside the nodes.
    pub stores: Vec<PathBuf>,
    pub objects_scanned: usize,
    pub apps: usize,
    pub files_scanned: usize,
    pub bytes_scanned: u64,
    pub findings: Vec<Finding>,
}

/// Audits every node data dir under `roots`.
pub fn residency(roots: &[PathBuf]) -> std::io::Result<Report> {
    let mut node_paths = Vec::new();
    for root in roots {
        find_nodes(root, &mut node_paths)?;
    }
    if node_paths.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no node data dir (state/sled… beside raft-log) under the given paths",
        ));
    }
    let nodes: Vec<NodeDir> = node_paths
        .into_iter()
        .map(read_node)
        .collect::<std::io::Result<_>>()?;
    let homes: BTreeMap<&str, AreaCode> = nodes
        .iter()
        .flat_map(|n| n.apps.iter().map(|(k, a)| (k.as_str(), *a)))
        .collect();
    let mut report = Report {
        nodes: nodes.iter().map(|n| n.path.clone()).collect(),
        apps: homes.len() / 2,
        ..Report::default()
    };
    for node in &nodes {
        let homes_here: BTreeSet<AreaCode> = node.apps.values().copied().collect();
        let node_area = match homes_here.len() {
            1 => homes_here.first().copied(),
            _ => None,
        };
        // Another node's apps are foreign here, and so are apps of this node whose home
        // is not the node's area (its state holding them is the violation).
        let foreign: Vec<(&str, AreaCode)> = homes
            .iter()
            .filter(|(key, home)| !node.apps.contains_key(**key) || Some(**home) != node_area)
            .map(|(key, home)| (*key, *home))
            .collect();
        let finders: Vec<(memchr::memmem::Finder<'_>, &str, AreaCode)> = foreign
            .iter()
            .map(|(key, home)| (memchr::memmem::Finder::new(key.as_bytes()), *key, *home))
            .collect();
        let mut files = Vec::new();
        list_files(&node.path, &mut files)?;
        for file in files {
            let bytes = std::fs::read(&file)?;
            report.files_scanned += 1;
            report.bytes_scanned += bytes.len() as u64;
            for (finder, key, home) in &finders {
                let occurrences = finder.find_iter(&bytes).count();
                if occurrences > 0 {
                    report.findings.push(Finding {
                        node: node.path.clone(),
                        node_area,
                        file: file.clone(),
                        app_key: key.to_string(),
                        home: *home,
                        occurrences,
                    });
                }
            }
        }
    }
    audit_stores(&nodes, &homes, &mut report)?;
    Ok(report)
}

/// Where `text` occurs in a node's files (the erasure audit, LIFE-02).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextFinding {
    pub node: PathBuf,
    pub file: PathBuf,
    pub text: String,
    pub occurrences: usize,
}

/// Searches every file of every node data dir under `roots` for each of `texts` (an
/// erased user's id, a phrase of what they wrote): after an erasure has reached the
/// disk (docs/operations.md says when), nothing is found.
pub fn find_text(roots: &[PathBuf], texts: &[String]) -> std::io::Result<Vec<TextFinding>> {
    let mut nodes = Vec::new();
    for root in roots {
        find_nodes(root, &mut nodes)?;
    }
    let finders: Vec<_> = texts
        .iter()
        .map(|text| (memchr::memmem::Finder::new(text.as_bytes()), text))
        .collect();
    let mut findings = Vec::new();
    for node in nodes {
        let mut files = Vec::new();
        list_files(&node, &mut files)?;
        for file in files {
            let bytes = std::fs::read(&file)?;
            for (finder, text) in &finders {
                let occurrences = finder.find_iter(&bytes).count();
                if occurrences > 0 {
                    findings.push(TextFinding {
                        node: node.clone(),
                        file: file.clone(),
                        text: text.to_string(),
                        occurrences,
                    });
                }
            }
        }
    }
    Ok(findings)
}

/// Every `files/` store beside an area's nodes: its objects' app keys must be homed in
/// that area.
fn audit_stores(
    nodes: &[NodeDir],
    homes: &BTreeMap<&str, AreaCode>,
    report: &mut Report,
) -> std::io::Result<()> {
    let mut areas_by_dir = BTreeMap::<&Path, BTreeSet<AreaCode>>::new();
    for node in nodes {
        if let Some(dir) = node.path.parent() {
            areas_by_dir
                .entry(dir)
                .or_default()
                .extend(node.apps.values().copied());
        }
    }
    for (dir, areas) in areas_by_dir {
        let store = dir.join("files");
        if !store.is_dir() {
            continue;
        }
        let store_area = (areas.len() == 1).then(|| areas.first().copied()).flatten();
        report.stores.push(store.clone());
        for entry in std::fs::read_dir(&store)? {
            let app_dir = entry?.path();
            let mut objects = Vec::new();
            if app_dir.is_dir() {
                list_files(&app_dir, &mut objects)?;
            }
            report.objects_scanned += objects.len();
            let key = app_dir.file_name().and_then(|name| name.to_str());
            let Some((key, home)) = key.and_then(|key| Some((key, *homes.get(key)?))) else {
                continue;
            };
            if Some(home) != store_area && !objects.is_empty() {
                report.findings.push(Finding {
                    node: store.clone(),
                    node_area: store_area,
                    file: app_dir.clone(),
                    app_key: key.to_string(),
                    home,
                    occurrences: objects.len(),
                });
            }
        }
    }
    Ok(())
}

fn find_nodes(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let sled = compaction::current_dir(&dir.join("state"));
    if sled.is_ok_and(|sled| sled.is_dir()) && dir.join("raft-log").is_dir() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            find_nodes(&entry.path(), out)?;
        }
    }
    Ok(())
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            list_files(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

fn read_node(path: PathBuf) -> std::io::Result<NodeDir> {
    let sled_dir = compaction::current_dir(&path.join("state"))?;
    let db = sled::open(&sled_dir).map_err(|e| {
        std::io::Error::other(format!(
            "{}: {e} (stop the node before auditing it)",
            sled_dir.display()
        ))
    })?;
    let tree = db.open_tree("state").map_err(std::io::Error::other)?;
    let mut apps = BTreeMap::new();
    for item in tree.scan_prefix(keys::apps::APP) {
        let (_, value) = item.map_err(std::io::Error::other)?;
        let app: App = from_bytes(&value)?;
        for credentials in [&app.dev, &app.prod] {
            apps.insert(credentials.app_key.clone(), app.home);
        }
    }
    Ok(NodeDir { path, apps })
}
