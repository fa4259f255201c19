//! The feed and each user's sync.

use super::*;

fn feed_after(tree: &sled::Tree, after: u64) -> FeedPage {
    match query(tree, &Query::Feed { after, limit: 1000 }) {
        Ok(QueryOutput::Feed(page)) => page,
        other => panic!("{other:?}"),
    }
}

// covers: MSG-01, PRV-02, GRP-05

#[test]
fn the_feed_orders_every_event_and_sync_returns_what_a_user_missed_in_that_order() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(&tree, &[join("g1", vec!["alice".into(), "bob".into()])]);
    let ab = Conversation::private("alice", "bob", "");
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    publish(&tree, vec![text(ab.clone(), "alice", Some("bob"), "one")]).unwrap();
    publish(&tree, vec![text(g1.clone(), "alice", None, "two")]).unwrap();
    let mut typing = text(ab.clone(), "alice", Some("bob"), "typing");
    typing.object_name = "RC:TypSts".into();
    typing.flags = MessageFlags::status();
    publish(&tree, vec![typing]).unwrap();
    publish(&tree, vec![text(ab.clone(), "bob", Some("alice"), "three")]).unwrap();
    // carol joins later: she sees only what comes after (GRP-05).
    run(&tree, &[join("g1", vec!["carol".into()])]);
    let mut later = ctx();
    later.now_ms = 2_000;
    let mut overlay = Overlay::new(&tree);
    apply(
        later,
        &mut overlay,
        &envelope(Command::Publish(Publish {
            app_key: "prodkey001".into(),
            messages: vec![text(g1.clone(), "bob", None, "four")],
        })),
    )
    .unwrap();
    tree.apply_batch(overlay.into_batch()).unwrap();

    // The feed: membership, 3 stored messages and one status message, in order.
    let feed = feed_after(&tree, 0);
    assert!(!feed.missed);
    let kinds: Vec<String> = feed
        .events
        .iter()
        .map(|(_, event)| match event {
            FeedEvent::Message { message, .. } => message.content.clone(),
            FeedEvent::Members { joined, .. } => format!("joined {}", joined.join(",")),
            FeedEvent::Banned { .. } => "banned".into(),
            FeedEvent::Rtc { .. } => "rtc".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "joined alice,bob",
            "one",
            "two",
            "typing",
            "three",
            "joined carol",
            "four"
        ]
    );
    let positions: Vec<u64> = feed.events.iter().map(|(pos, _)| *pos).collect();
    assert_eq!(positions, (1..=7).collect::<Vec<_>>());
    assert_eq!(feed.head, 7);
    assert_eq!(feed_after(&tree, 5).events.len(), 2);

    // bob's sync from nothing: his private and group messages, never the status one.
    let contents = |page: &SyncPage| -> Vec<String> {
        page.messages.iter().map(|m| m.content.clone()).collect()
    };
    let all = sync_of(&tree, "bob", 0, 100);
    assert_eq!(contents(&all), ["one", "two", "three", "four"]);
    assert_eq!((all.cursor, all.more), (7, false));
    assert_eq!(all.groups, ["g1"]);
    // Paged: two at a time, resuming at the cursor, nothing repeated or skipped.
    let first = sync_of(&tree, "bob", 0, 2);
    assert_eq!(
        (contents(&first), first.more),
        (vec!["one".into(), "two".into()], true)
    );
    let second = sync_of(&tree, "bob", first.cursor, 2);
    assert_eq!(contents(&second), ["three", "four"]);
    let rest = sync_of(&tree, "bob", second.cursor, 2);
    assert!(rest.messages.is_empty() && !rest.more);
    // carol joined after "two": she gets only "four".
    assert_eq!(contents(&sync_of(&tree, "carol", 0, 100)), ["four"]);
    // A cursor past everything answers nothing.
    assert!(sync_of(&tree, "alice", 7, 100).messages.is_empty());
}

// covers: MSG-01, GRP-05

#[test]
fn a_sync_page_counts_only_what_the_user_may_see_so_nothing_behind_it_is_skipped() {
    // Before: a group's oldest `limit + 1` messages were read and then filtered, so a page
    // of messages from before the user joined (or meant for others) hid what came after.
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(&tree, &[join("g1", vec!["alice".into(), "carol".into()])]);
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    for n in 0..3 {
        publish(
            &tree,
            vec![text(g1.clone(), "alice", None, &format!("before {n}"))],
        )
        .unwrap();
    }
    run(&tree, &[join("g1", vec!["bob".into()])]);
    for n in 0..3 {
        let mut directed = text(g1.clone(), "alice", None, &format!("for carol {n}"));
        directed.visible_to = vec!["alice".into(), "carol".into()];
        publish(&tree, vec![directed]).unwrap();
    }
    publish(&tree, vec![text(g1.clone(), "alice", None, "for all")]).unwrap();
    let page = sync_of(&tree, "bob", 0, 2);
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["for all"]);
    assert!(!page.more);
}

