//! Groups and their memberships.

use super::*;

#[test]
fn groups_hold_at_most_3000_members_and_keep_both_indexes() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let out = run(
        &tree,
        &[join("g1", ids("m", 2999)), join("g1", vec!["last".into()])],
    );
    assert!(matches!(&out[1], Ok(Output::Group(g)) if g.members == 3000));
    let over = run(&tree, &[join("g1", vec!["extra".into(), "m1".into()])]);
    assert_eq!(over[0], Err(CommandError::MemberCap { limit: 3000 }));
    let QueryOutput::Members(group, members) = query(
        &tree,
        &Query::GroupMembers {
            app_key: "prodkey001".into(),
            group_id: "g1".into(),
        },
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!((group.members, members.len()), (3000, 3000));
    assert!(
        !members.iter().any(|m| m.user_id == "extra"),
        "a refused join changes nothing"
    );

    run(&tree, &[join("g2", vec!["m1".into()])]);
    let user_groups = |user: &str| match query(
        &tree,
        &Query::UserGroups {
            app_key: "prodkey001".into(),
            user_id: user.into(),
        },
    )
    .unwrap()
    {
        QueryOutput::Groups(groups) => groups.into_iter().map(|g| g.group_id).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(user_groups("m1"), ["g1", "g2"]);
    run(
        &tree,
        &[
            envelope(Command::QuitGroup(QuitGroup {
                app_key: "prodkey001".into(),
                group_id: "g1".into(),
                user_ids: vec!["m1".into(), "not-a-member".into()],
            })),
            envelope(Command::DismissGroup(DismissGroup {
                app_key: "prodkey001".into(),
                group_id: "g2".into(),
            })),
        ],
    );
    assert!(user_groups("m1").is_empty());
    assert_eq!(user_groups("m2"), ["g1"]);
    // A dismissed group is as one never created: no members (API-05).
    assert!(matches!(
        query(
            &tree,
            &Query::GroupMembers {
                app_key: "prodkey001".into(),
                group_id: "g2".into()
            }
        ),
        Ok(QueryOutput::Members(group, members)) if group.members == 0 && members.is_empty()
    ));
    let bad = run(&tree, &[join("bad/id", vec!["a".into()])]);
    assert!(matches!(&bad[0], Err(CommandError::Invalid { field, .. }) if field == "groupId"));
}
