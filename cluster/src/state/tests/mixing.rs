//! Mixing orders (RTC-09): an order needs a live room, is checked against every limit at
//! its edge, is changed by starting again, and ends when stopped or with the room.

use meridian_proto::rtc::{Role, RoomKind};

use super::rtc::{app_tree, join, rtc, APP};
use super::*;
use crate::state::rtc::{
    ChangeMix, LayoutKind, MixChange, MixOrder, MixRegion, MixSettings, BITRATE_KBPS, MAX_CANVAS,
    MAX_FPS, MAX_PUSH_URLS, MIN_CANVAS_SIDE,
};

// covers: RTC-09

fn mix(tree: &sled::Tree, at_ms: u64, change: MixChange) -> Result<Output, CommandError> {
    let command = Command::ChangeMix(ChangeMix {
        app_key: APP.into(),
        room_id: "r1".into(),
        change,
    });
    at(tree, at_ms, command)
}

fn start(settings: &MixSettings) -> MixChange {
    MixChange::Start(Box::new(settings.clone()))
}

fn orders(tree: &sled::Tree) -> Vec<MixOrder> {
    match query(tree, &Query::RtcMixes).unwrap() {
        QueryOutput::RtcMixes(orders) => orders,
        other => panic!("{other:?}"),
    }
}

fn adaptive() -> MixSettings {
    MixSettings {
        layout: LayoutKind::Adaptive,
        width: 640,
        height: 360,
        fps: 25,
        bitrate_kbps: 800,
        push_urls: vec!["rtmp://cdn.example/live/key".into()],
        main_user_id: None,
        regions: Vec::new(),
    }
}

fn region(user: &str, x: u32, width: u32) -> MixRegion {
    MixRegion {
        user_id: user.into(),
        x,
        y: 0,
        width,
        height: 100,
    }
}

#[test]
fn an_order_needs_a_room_is_changed_by_starting_again_and_ends_with_the_room() {
    let (_dir, tree) = app_tree();
    let refused = mix(&tree, 2_000, start(&adaptive())).unwrap_err();
    assert!(
        matches!(refused, CommandError::NotFound { .. }),
        "{refused:?}"
    );
    rtc(&tree, "r1", "alice", join(RoomKind::Live, Role::Host, 1)).unwrap();
    mix(&tree, 2_000, start(&adaptive())).unwrap();
    let floating = MixSettings {
        layout: LayoutKind::Floating,
        main_user_id: Some("alice".into()),
        ..adaptive()
    };
    mix(&tree, 3_000, start(&floating)).unwrap();
    let order = &orders(&tree)[0];
    assert_eq!(order.settings, floating, "starting again changes the mix");
    assert_eq!(order.started_ms, 2_000, "and keeps when it started");

    mix(&tree, 4_000, MixChange::Stop).unwrap();
    assert!(orders(&tree).is_empty());
    mix(&tree, 4_000, MixChange::Stop).expect("stopping twice is no error");
    mix(&tree, 5_000, start(&adaptive())).unwrap();
    rtc(&tree, "r1", "alice", RtcChange::Leave).unwrap();
    assert!(orders(&tree).is_empty(), "the room ended, and its mix");
}

#[test]
fn every_limit_is_enforced_at_its_edge_and_a_refusal_changes_nothing() {
    let (_dir, tree) = app_tree();
    rtc(&tree, "r1", "alice", join(RoomKind::Live, Role::Host, 1)).unwrap();
    let (max_width, max_height) = MAX_CANVAS;
    let (low, high) = BITRATE_KBPS;
    let urls = |n: usize| (0..n).map(|i| format!("rtmp://cdn/live/{i}")).collect();
    let custom = |regions: Vec<MixRegion>| MixSettings {
        layout: LayoutKind::Custom,
        regions,
        ..adaptive()
    };
    let accepted = [
        MixSettings {
            width: max_width,
            height: max_height,
            ..adaptive()
        },
        MixSettings {
            width: MIN_CANVAS_SIDE,
            height: MIN_CANVAS_SIDE,
            ..adaptive()
        },
        MixSettings {
            fps: MAX_FPS,
            bitrate_kbps: high,
            ..adaptive()
        },
        MixSettings {
            fps: 1,
            bitrate_kbps: low,
            ..adaptive()
        },
        MixSettings {
            push_urls: urls(MAX_PUSH_URLS),
            ..adaptive()
        },
        MixSettings {
            push_urls: vec!["rtmps://cdn/app/key".into()],
            ..adaptive()
        },
        custom(vec![region("a", 0, 320), region("b", 320, 320)]),
        custom((0..16).map(|i| region(&format!("u{i}"), 0, 20)).collect()),
    ];
    for settings in accepted {
        mix(&tree, 2_000, start(&settings)).unwrap_or_else(|e| panic!("{settings:?}: {e:?}"));
    }
    mix(&tree, 2_000, MixChange::Stop).unwrap();
    let refused = [
        MixSettings {
            width: max_width + 2,
            ..adaptive()
        },
        MixSettings {
            height: max_height + 2,
            ..adaptive()
        },
        MixSettings {
            width: MIN_CANVAS_SIDE - 2,
            ..adaptive()
        },
        MixSettings {
            width: 641,
            ..adaptive()
        },
        MixSettings {
            fps: MAX_FPS + 1,
            ..adaptive()
        },
        MixSettings {
            fps: 0,
            ..adaptive()
        },
        MixSettings {
            bitrate_kbps: high + 1,
            ..adaptive()
        },
        MixSettings {
            bitrate_kbps: low - 1,
            ..adaptive()
        },
        MixSettings {
            push_urls: Vec::new(),
            ..adaptive()
        },
        MixSettings {
            push_urls: urls(MAX_PUSH_URLS + 1),
            ..adaptive()
        },
        MixSettings {
            push_urls: vec!["http://cdn/live/key".into()],
            ..adaptive()
        },
        MixSettings {
            push_urls: vec!["rtmp://cdn".into()],
            ..adaptive()
        },
        MixSettings {
            push_urls: vec![format!("rtmp://cdn/{}", "k".repeat(1024))],
            ..adaptive()
        },
        custom(Vec::new()),
        MixSettings {
            regions: vec![region("a", 0, 320)],
            ..adaptive()
        },
        custom(vec![region("a", 321, 320)]),
        custom(vec![region("a", 0, 1)]),
        custom(vec![region("a", 0, 20), region("a", 20, 20)]),
        custom((0..17).map(|i| region(&format!("u{i}"), 0, 20)).collect()),
    ];
    for settings in refused {
        let error = mix(&tree, 2_000, start(&settings)).unwrap_err();
        assert!(
            matches!(error, CommandError::Invalid { .. }),
            "{settings:?}: {error:?}"
        );
    }
    assert!(orders(&tree).is_empty(), "no refused order was kept");
}
