//! Every key of the state machine: the prefix of each record family and how its keys are
//! built (and, where a key is read back, taken apart). Nothing else in `state/` spells a
//! key, so the layout can be read (and checked for collisions) in one place.
//!
//! Layout: `{family}/{appKey}/{part}/…`. A family's prefix ends in `/`, so no family
//! captures another's keys in a scan (`state/tests/keys.rs` checks every pair). Keys of a
//! per-app family start with the App Key right after the prefix, which is what deleting
//! an app (and a later split into many Raft groups) relies on. The few exact keys (the
//! `counter/…` sequences) are read and written whole, never scanned. Raft's own records
//! live under `\0meta/` (`raft::state_machine`), below every family here.
//!
//! A part inside a key never holds `/` where the key is scanned by a shorter prefix: ids
//! are validated to `[A-Za-z0-9_=+-]` before they reach a key.
//!
//! Changing a byte here changes what is on disk: existing state would no longer be found.

use meridian_proto::Conversation;

/// `{prefix}{appKey}/{part}/{part}/…/`: the key layout of most per-app record families.
pub(crate) fn scoped(prefix: &[u8], app_key: &str, parts: &[&str]) -> Vec<u8> {
    let mut key = [prefix, app_key.as_bytes(), b"/"].concat();
    for part in parts {
        key.extend_from_slice(part.as_bytes());
        key.push(b'/');
    }
    key
}

/// `{prefix}{appKey}/`: everything one app environment keeps in a family.
pub(crate) fn of_app(prefix: &[u8], app_key: &str) -> Vec<u8> {
    scoped(prefix, app_key, &[])
}

/// A prefix followed by one last part without a trailing `/`.
pub(crate) fn under(prefix: Vec<u8>, last: &str) -> Vec<u8> {
    [prefix.as_slice(), last.as_bytes()].concat()
}

/// Positions and ids as 20 zero-padded digits, so key order is number order.
fn padded(prefix: &[u8], number: u64) -> Vec<u8> {
    [prefix, format!("{number:020}").as_bytes()].concat()
}

fn parse_padded(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits.get(..20)?).ok()?.parse().ok()
}

/// A family of records kept for a while after they are written (answers that make a
/// retried request idempotent), and its index by the time each was written, which later
/// writes prune oldest first.
pub(crate) struct Kept {
    pub family: &'static [u8],
    pub by_time: &'static [u8],
}

impl Kept {
    /// `{by_time}{ms:020}/{the key after its family's prefix}`: indexes `key`.
    pub(crate) fn by_time(&self, now_ms: u64, key: &[u8]) -> Vec<u8> {
        [
            self.by_time,
            format!("{now_ms:020}/").as_bytes(),
            key.strip_prefix(self.family).unwrap_or(key),
        ]
        .concat()
    }

    /// When a [`by_time`](Self::by_time) key was written, and the key it indexes.
    pub(crate) fn indexed(&self, time_key: &[u8]) -> Option<(u64, Vec<u8>)> {
        let rest = time_key.strip_prefix(self.by_time)?;
        let at = parse_padded(rest)?;
        let indexed = rest.get(21..)?;
        Some((at, [self.family, indexed].concat()))
    }
}

/// How a constant here is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A prefix of many keys, scanned.
    Family,
    /// One key, read and written whole.
    Exact,
}

