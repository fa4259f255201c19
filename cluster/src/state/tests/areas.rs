//! The area catalog.

use super::*;

#[test]
fn the_area_catalog_keeps_one_valid_entry_per_area() {
    use meridian_regions::{CatalogEntry, EdgeDiscovery, HostPair};
    let (_dir, tree) = tree();
    let entry = |code: AreaCode, api: &str| CatalogEntry {
        code,
        nav: HostPair {
            primary: format!("nav-{code}.example.com"),
            backup: format!("nav-{code}-b.example.com"),
        },
        api: HostPair {
            primary: api.into(),
            backup: format!("{api}/backup"),
        },
        edges: EdgeDiscovery {
            discovery: Some(format!("_meridian-edge._tcp.{code}.example.com")),
            static_edges: Vec::new(),
            tls: true,
        },
    };
    let mut na = entry(AreaCode::Na, "https://api-na.example.com");
    na.edges.discovery = None;
    na.edges.static_edges = vec!["edge-na.example.com:443".into()];
    let sg = entry(AreaCode::Sg, "https://api-sg.example.com");
    let out = run(
        &tree,
        &[
            command(Command::PutAreaEntry(PutAreaEntry(na.clone()))),
            command(Command::PutAreaEntry(PutAreaEntry(sg.clone()))),
        ],
    );
    assert_eq!(out[1], Ok(Output::AreaEntry(sg.clone())));
    // Another area's entry is operator metadata: any area's cluster may keep it.
    assert_eq!(
        query(&tree, &Query::AreaCatalog).unwrap(),
        QueryOutput::AreaCatalog(vec![sg.clone(), na.clone()])
    );

    // A bad entry is refused and the stored one stays.
    let mut no_edges = entry(AreaCode::Sg, "https://other.example.com");
    no_edges.edges.discovery = None;
    let mut blank_nav = entry(AreaCode::Sg, "https://other.example.com");
    blank_nav.nav.backup = " ".into();
    let out = run(
        &tree,
        &[
            command(Command::PutAreaEntry(PutAreaEntry(no_edges))),
            command(Command::PutAreaEntry(PutAreaEntry(blank_nav))),
        ],
    );
    assert!(
        matches!(&out[0], Err(CommandError::Invalid { field, .. }) if field == "edges"),
        "{out:?}"
    );
    assert!(
        matches!(&out[1], Err(CommandError::Invalid { field, .. }) if field == "nav.backup"),
        "{out:?}"
    );
    assert_eq!(
        query(&tree, &Query::AreaEntry { code: AreaCode::Sg }).unwrap(),
        QueryOutput::AreaEntry(sg)
    );

    // A put replaces; a delete removes; deleting again is not found.
    let moved = entry(AreaCode::Sg, "https://api2-sg.example.com");
    let delete = || {
        command(Command::DeleteAreaEntry(DeleteAreaEntry {
            code: AreaCode::Na,
        }))
    };
    let out = run(
        &tree,
        &[
            command(Command::PutAreaEntry(PutAreaEntry(moved.clone()))),
            delete(),
        ],
    );
    assert_eq!(out[1], Ok(Output::Done));
    assert_eq!(
        query(&tree, &Query::AreaCatalog).unwrap(),
        QueryOutput::AreaCatalog(vec![moved])
    );
    assert!(matches!(
        run(&tree, &[delete()])[0],
        Err(CommandError::NotFound { .. })
    ));
    assert!(matches!(
        query(&tree, &Query::AreaEntry { code: AreaCode::Na }),
        Err(CommandError::NotFound { .. })
    ));
}

// covers: SYS-03