/// The state as a sync reads it while the node keeps applying: `landing` is applied to
/// the tree right after the first read (the feed head), before any other.
struct ApplyingMidRead<'a> {
    tree: &'a sled::Tree,
    landing: std::cell::RefCell<Option<Vec<Envelope>>>,
}

impl StateRead for ApplyingMidRead<'_> {
    fn get_raw(&self, key: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        let value = self.tree.get_raw(key);
        if let Some(envelopes) = self.landing.borrow_mut().take() {
            run(self.tree, &envelopes);
        }
        value
    }
    fn scan_raw(&self, prefix: &[u8]) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.tree.scan_raw(prefix)
    }
    fn visit_raw(
        &self,
        prefix: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> std::io::Result<()> {
        self.tree.visit_raw(prefix, reverse, visit)
    }
    fn visit_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> std::io::Result<()> {
        self.tree.visit_from(prefix, start, visit)
    }
}

// covers: MSG-01

#[test]
fn a_sync_hands_out_nothing_past_the_head_it_answers_even_while_applies_land() {
    // Issue 16's chaos duplicate: a group message applied while a sync was reading was
    // handed out by the sync under an older cursor, then again by its live event.
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(&tree, &[join("g1", vec!["alice".into(), "bob".into()])]);
    let ab = Conversation::private("alice", "bob", "");
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    publish(&tree, vec![text(g1.clone(), "alice", None, "before")]).unwrap();
    let head = feed_after(&tree, 0).head;
    let landing = vec![envelope(Command::Publish(Publish {
        app_key: "prodkey001".into(),
        messages: vec![
            text(ab, "alice", Some("bob"), "late private"),
            text(g1, "alice", None, "late group"),
        ],
    }))];
    let racing = ApplyingMidRead {
        tree: &tree,
        landing: std::cell::RefCell::new(Some(landing)),
    };
    let request = SyncRequest {
        user_id: "bob".into(),
        after: 0,
        since_ms: 0,
        limit: 100,
    };
    let page = state::cross_domain::sync::sync(&racing, "prodkey001", &request).unwrap();
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["before"]);
    assert_eq!((page.cursor, page.more), (head, false));
    // What landed comes after that cursor, once: the next sync (or its live events).
    let next = sync_of(&tree, "bob", page.cursor, 100);
    let contents: Vec<&str> = next.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["late private", "late group"]);
    assert!(next.messages.iter().all(|m| m.pos > page.cursor));
}

// covers: MSG-08, CHR-02

#[test]
fn bans_chatroom_joins_and_group_changes_reach_the_feed() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(
        &tree,
        &[envelope(Command::CreateChatrooms(CreateChatrooms {
            app_key: "prodkey001".into(),
            rooms: vec![("r1".into(), "one".into()), ("r2".into(), "two".into())],
        }))],
    );
    let join_room = |room: &str| {
        envelope(Command::JoinChatroom(JoinChatroom {
            app_key: "prodkey001".into(),
            room_id: room.into(),
            user_id: "ann".into(),
        }))
    };
    assert!(run(&tree, &[join_room("r1")])[0].is_ok());
    // One room at a time: joining r2 leaves r1.
    assert!(run(&tree, &[join_room("r2")])[0].is_ok());
    let members = |room: &str| match query(
        &tree,
        &Query::RoomMembers {
            app_key: "prodkey001".into(),
            room_id: room.into(),
        },
    ) {
        Ok(QueryOutput::RoomMembers(m)) => m.into_iter().map(|(u, _)| u).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert!(members("r1").is_empty());
    assert_eq!(members("r2"), ["ann"]);
    // A room ban kicks her out and keeps her out.
    run(
        &tree,
        &[envelope(Command::ChangeRoomSet(ChangeRoomSet {
            app_key: "prodkey001".into(),
            room_id: Some("r2".into()),
            set: RoomSet::Blocked,
            members: vec!["ann".into()],
            until_ms: 0,
            present: true,
        }))],
    );
    assert!(members("r2").is_empty());
    assert!(matches!(
        run(&tree, &[join_room("r2")])[0],
        Err(CommandError::Forbidden { .. })
    ));
    run(
        &tree,
        &[envelope(Command::BlockUsers(BlockUsers {
            app_key: "prodkey001".into(),
            user_ids: vec!["ann".into()],
            until_ms: 10_000,
        }))],
    );
    let events: Vec<FeedEvent> = feed_after(&tree, 0)
        .events
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let room_change = |id: &str, joined: &[&str], left: &[&str]| FeedEvent::Members {
        app_key: "prodkey001".into(),
        kind: ConversationType::Chatroom,
        id: id.into(),
        joined: joined.iter().map(|s| s.to_string()).collect(),
        left: left.iter().map(|s| s.to_string()).collect(),
        dismissed: false,
    };
    assert_eq!(
        events,
        [
            room_change("r1", &["ann"], &[]),
            room_change("r1", &[], &["ann"]),
            room_change("r2", &["ann"], &[]),
            room_change("r2", &[], &["ann"]),
            FeedEvent::Banned {
                app_key: "prodkey001".into(),
                user_ids: vec!["ann".into()],
            },
        ]
    );
}