/// Every prefix and exact key defined here (the collision test walks it; a test also
/// checks that no constant of this file is missing from it; an app's storage figures
/// walk its families).
pub(crate) const ALL: &[(&str, &[u8], Kind)] = &[
    ("apps::APP", apps::APP, Kind::Family),
    ("apps::KEY_INDEX", apps::KEY_INDEX, Kind::Family),
    ("apps::SETTINGS", apps::SETTINGS, Kind::Family),
    ("apps::LIMITS", apps::LIMITS, Kind::Family),
    ("apps::PREVIOUS_SECRET", apps::PREVIOUS_SECRET, Kind::Family),
    ("apps::SDK_FEATURES", apps::SDK_FEATURES, Kind::Family),
    (
        "apps::ERASURE_CALLBACK",
        apps::ERASURE_CALLBACK,
        Kind::Family,
    ),
    ("areas::CATALOG", areas::CATALOG, Kind::Family),
    ("areas::LEVEL", areas::LEVEL, Kind::Exact),
    ("users::USER", users::USER, Kind::Family),
    ("users::ERASING_SENT", users::ERASING_SENT, Kind::Family),
    ("users::BLOCK", users::BLOCK, Kind::Family),
    ("users::BLACKLIST", users::BLACKLIST, Kind::Family),
    ("users::WHITELIST", users::WHITELIST, Kind::Family),
    ("sensitive::WORD", sensitive::WORD, Kind::Family),
    ("presence::SESSION", presence::SESSION, Kind::Family),
    ("presence::BY_EDGE", presence::BY_EDGE, Kind::Family),
    ("presence::LEASE", presence::LEASE, Kind::Family),
    (
        "conversations::SETTINGS",
        conversations::SETTINGS,
        Kind::Family,
    ),
    (
        "conversations::TYPE_LEVEL",
        conversations::TYPE_LEVEL,
        Kind::Family,
    ),
    ("conversations::LIST", conversations::LIST, Kind::Family),
    ("conversations::READ", conversations::READ, Kind::Family),
    (
        "conversations::CLEARED",
        conversations::CLEARED,
        Kind::Family,
    ),
    ("conversations::HIDDEN", conversations::HIDDEN, Kind::Family),
    (
        "conversations::REMOVED",
        conversations::REMOVED,
        Kind::Family,
    ),
    ("feed::EVENT", feed::EVENT, Kind::Family),
    ("feed::HEAD", feed::HEAD, Kind::Exact),
    ("feed::FLOOR", feed::FLOOR, Kind::Exact),
    ("feed::INBOX", feed::INBOX, Kind::Family),
    ("feed::BROADCAST", feed::BROADCAST, Kind::Family),
    ("groups::GROUP", groups::GROUP, Kind::Family),
    ("groups::MEMBER", groups::MEMBER, Kind::Family),
    ("groups::USER_GROUPS", groups::USER_GROUPS, Kind::Family),
    (
        "groups::MUTE_WHITELIST",
        groups::MUTE_WHITELIST,
        Kind::Family,
    ),
    ("groups::READERS", groups::READERS, Kind::Family),
    ("groups::REMARK", groups::REMARK, Kind::Family),
    ("groups::PENDING_MUTE", groups::PENDING_MUTE, Kind::Family),
    ("messages::KEEPS_LAST", messages::KEEPS_LAST, Kind::Family),
    ("outbox::JOB", outbox::JOB, Kind::Family),
    ("outbox::DEAD", outbox::DEAD, Kind::Family),
    ("outbox::LAST_ID", outbox::LAST_ID, Kind::Exact),
    ("outbox::WAITING", outbox::WAITING, Kind::Exact),
    ("outbox::RETRIES", outbox::RETRIES, Kind::Exact),
    ("push::TOKEN", push::TOKEN, Kind::Family),
    ("push::BROADCAST", push::BROADCAST, Kind::Family),
    ("push::VENDORS", push::VENDORS, Kind::Family),
    ("push::STYLE", push::STYLE, Kind::Family),
    ("push::NOTICE", push::NOTICE, Kind::Family),
    ("push::ULTRA_PACE", push::ULTRA_PACE, Kind::Family),
    ("push::ULTRA_PUSHED", push::ULTRA_PUSHED, Kind::Family),
    ("push::RATE", push::RATE, Kind::Family),
    ("push::TEMPLATE", push::TEMPLATE, Kind::Family),
    ("push::LANGUAGE", push::LANGUAGE, Kind::Family),
    ("messages::MESSAGE", messages::MESSAGE, Kind::Family),
    ("messages::LAST_SEQ", messages::LAST_SEQ, Kind::Family),
    ("messages::UID", messages::UID, Kind::Family),
    ("messages::UID_COUNTER", messages::UID_COUNTER, Kind::Exact),
    ("messages::EXPANSION", messages::EXPANSION, Kind::Family),
    ("messages::ARCHIVE", messages::ARCHIVE, Kind::Family),
    ("messages::CLIENT_SEND", messages::CLIENT_SEND, Kind::Family),
    (
        "messages::CLIENT_SEND_BY_TIME",
        messages::CLIENT_SEND_BY_TIME,
        Kind::Family,
    ),
    ("requests::ANSWER", requests::ANSWER, Kind::Family),
    (
        "requests::ANSWER_BY_TIME",
        requests::ANSWER_BY_TIME,
        Kind::Family,
    ),
    ("chatrooms::ROOM", chatrooms::ROOM, Kind::Family),
    ("chatrooms::SET", chatrooms::SET, Kind::Family),
    ("chatrooms::ENTRY", chatrooms::ENTRY, Kind::Family),
    ("chatrooms::MEMBER", chatrooms::MEMBER, Kind::Family),
    ("chatrooms::USER_ROOMS", chatrooms::USER_ROOMS, Kind::Family),
    ("chatrooms::OFFLINE", chatrooms::OFFLINE, Kind::Family),
    ("chatrooms::WINDOW", chatrooms::WINDOW, Kind::Family),
    ("chatrooms::PRESET", chatrooms::PRESET, Kind::Family),
    ("rtc::ROOM", rtc::ROOM, Kind::Family),
    ("rtc::MEMBER", rtc::MEMBER, Kind::Family),
    ("rtc::USER_ROOM", rtc::USER_ROOM, Kind::Family),
    ("rtc::ABSENT", rtc::ABSENT, Kind::Family),
    ("rtc::RECORDING", rtc::RECORDING, Kind::Family),
    ("rtc::RECORDED", rtc::RECORDED, Kind::Family),
    ("rtc::CALLBACK", rtc::CALLBACK, Kind::Family),
    ("rtc::MIXING", rtc::MIXING, Kind::Family),
    ("rtc::BLOCK", rtc::BLOCK, Kind::Family),
    ("calls::CALL", calls::CALL, Kind::Family),
    ("calls::USER_CALL", calls::USER_CALL, Kind::Family),
    ("calls::GONE", calls::GONE, Kind::Family),
    ("calls::RINGING", calls::RINGING, Kind::Family),
    ("calls::OUTCOMES", calls::OUTCOMES, Kind::Family),
    ("ultragroups::GROUP", ultragroups::GROUP, Kind::Family),
    ("ultragroups::MEMBER", ultragroups::MEMBER, Kind::Family),
    ("ultragroups::USER", ultragroups::USER, Kind::Family),
    ("ultragroups::CHANNEL", ultragroups::CHANNEL, Kind::Family),
    ("ultragroups::SET", ultragroups::SET, Kind::Family),
    ("ultragroups::MUTED", ultragroups::MUTED, Kind::Family),
    ("ultragroups::LEVEL", ultragroups::LEVEL, Kind::Family),
    ("user_extras::PROFILE", user_extras::PROFILE, Kind::Family),
    ("user_extras::REMARK", user_extras::REMARK, Kind::Family),
    (
        "user_extras::PRIVATE_BAN",
        user_extras::PRIVATE_BAN,
        Kind::Family,
    ),
    ("user_extras::QUIET", user_extras::QUIET, Kind::Family),
    ("friends::FRIEND", friends::FRIEND, Kind::Family),
    ("friends::PERMISSION", friends::PERMISSION, Kind::Family),
    ("friends::REQUEST", friends::REQUEST, Kind::Family),
    ("hosted_groups::GROUP", hosted_groups::GROUP, Kind::Family),
    ("hosted_groups::MEMBER", hosted_groups::MEMBER, Kind::Family),
    ("hosted_groups::FOLLOW", hosted_groups::FOLLOW, Kind::Family),
    ("hosted_groups::REMARK", hosted_groups::REMARK, Kind::Family),
    ("files::FILE", files::FILE, Kind::Family),
    ("files::USAGE", files::USAGE, Kind::Family),
    ("files::LIMITS", files::LIMITS, Kind::Family),
    ("files::EXPIRY", files::EXPIRY, Kind::Family),
    ("files::ACCESS", files::ACCESS, Kind::Family),
    ("files::OWNER", files::OWNER, Kind::Family),
    ("usage::HOUR", usage::HOUR, Kind::Family),
    ("usage::ONLINE", usage::ONLINE, Kind::Family),
    ("usage::TOTAL", usage::TOTAL, Kind::Family),
];

