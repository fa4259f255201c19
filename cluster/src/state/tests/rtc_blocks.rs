//! Users blocked from audio/video rooms (`/rtc/user/block.json`): joins refused until the
//! block ends or is lifted, the duration's limits enforced at their edges.

use meridian_proto::rtc::{Role, RoomKind};

use super::rtc::{app_tree, change_in, join, APP};
use super::*;
use crate::state::rtc::{blocked_until, BlockRtcUser, MAX_BLOCK_MINUTES};

// covers: RTC-01

fn block(tree: &sled::Tree, at_ms: u64, minutes: Option<u32>) -> Result<Output, CommandError> {
    let command = Command::BlockRtcUser(BlockRtcUser {
        app_key: APP.into(),
        user_id: "bob".into(),
        minutes,
    });
    at(tree, at_ms, command)
}

fn bob_joins(tree: &sled::Tree, at_ms: u64) -> Result<Output, CommandError> {
    let joining = change_in(
        APP,
        "r1",
        "bob",
        join(RoomKind::Meeting, Role::Participant, 1),
    );
    at(tree, at_ms, joining)
}

#[test]
fn a_blocked_user_joins_no_room_until_the_block_ends_or_is_lifted() {
    let (_dir, tree) = app_tree();
    for minutes in [0, MAX_BLOCK_MINUTES + 1] {
        let refused = block(&tree, 1_000, Some(minutes)).unwrap_err();
        assert!(
            matches!(refused, CommandError::Invalid { .. }),
            "{minutes}: {refused:?}"
        );
    }
    assert_eq!(blocked_until(&tree, APP, "bob", 1_000).unwrap(), None);
    block(&tree, 1_000, Some(MAX_BLOCK_MINUTES)).unwrap();
    block(&tree, 1_000, Some(1)).expect("blocking again sets a new end");
    assert_eq!(
        blocked_until(&tree, APP, "bob", 1_000).unwrap(),
        Some(61_000)
    );

    let refused = bob_joins(&tree, 60_999).unwrap_err();
    assert!(matches!(refused, CommandError::Muted { .. }), "{refused:?}");
    bob_joins(&tree, 61_000).expect("the block ended");
    assert_eq!(blocked_until(&tree, APP, "bob", 61_000).unwrap(), None);

    let leave = change_in(APP, "r1", "bob", RtcChange::Leave);
    at(&tree, 62_000, leave).unwrap();
    block(&tree, 62_000, Some(10)).unwrap();
    block(&tree, 62_000, None).unwrap();
    bob_joins(&tree, 63_000).expect("unblocked");
    block(&tree, 63_000, None).expect("lifting no block is no error");
}
