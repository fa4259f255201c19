//! Presence and edge leases.

use super::*;

#[test]
fn presence_counts_while_the_edge_lease_holds_and_clears_with_the_edge() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let at = |now_ms: u64, command: Command| super::at(&tree, now_ms, command);
    let online = |now_ms: u64| match query(
        &tree,
        &Query::Online {
            app_key: "prodkey001".into(),
            user_id: "ann".into(),
            now_ms,
        },
    ) {
        Ok(QueryOutput::Sessions(s)) => s.len(),
        other => panic!("{other:?}"),
    };
    let presence = |edge_id, session_id, online: bool| {
        let status = if online {
            DeviceStatus::Online
        } else {
            DeviceStatus::Offline
        };
        session_change("ann", edge_id, session_id, status)
    };
    assert!(at(1_000, presence(7, 1, true)).is_ok());
    assert!(at(1_000, presence(8, 2, true)).is_ok());
    assert_eq!(online(2_000), 2);
    // Edge 7 renews its lease, edge 8 falls silent and, past its lease, does not count.
    at(20_000, Command::EdgeAlive(EdgeAlive { edge_id: 7 })).unwrap();
    assert_eq!(online(31_000), 1);
    // The sweep removes edge 8's leftovers; a session end removes one record.
    at(31_000, Command::ExpireEdges(ExpireEdges)).unwrap();
    at(32_000, presence(7, 1, false)).unwrap();
    assert_eq!(online(32_000), 0);
    // A clean stop takes every session of the edge offline at once.
    at(33_000, presence(7, 3, true)).unwrap();
    assert_eq!(online(33_000), 1);
    at(34_000, Command::EdgeStopped(EdgeStopped { edge_id: 7 })).unwrap();
    assert_eq!(online(34_000), 0);
}