pub(crate) mod apps {
    pub(crate) const APP: &[u8] = b"app/";
    pub(crate) const KEY_INDEX: &[u8] = b"appkey/";
    pub(crate) const SETTINGS: &[u8] = b"appsettings/";
    pub(crate) const LIMITS: &[u8] = b"applimits/";
    pub(crate) const PREVIOUS_SECRET: &[u8] = b"appprevsecret/";
    pub(crate) const SDK_FEATURES: &[u8] = b"appsdkfeatures/";
    pub(crate) const ERASURE_CALLBACK: &[u8] = b"apperasurecallback/";

    /// `app/{prodKey}`: an app's record, under its prod key.
    pub(crate) fn app(prod_key: &str) -> Vec<u8> {
        [APP, prod_key.as_bytes()].concat()
    }

    /// `appkey/{appKey}`: which app (and environment) an App Key belongs to.
    pub(crate) fn key_index(app_key: &str) -> Vec<u8> {
        [KEY_INDEX, app_key.as_bytes()].concat()
    }

    pub(crate) fn settings(app_key: &str) -> Vec<u8> {
        [SETTINGS, app_key.as_bytes()].concat()
    }

    /// `appprevsecret/{appKey}`: the secret a rotation replaced, while it overlaps
    /// (LIFE-04).
    pub(crate) fn previous_secret(app_key: &str) -> Vec<u8> {
        [PREVIOUS_SECRET, app_key.as_bytes()].concat()
    }