// covers: LIFE-02

#[test]
fn an_age_trim_removes_the_oldest_events_in_bounded_batches_and_readers_behind_it_resync() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let ab = Conversation::private("alice", "bob", "");
    for n in 0..6 {
        let content = format!("m{n}");
        publish(
            &tree,
            vec![text(ab.clone(), "alice", Some("bob"), &content)],
        )
        .unwrap();
    }
    let trim = |through| at(&tree, 1_000, Command::TrimFeed(TrimFeed { through }));
    assert_eq!(trim(4), Ok(Output::Count(4)));
    let page = feed_after(&tree, 0);
    assert!(page.missed, "a reader behind the trim resyncs");
    let positions: Vec<u64> = page.events.iter().map(|(pos, _)| *pos).collect();
    assert_eq!(positions, [5, 6]);
    assert!(
        !feed_after(&tree, 4).missed,
        "a reader at the trim missed nothing"
    );
    // Past the head it stops at the head; again, it passes nothing.
    assert_eq!(trim(100), Ok(Output::Count(2)));
    assert_eq!(trim(100), Ok(Output::Count(0)));
    let page = feed_after(&tree, 6);
    assert!(page.events.is_empty() && !page.missed && page.head == 6);
    // What comes after is kept, and the messages themselves stay in history.
    publish(&tree, vec![text(ab.clone(), "bob", Some("alice"), "later")]).unwrap();
    let page = feed_after(&tree, 6);
    assert_eq!(page.events.len(), 1);
    assert_eq!(history(&tree, &ab, false, 100).len(), 7);

    // A long feed goes a batch per command.
    let mut overlay = Overlay::new(&tree);
    overlay
        .put(state::keys::feed::HEAD.to_vec(), &12_000u64)
        .unwrap();
    tree.apply_batch(overlay.into_batch()).unwrap();
    // Positions 1–6 went before: the next batches start at 7.
    assert_eq!(
        trim(11_000),
        Ok(Output::Count(state::feed::TRIM_FEED_BATCH))
    );
    assert_eq!(
        trim(11_000),
        Ok(Output::Count(state::feed::TRIM_FEED_BATCH))
    );
    assert_eq!(
        trim(11_000),
        Ok(Output::Count(11_000 - 6 - 2 * state::feed::TRIM_FEED_BATCH))
    );
    assert_eq!(trim(11_000), Ok(Output::Count(0)));
    assert!(feed_after(&tree, 10_999).missed && !feed_after(&tree, 11_000).missed);
}

#[test]
fn a_page_for_an_interest_holds_only_the_events_naming_its_keys_and_says_how_far_it_looked() {
    use crate::state::interest;
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(&tree, &[join("g1", vec!["alice".into(), "bob".into()])]);
    let ab = Conversation::private("alice", "bob", "");
    let cd = Conversation::private("carol", "dave", "");
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    publish(
        &tree,
        vec![text(cd.clone(), "carol", Some("dave"), "not dave's edge")],
    )
    .unwrap();
    publish(&tree, vec![text(ab, "alice", Some("bob"), "to bob")]).unwrap();
    publish(&tree, vec![text(g1, "alice", None, "to g1")]).unwrap();
    publish(&tree, vec![text(cd, "dave", Some("carol"), "nor this")]).unwrap();
    let head = feed_after(&tree, 0).head;
    let contents = |wanted: &dyn Fn(u64) -> bool| {
        let (page, through) =
            crate::state::feed::page_for(&tree, 0, 100, 100, &|key| wanted(key)).unwrap();
        let contents: Vec<String> = page
            .events
            .iter()
            .map(|(_, event)| match event {
                FeedEvent::Message { message, .. } => message.content.clone(),
                FeedEvent::Members { joined, .. } => format!("joined {}", joined.join(",")),
                other => format!("{other:?}"),
            })
            .collect();
        (contents, through)
    };
    let bob = interest::user("prodkey001", "bob");
    let g1 = interest::group("prodkey001", ConversationType::Group, "g1");
    assert_eq!(
        contents(&|key| key == bob),
        (vec!["joined alice,bob".into(), "to bob".into()], head)
    );
    assert_eq!(contents(&|key| key == g1).0, ["joined alice,bob", "to g1"]);
    assert_eq!(contents(&|_| false), (vec![], head), "looked at everything");
    // A short scan stops early and says where.
    let (page, through) =
        crate::state::feed::page_for(&tree, 0, 100, 2, &|key| key == bob).unwrap();
    assert_eq!((page.events.len(), through), (1, 2));
}