    /// `applimits/{appKey}`: an environment's limits (API-08).
    pub(crate) fn limits(app_key: &str) -> Vec<u8> {
        [LIMITS, app_key.as_bytes()].concat()
    }

    /// `appsdkfeatures/{appKey}`: the client SDK services an environment switched on.
    pub(crate) fn sdk_features(app_key: &str) -> Vec<u8> {
        [SDK_FEATURES, app_key.as_bytes()].concat()
    }

    /// `apperasurecallback/{appKey}`: where the environment hears of finished erasures
    /// (LIFE-02).
    pub(crate) fn erasure_callback(app_key: &str) -> Vec<u8> {
        [ERASURE_CALLBACK, app_key.as_bytes()].concat()
    }
}

pub(crate) mod areas {
    pub(crate) const CATALOG: &[u8] = b"areacatalog/";
    /// The command level every voter of the area has reached (`state::areas`).
    pub(crate) const LEVEL: &[u8] = b"counter/area-level";

    /// `areacatalog/{code}`
    pub(crate) fn entry(code: meridian_regions::AreaCode) -> Vec<u8> {
        [CATALOG, code.as_str().as_bytes()].concat()
    }
}

pub(crate) mod users {
    use super::{of_app, under};

    pub(crate) const USER: &[u8] = b"user/";
    pub(crate) const BLOCK: &[u8] = b"block/";
    pub(crate) const BLACKLIST: &[u8] = b"black/";
    pub(crate) const WHITELIST: &[u8] = b"white/";
    pub(crate) const ERASING_SENT: &[u8] = b"erasingsent/";
    /// Every per-app family of users.
    pub(crate) const PER_APP: [&[u8]; 5] = [USER, BLOCK, BLACKLIST, WHITELIST, ERASING_SENT];

    /// `user/{appKey}/{userId}`
    pub(crate) fn user(app_key: &str, user_id: &str) -> Vec<u8> {
        under(of_app(USER, app_key), user_id)
    }

    /// `erasingsent/{appKey}/{userId}`: an erased user whose sent messages are still being
    /// removed (LIFE-02).
    pub(crate) fn erasing_sent(app_key: &str, user_id: &str) -> Vec<u8> {
        under(of_app(ERASING_SENT, app_key), user_id)
    }

    /// `block/{appKey}/{userId}`
    pub(crate) fn block(app_key: &str, user_id: &str) -> Vec<u8> {
        under(of_app(BLOCK, app_key), user_id)
    }

    /// `{black|white}/{appKey}/{userId}/`: one user's list (`list` is one of the two).
    pub(crate) fn list(list: &[u8], app_key: &str, user_id: &str) -> Vec<u8> {
        super::scoped(list, app_key, &[user_id])
    }

    /// `{black|white}/{appKey}/{userId}/{other}`
    pub(crate) fn listed(list: &[u8], app_key: &str, user_id: &str, other: &str) -> Vec<u8> {
        under(self::list(list, app_key, user_id), other)
    }
}

pub(crate) mod sensitive {
    pub(crate) const WORD: &[u8] = b"sensitive/";

    /// `sensitive/{appKey}/{word}/`
    pub(crate) fn word(app_key: &str, word: &str) -> Vec<u8> {
        super::scoped(WORD, app_key, &[word])
    }
}

pub(crate) mod presence {
    pub(crate) const SESSION: &[u8] = b"presence/";
    /// The same records by edge, to clear an edge's sessions at once.
    pub(crate) const BY_EDGE: &[u8] = b"presence-edge/";
    pub(crate) const LEASE: &[u8] = b"edgelease/";

    /// `presence/{appKey}/{userId}/`: a user's sessions.
    pub(crate) fn sessions(app_key: &str, user_id: &str) -> Vec<u8> {
        [SESSION, format!("{app_key}/{user_id}/").as_bytes()].concat()
    }

    /// `presence/{appKey}/{userId}/{edge:020}/{session:020}`
    pub(crate) fn session(app_key: &str, user_id: &str, edge_id: u64, session_id: u64) -> Vec<u8> {
        [
            sessions(app_key, user_id).as_slice(),
            format!("{edge_id:020}/{session_id:020}").as_bytes(),
        ]
        .concat()
    }

    /// The app and user a [`session`] key names.
    pub(crate) fn session_owner(key: &[u8]) -> Option<(String, String)> {
        let path = String::from_utf8_lossy(key.strip_prefix(SESSION)?).into_owned();
        let mut parts = path.splitn(3, '/');
        Some((parts.next()?.to_string(), parts.next()?.to_string()))
    }

    /// `presence-edge/{edge:020}/`: an edge's sessions.
    pub(crate) fn of_edge(edge_id: u64) -> Vec<u8> {
        [BY_EDGE, format!("{edge_id:020}/").as_bytes()].concat()
    }

    /// `presence-edge/{edge:020}/{session:020}/{appKey}/{userId}`
    pub(crate) fn by_edge(edge_id: u64, app_key: &str, user_id: &str, session_id: u64) -> Vec<u8> {
        [
            of_edge(edge_id).as_slice(),
            format!("{session_id:020}/{app_key}/{user_id}").as_bytes(),
        ]
        .concat()
    }

    /// `edgelease/{edge:020}`
    pub(crate) fn lease(edge_id: u64) -> Vec<u8> {
        super::padded(LEASE, edge_id)
    }

    /// The edge a [`lease`] key is for.
    pub(crate) fn lease_edge(key: &[u8]) -> Option<u64> {
        std::str::from_utf8(key.strip_prefix(LEASE)?)
            .ok()?
            .parse()
            .ok()
    }
}

pub(crate) mod conversations {
    use super::Conversation;

    pub(crate) const SETTINGS: &[u8] = b"convset/";
    pub(crate) const TYPE_LEVEL: &[u8] = b"convtype/";
    /// The private and system conversations a user is in (groups come from memberships).
    pub(crate) const LIST: &[u8] = b"convlist/";
    /// The newest `seq` a user has read in a conversation.
    pub(crate) const READ: &[u8] = b"convread/";
    /// A user cleared a conversation's history up to an instant (PRV-05).
    pub(crate) const CLEARED: &[u8] = b"convclear/";
    /// Messages a user deleted from its own view (PRV-05).
    pub(crate) const HIDDEN: &[u8] = b"convhide/";
    /// A user removed a conversation from its list, when its newest `seq` was this.
    pub(crate) const REMOVED: &[u8] = b"convgone/";
    pub(crate) const PER_APP: [&[u8]; 7] =
        [SETTINGS, TYPE_LEVEL, LIST, READ, CLEARED, HIDDEN, REMOVED];

    /// `convset/{appKey}/{user}/{type}/{target}/{channel}`
    pub(crate) fn settings(
        app_key: &str,
        user: &str,
        kind_code: u8,
        target: &str,
        channel: &str,
    ) -> Vec<u8> {
        [
            SETTINGS,
            format!("{app_key}/{user}/{kind_code}/{target}/{channel}").as_bytes(),
        ]
        .concat()
    }

    /// `convtype/{appKey}/{user}/{type}`
    pub(crate) fn type_level(app_key: &str, user: &str, kind_code: u8) -> Vec<u8> {
        [
            TYPE_LEVEL,
            format!("{app_key}/{user}/{kind_code}").as_bytes(),
        ]
        .concat()
    }

    /// `{family}{appKey}/{user}/`: everything of one family a user keeps.
    pub(crate) fn of_user(family: &[u8], app_key: &str, user: &str) -> Vec<u8> {
        [family, format!("{app_key}/{user}/").as_bytes()].concat()
    }

    /// `{family}{appKey}/{user}/{type}/{target}/{channel}`: one conversation as `user`
    /// sees it (LIST, READ, CLEARED, REMOVED).
    pub(crate) fn of_conversation(
        family: &[u8],
        app_key: &str,
        user: &str,
        conversation: &Conversation,
    ) -> Vec<u8> {
        let target = conversation.target_for(user);
        [
            of_user(family, app_key, user).as_slice(),
            format!(
                "{}/{target}/{}",
                conversation.kind.code(),
                conversation.channel
            )
            .as_bytes(),
        ]
        .concat()
    }

    /// `convhide/{appKey}/{user}/{msgUID}`
    pub(crate) fn hidden(app_key: &str, user: &str, msg_uid: &str) -> Vec<u8> {
        [
            of_user(HIDDEN, app_key, user).as_slice(),
            msg_uid.as_bytes(),
        ]
        .concat()
    }
}

pub(crate) mod feed {
    pub(crate) const EVENT: &[u8] = b"feed/";
    pub(crate) const HEAD: &[u8] = b"counter/feed";
    /// The oldest position an age trim left (`TrimFeed`).
    pub(crate) const FLOOR: &[u8] = b"counter/feed-floor";
    pub(crate) const INBOX: &[u8] = b"inbox/";
    pub(crate) const BROADCAST: &[u8] = b"bcast/";
    pub(crate) const PER_APP: [&[u8]; 2] = [INBOX, BROADCAST];

    /// `feed/{pos:020}`
    pub(crate) fn event(pos: u64) -> Vec<u8> {
        super::padded(EVENT, pos)
    }

    /// The position an [`event`] key holds.
    pub(crate) fn event_position(key: &[u8]) -> Option<u64> {
        std::str::from_utf8(key.strip_prefix(EVENT)?)
            .ok()?
            .parse()
            .ok()
    }

    /// `inbox/{appKey}/{userId}/`
    pub(crate) fn inbox(app_key: &str, user_id: &str) -> Vec<u8> {
        super::scoped(INBOX, app_key, &[user_id])
    }

    /// `bcast/{appKey}/`
    pub(crate) fn broadcasts(app_key: &str) -> Vec<u8> {
        super::of_app(BROADCAST, app_key)
    }

    /// `{inbox or broadcasts}{pos:020}`
    pub(crate) fn positioned(prefix: &[u8], pos: u64) -> Vec<u8> {
        super::padded(prefix, pos)
    }

    /// The user and position an inbox entry's key (under `inbox/{appKey}/`) names.
    pub(crate) fn inbox_entry(app_key: &str, key: &[u8]) -> Option<(String, u64)> {
        let rest = key.strip_prefix(super::of_app(INBOX, app_key).as_slice())?;
        let (user, pos) = rest.split_at(rest.len().checked_sub(20)?);
        let user = std::str::from_utf8(user.strip_suffix(b"/")?).ok()?;
        Some((user.to_string(), super::parse_padded(pos)?))
    }
}

pub(crate) mod groups {
    use super::{scoped, under};

    pub(crate) const GROUP: &[u8] = b"group/";
    pub(crate) const MEMBER: &[u8] = b"gmember/";
    pub(crate) const USER_GROUPS: &[u8] = b"ugroup/";
    pub(crate) const MUTE_WHITELIST: &[u8] = b"gwhite/";
    pub(crate) const READERS: &[u8] = b"greadby/";
    pub(crate) const REMARK: &[u8] = b"gremark/";
    /// Mutes of users who are not members (yet): taken over when they join.
    pub(crate) const PENDING_MUTE: &[u8] = b"gpendmute/";
    pub(crate) const PER_APP: [&[u8]; 7] = [
        GROUP,
        MEMBER,
        USER_GROUPS,
        MUTE_WHITELIST,
        READERS,
        REMARK,
        PENDING_MUTE,
    ];
    /// What a group keeps under its own id (dismissing it removes them).
    pub(crate) const PER_GROUP: [&[u8]; 4] = [MEMBER, MUTE_WHITELIST, REMARK, PENDING_MUTE];

    /// `group/{appKey}/{groupId}`
    pub(crate) fn group(app_key: &str, group_id: &str) -> Vec<u8> {
        under(scoped(GROUP, app_key, &[]), group_id)
    }

    /// `{family}{appKey}/{groupId}/`: a group's members, whitelist or remarks.
    pub(crate) fn of_group(family: &[u8], app_key: &str, group_id: &str) -> Vec<u8> {
        scoped(family, app_key, &[group_id])
    }

    /// `gmember/{appKey}/{groupId}/{userId}`
    pub(crate) fn member(app_key: &str, group_id: &str, user_id: &str) -> Vec<u8> {
        under(of_group(MEMBER, app_key, group_id), user_id)
    }

    /// `ugroup/{appKey}/{userId}/{groupId}`
    pub(crate) fn user_group(app_key: &str, user_id: &str, group_id: &str) -> Vec<u8> {
        under(user_groups(app_key, user_id), group_id)
    }

    /// `ugroup/{appKey}/{userId}/`
    pub(crate) fn user_groups(app_key: &str, user_id: &str) -> Vec<u8> {
        scoped(USER_GROUPS, app_key, &[user_id])
    }

    /// `gwhite/{appKey}/{groupId}/{userId}`
    pub(crate) fn whitelisted(app_key: &str, group_id: &str, user_id: &str) -> Vec<u8> {
        under(of_group(MUTE_WHITELIST, app_key, group_id), user_id)
    }

    /// `gpendmute/{appKey}/{groupId}/{userId}`
    pub(crate) fn pending_mute(app_key: &str, group_id: &str, user_id: &str) -> Vec<u8> {
        under(of_group(PENDING_MUTE, app_key, group_id), user_id)
    }

    /// `gremark/{appKey}/{groupId}/{userId}`
    pub(crate) fn remark(app_key: &str, group_id: &str, user_id: &str) -> Vec<u8> {
        under(of_group(REMARK, app_key, group_id), user_id)
    }

    /// `greadby/{appKey}/{msgUID}/`
    pub(crate) fn readers(app_key: &str, msg_uid: &str) -> Vec<u8> {
        scoped(READERS, app_key, &[msg_uid])
    }

    /// `greadby/{appKey}/{msgUID}/{userId}`
    pub(crate) fn reader(app_key: &str, msg_uid: &str, user_id: &str) -> Vec<u8> {
        under(readers(app_key, msg_uid), user_id)
    }
}

pub(crate) mod outbox {
    pub(crate) const JOB: &[u8] = b"outbox/";
    pub(crate) const DEAD: &[u8] = b"outbox-dead/";
    pub(crate) const LAST_ID: &[u8] = b"counter/outbox";
    pub(crate) const WAITING: &[u8] = b"counter/outbox-waiting";
    /// Bumped whenever jobs come back under old ids (dead letters retried).
    pub(crate) const RETRIES: &[u8] = b"counter/outbox-retries";

    /// `outbox/{id:020}`
    pub(crate) fn job(id: u64) -> Vec<u8> {
        super::padded(JOB, id)
    }

    /// `outbox-dead/{appKey}/{id:020}/`
    pub(crate) fn dead(app_key: &str, id: u64) -> Vec<u8> {
        super::scoped(DEAD, app_key, &[&format!("{id:020}")])
    }
}

pub(crate) mod push {
    pub(crate) const TOKEN: &[u8] = b"pushtoken/";
    /// Broadcasts whose devices are still being pushed to (SYS-02).
    pub(crate) const BROADCAST: &[u8] = b"pushbcast/";
    /// Push-only notices whose devices are still being pushed to (SYS-03).
    pub(crate) const NOTICE: &[u8] = b"pushnotice/";
    /// Vendor channel credentials (PUSH-05).
    pub(crate) const VENDORS: &[u8] = b"pushvendor/";
    /// An app's push sound and quiet hours (PUSH-07, PUSH-08).
    pub(crate) const STYLE: &[u8] = b"pushstyle/";
    /// An app's ultra-group push pace (ULG-06).
    pub(crate) const ULTRA_PACE: &[u8] = b"ugpace/";
    /// When a user was last pushed for an ultra group (ULG-06).
    pub(crate) const ULTRA_PUSHED: &[u8] = b"ugpushed/";
    /// An app's push rate cap (PUSH-01).
    pub(crate) const RATE: &[u8] = b"pushrate/";

    /// `pushrate/{appKey}/`
    pub(crate) fn push_rate(app_key: &str) -> Vec<u8> {
        super::of_app(RATE, app_key)
    }

    /// An app's push templates (PUSH-07).
    pub(crate) const TEMPLATE: &[u8] = b"pushtpl/";
    /// The language a user's pushes are written in (PUSH-07).
    pub(crate) const LANGUAGE: &[u8] = b"pushlang/";

    /// `pushtpl/{appKey}/{templateId}/`
    pub(crate) fn template(app_key: &str, template_id: &str) -> Vec<u8> {
        super::scoped(TEMPLATE, app_key, &[template_id])
    }

    /// `pushtpl/{appKey}/`
    pub(crate) fn templates(app_key: &str) -> Vec<u8> {
        super::of_app(TEMPLATE, app_key)
    }

    /// `pushlang/{appKey}/{userId}/`
    pub(crate) fn language(app_key: &str, user_id: &str) -> Vec<u8> {
        super::scoped(LANGUAGE, app_key, &[user_id])
    }

    /// `ugpace/{appKey}/`
    pub(crate) fn ultra_pace(app_key: &str) -> Vec<u8> {
        super::of_app(ULTRA_PACE, app_key)
    }

    /// `ugpushed/{appKey}/{userId}/{groupId}/`
    pub(crate) fn ultra_pushed(app_key: &str, user_id: &str, group_id: &str) -> Vec<u8> {
        super::scoped(ULTRA_PUSHED, app_key, &[user_id, group_id])
    }

    /// `ugpushed/{appKey}/{userId}/`
    pub(crate) fn ultra_pushed_of(app_key: &str, user_id: &str) -> Vec<u8> {
        super::scoped(ULTRA_PUSHED, app_key, &[user_id])
    }

    /// `pushvendor/{appKey}/`
    pub(crate) fn vendors(app_key: &str) -> Vec<u8> {
        super::of_app(VENDORS, app_key)
    }

    /// `pushstyle/{appKey}/`
    pub(crate) fn style(app_key: &str) -> Vec<u8> {
        super::of_app(STYLE, app_key)
    }

    /// `pushnotice/{appKey}/{id}`
    pub(crate) fn notice(app_key: &str, id: &str) -> Vec<u8> {
        super::under(super::of_app(NOTICE, app_key), id)
    }

    /// `pushbcast/{appKey}/{msgUID}`
    pub(crate) fn broadcast(app_key: &str, msg_uid: &str) -> Vec<u8> {
        super::under(super::of_app(BROADCAST, app_key), msg_uid)
    }

    /// `pushtoken/{appKey}/{userId}/{deviceId}/`
    pub(crate) fn token(app_key: &str, user_id: &str, device_id: &str) -> Vec<u8> {
        super::scoped(TOKEN, app_key, &[user_id, device_id])
    }

    /// `pushtoken/{appKey}/{userId}/`
    pub(crate) fn tokens(app_key: &str, user_id: &str) -> Vec<u8> {
        super::scoped(TOKEN, app_key, &[user_id])
    }

    /// The user a [`token`] key (under `app_prefix`, `pushtoken/{appKey}/`) is for.
    pub(crate) fn token_user(app_prefix: &[u8], key: &[u8]) -> Option<String> {
        let user = key.strip_prefix(app_prefix)?.split(|b| *b == b'/').next()?;
        Some(String::from_utf8_lossy(user).into_owned())
    }
}

pub(crate) mod messages;

pub(crate) mod chatrooms;

pub(crate) mod ultragroups;

pub(crate) mod user_extras;

pub(crate) mod friends;

pub(crate) mod hosted_groups;

pub(crate) mod calls;
pub(crate) mod files;
pub(crate) mod requests;
pub(crate) mod rtc;
pub(crate) mod usage;
