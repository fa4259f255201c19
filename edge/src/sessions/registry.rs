//! Who is connected to this edge, and which sessions each feed event goes to.
//!
//! The feed tailers call [`Registry::dispatch`] in feed order. A session's queue is
//! bounded: when it is full the session is marked to resync and gets no more events until
//! it has caught up by a sync, so it never sees a later event before an earlier one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_cluster::api::InterestChange;
use meridian_cluster::state::interest;
use meridian_cluster::state::{ConversationType, FeedEvent, Message};
use meridian_proto::codes;
use meridian_regions::AreaCode;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::interest::InterestBook;

/// How long a session waits for the leader to filter the feed by its keys.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// What a session's task receives besides its client's frames. Kept to two words: every
/// session's queue allocates room for 32 of them up front.
#[derive(Debug)]
pub enum Delivery {
    Event(Arc<Dispatched>),
    /// The session was taken out of a room without asking: (room, code).
    RoomLeft(Box<(String, u32)>),
}

/// A feed event on its way to sessions, with the frame every receiver shares when the
/// message looks the same to all of them (a room or group of thousands is serialized once).
#[derive(Debug)]
pub struct Dispatched {
    pub pos: u64,
    pub event: FeedEvent,
    /// When the page that carried the event reached this edge.
    pub arrived: Instant,
    shared_frame: std::sync::OnceLock<Utf8Bytes>,
}

impl Dispatched {
    /// The frame for every receiver, made by the first that asks (one that fails to make
    /// it leaves the next to try).
    pub fn shared_frame<E>(
        &self,
        make: impl FnOnce() -> Result<String, E>,
    ) -> Result<Utf8Bytes, E> {
        if let Some(frame) = self.shared_frame.get() {
            return Ok(frame.clone());
        }
        let frame = Utf8Bytes::from(make()?);
        Ok(self.shared_frame.get_or_init(|| frame).clone())
    }
}

/// Client platforms; one session per platform and user unless the app allows more (MSG-02).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Mobile,
    Desktop,
    Web,
}

impl Platform {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "ios" | "android" | "harmonyos" | "mobile" => Platform::Mobile,
            "windows" | "macos" | "linux" | "electron" | "desktop" | "pc" => Platform::Desktop,
            "web" | "miniprogram" => Platform::Web,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Mobile => "mobile",
            Platform::Desktop => "desktop",
            Platform::Web => "web",
        }
    }
}

/// A live session as the registry sees it.
pub struct SessionHandle {
    pub id: u64,
    pub area: AreaCode,
    pub app_key: String,
    pub user_id: String,
    pub device_id: String,
    pub platform: Platform,
    queue: mpsc::Sender<Delivery>,
    /// Set when an event could not be queued; cleared by the session when it resyncs.
    behind: AtomicBool,
    /// Set when the session must end (code, reason).
    ended: Mutex<Option<(u32, String)>>,
    /// The audio/video room this session joined: its end starts the member's reconnect
    /// timeout there (RTC-01).
    rtc_room: Mutex<Option<String>>,
    pub wake: Notify,
}

impl SessionHandle {
    /// Takes the "fell behind" mark: true if the session must resync.
    pub fn take_behind(&self) -> bool {
        self.behind.swap(false, Ordering::AcqRel)
    }

    fn offer(&self, delivery: Delivery) {
        if self.behind.load(Ordering::Acquire) {
            return;
        }
        if self.queue.try_send(delivery).is_err() {
            self.behind.store(true, Ordering::Release);
            self.wake.notify_one();
        }
    }

    /// Why the session must end, if it must.
    pub fn take_end(&self) -> Option<(u32, String)> {
        self.ended.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    pub fn set_rtc_room(&self, room_id: Option<String>) {
        *self.rtc_room.lock().unwrap_or_else(|p| p.into_inner()) = room_id;
    }

    pub fn rtc_room(&self) -> Option<String> {
        self.rtc_room
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Ends the session, however full its queue is.
    fn kick(&self, code: u32, reason: &str) {
        *self.ended.lock().unwrap_or_else(|p| p.into_inner()) = Some((code, reason.to_string()));
        self.wake.notify_one();
    }
}

/// A group or ultra group: they are different conversations even with the same id.
pub type GroupRef = (ConversationType, String);

/// Group memberships of one session: known once loaded; changes seen before that wait.
#[derive(Default)]
struct SessionGroups {
    loaded: bool,
    groups: HashSet<GroupRef>,
    /// (group, joined) in feed order.
    pending: Vec<(GroupRef, bool)>,
}

type UserKey = (String, String);
/// (app, kind, group id)
type GroupKey = (String, ConversationType, String);

#[derive(Default)]
struct Inner {
    sessions: HashMap<u64, Arc<SessionHandle>>,
    by_user: HashMap<UserKey, Vec<u64>>,
    by_app: HashMap<String, HashSet<u64>>,
    groups: HashMap<GroupKey, HashSet<u64>>,
    session_groups: HashMap<u64, SessionGroups>,
    rooms: HashMap<UserKey, HashSet<u64>>,
    session_rooms: HashMap<u64, HashSet<String>>,
    /// The keys of the indexes above, for each area's leader to filter its feed by.
    interest: HashMap<AreaCode, InterestBook>,
    next_id: u64,
}

pub struct Registry {
    inner: Mutex<Inner>,
    /// The number of sessions, for waiting until a drain is done.
    count: tokio::sync::watch::Sender<usize>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            count: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Resolves once no session is left.
    pub async fn drained(&self) {
        let mut count = self.count.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    fn publish_count(&self, inner: &Inner) {
        self.count.send_replace(inner.sessions.len());
    }

    /// Registers a session; an older session of the same user on the same platform is
    /// kicked (MSG-02) unless `several_allowed` (web sessions with multi-device on).
    #[allow(clippy::too_many_arguments)]
    pub fn attach(
        &self,
        area: AreaCode,
        app_key: &str,
        user_id: &str,
        device_id: &str,
        platform: Platform,
        queue: mpsc::Sender<Delivery>,
        several_allowed: bool,
    ) -> Arc<SessionHandle> {
        let mut inner = self.lock();
        inner.next_id += 1;
        let handle = Arc::new(SessionHandle {
            id: inner.next_id,
            area,
            app_key: app_key.to_string(),
            user_id: user_id.to_string(),
            device_id: device_id.to_string(),
            platform,
            queue,
            behind: AtomicBool::new(false),
            ended: Mutex::new(None),
            rtc_room: Mutex::new(None),
            wake: Notify::new(),
        });
        let key = (app_key.to_string(), user_id.to_string());
        let existing = inner.by_user.get(&key).cloned().unwrap_or_default();
        for id in existing {
            let Some(other) = inner.sessions.get(&id).cloned() else {
                continue;
            };
            if other.platform == platform && !several_allowed {
                // Its task ends it and detaches it (leaving its rooms).
                other.kick(
                    codes::KICKED_OTHER_LOGIN,
                    "logged in on another device of the same platform",
                );
            }
        }
        inner.sessions.insert(handle.id, handle.clone());
        inner.by_user.entry(key).or_default().push(handle.id);
        let book = inner.interest.entry(area).or_default();
        book.add(interest::user(app_key, user_id));
        if inner
            .by_app
            .entry(app_key.to_string())
            .or_default()
            .insert(handle.id)
        {
            inner.book(area).add(interest::app(app_key));
        }
        inner
            .session_groups
            .insert(handle.id, SessionGroups::default());
        self.publish_count(&inner);
        handle
    }

    /// Forgets a session; answers the rooms it was in.
    pub fn detach(&self, id: u64) -> Vec<String> {
        let mut inner = self.lock();
        let rooms = Self::remove(&mut inner, id);
        self.publish_count(&inner);
        rooms
    }

    fn remove(inner: &mut Inner, id: u64) -> Vec<String> {
        let Some(handle) = inner.sessions.remove(&id) else {
            return Vec::new();
        };
        let key = (handle.app_key.clone(), handle.user_id.clone());
        if let Some(ids) = inner.by_user.get_mut(&key) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                inner.by_user.remove(&key);
            }
        }
        let book = inner.book(handle.area);
        book.remove(interest::user(&handle.app_key, &handle.user_id));
        if unindex(&mut inner.by_app, handle.app_key.clone(), id) {
            inner
                .book(handle.area)
                .remove(interest::app(&handle.app_key));
        }
        if let Some(groups) = inner.session_groups.remove(&id) {
            for (kind, group) in groups.groups {
                let group = (handle.app_key.clone(), kind, group);
                unindex_group(inner, handle.area, group, id);
            }
        }
        let rooms: Vec<String> = inner
            .session_rooms
            .remove(&id)
            .map(|rooms| rooms.into_iter().collect())
            .unwrap_or_default();
        for room in &rooms {
            unindex_room(
                inner,
                handle.area,
                (handle.app_key.clone(), room.clone()),
                id,
            );
        }
        rooms
    }

    /// Sets a session's groups as read from the cluster, then replays the membership
    /// changes the feed brought meanwhile (in order, so the newest wins).
    pub fn load_groups(&self, id: u64, groups: Vec<GroupRef>) {
        let mut inner = self.lock();
        let Some((area, app_key)) = inner.sessions.get(&id).map(|h| (h.area, h.app_key.clone()))
        else {
            return;
        };
        let Some(mut state) = inner.session_groups.remove(&id) else {
            return;
        };
        state.groups.extend(groups);
        for (group, joined) in std::mem::take(&mut state.pending) {
            if joined {
                state.groups.insert(group);
            } else {
                state.groups.remove(&group);
            }
        }
        state.loaded = true;
        for (kind, group) in &state.groups {
            index_group(
                &mut inner,
                area,
                (app_key.clone(), *kind, group.clone()),
                id,
            );
        }
        inner.session_groups.insert(id, state);
    }

    /// Puts a session in a room it joined, taking it out of any other.
    pub fn enter_room(&self, id: u64, room_id: &str) {
        let mut inner = self.lock();
        let Some((area, app_key)) = inner.sessions.get(&id).map(|h| (h.area, h.app_key.clone()))
        else {
            return;
        };
        let previous = inner.session_rooms.remove(&id).unwrap_or_default();
        for room in previous {
            unindex_room(&mut inner, area, (app_key.clone(), room), id);
        }
        let room = (app_key.clone(), room_id.to_string());
        if inner.rooms.entry(room).or_default().insert(id) {
            inner.book(area).add(interest::room(&app_key, room_id));
        }
        inner
            .session_rooms
            .insert(id, std::iter::once(room_id.to_string()).collect());
    }

    pub fn leave_room(&self, id: u64, room_id: &str) {
        let mut inner = self.lock();
        let Some((area, app_key)) = inner.sessions.get(&id).map(|h| (h.area, h.app_key.clone()))
        else {
            return;
        };
        if let Some(rooms) = inner.session_rooms.get_mut(&id) {
            rooms.remove(room_id);
        }
        unindex_room(&mut inner, area, (app_key, room_id.to_string()), id);
    }

    /// Hands one feed event to the sessions it concerns.
    pub fn dispatch(&self, pos: u64, event: FeedEvent, arrived: Instant) {
        let dispatched = Arc::new(Dispatched {
            pos,
            event,
            arrived,
            shared_frame: std::sync::OnceLock::new(),
        });
        let mut inner = self.lock();
        match &dispatched.event {
            FeedEvent::Message { app_key, message } => {
                for handle in recipients(&inner, app_key, message) {
                    handle.offer(Delivery::Event(dispatched.clone()));
                }
            }
            FeedEvent::Members {
                app_key,
                kind,
                id,
                joined,
                left,
                dismissed,
            } => match kind {
                ConversationType::Chatroom => {
                    let room = (app_key.clone(), id.clone());
                    let evicted: Vec<Arc<SessionHandle>> = inner
                        .rooms
                        .get(&room)
                        .into_iter()
                        .flatten()
                        .filter_map(|sid| inner.sessions.get(sid))
                        .filter(|h| *dismissed || left.contains(&h.user_id))
                        .cloned()
                        .collect();
                    let code = if *dismissed {
                        codes::CHATROOM_NOT_FOUND
                    } else {
                        codes::KICKED_FROM_CHATROOM
                    };
                    for handle in evicted {
                        unindex_room(&mut inner, handle.area, room.clone(), handle.id);
                        if let Some(rooms) = inner.session_rooms.get_mut(&handle.id) {
                            rooms.remove(id);
                        }
                        let _ = handle
                            .queue
                            .try_send(Delivery::RoomLeft(Box::new((id.clone(), code))));
                        handle.wake.notify_one();
                    }
                }
                _ => {
                    let group = (app_key.clone(), *kind, id.clone());
                    let group_ref = (*kind, id.clone());
                    let mut changes: Vec<(u64, bool)> = Vec::new();
                    if *dismissed {
                        changes.extend(
                            inner
                                .groups
                                .get(&group)
                                .into_iter()
                                .flatten()
                                .map(|s| (*s, false)),
                        );
                    }
                    for (users, joining) in [(joined, true), (left, false)] {
                        for user in users {
                            let key = (app_key.clone(), user.clone());
                            for sid in inner.by_user.get(&key).into_iter().flatten() {
                                changes.push((*sid, joining));
                            }
                        }
                    }
                    for (sid, joining) in changes {
                        let Some(area) = inner.sessions.get(&sid).map(|h| h.area) else {
                            continue;
                        };
                        let Some(state) = inner.session_groups.get_mut(&sid) else {
                            continue;
                        };
                        if !state.loaded {
                            state.pending.push((group_ref.clone(), joining));
                            continue;
                        }
                        if joining {
                            state.groups.insert(group_ref.clone());
                            if let Some(since) = index_group(&mut inner, area, group.clone(), sid) {
                                if inner.book(area).left_short(sid, since) {
                                    mark_behind(&inner, sid);
                                }
                            }
                        } else {
                            state.groups.remove(&group_ref);
                            unindex_group(&mut inner, area, group.clone(), sid);
                        }
                    }
                }
            },
            FeedEvent::Rtc { app_key, to, .. } => {
                for user in to {
                    let key = (app_key.clone(), user.clone());
                    for sid in inner.by_user.get(&key).into_iter().flatten() {
                        if let Some(handle) = inner.sessions.get(sid) {
                            handle.offer(Delivery::Event(dispatched.clone()));
                        }
                    }
                }
            }
            FeedEvent::Banned { app_key, user_ids } => {
                for user in user_ids {
                    let key = (app_key.clone(), user.clone());
                    for sid in inner.by_user.get(&key).into_iter().flatten() {
                        if let Some(handle) = inner.sessions.get(sid) {
                            handle.kick(codes::USER_BLOCKED, "the user is banned");
                        }
                    }
                }
            }
        }
    }

    /// A page of the feed filtered by interest `version` (`None`: not filtered) is about
    /// to be dispatched: the sessions relying on a key it did not have resync.
    pub fn begin_page(&self, area: AreaCode, version: Option<u64>) {
        let mut inner = self.lock();
        for session in inner.book(area).begin_page(version) {
            mark_behind(&inner, session);
        }
    }

    /// What the tailer sends the leader, which holds `leader_holds` of this edge's interest.
    pub fn interest_update(
        &self,
        area: AreaCode,
        leader_holds: Option<u64>,
    ) -> (u64, InterestChange) {
        self.lock().book(area).update(leader_holds)
    }

    /// The leader does not filter the feed (an older build).
    pub fn feed_unfiltered(&self, area: AreaCode) {
        self.lock().book(area).set_unfiltered();
    }

    /// Changes when the area's interest gains a key.
    pub fn interest_additions(&self, area: AreaCode) -> watch::Receiver<u64> {
        self.lock().book(area).additions()
    }

    /// Resolves once the leader filters the feed by every key held now, so that a sync
    /// or a chatroom join started after it misses no event its session is routed by;
    /// false if no page came within [`SETTLE_LIMIT`] (no leader answers).
    pub async fn interest_settled(&self, area: AreaCode) -> bool {
        let Some((version, mut confirmed)) = self.lock().book(area).settled() else {
            return true;
        };
        let settled = confirmed.wait_for(|confirmed| *confirmed >= version);
        let answer = tokio::time::timeout(SETTLE_LIMIT, settled).await;
        matches!(answer, Ok(Ok(_)))
    }

    /// Every session must resync (the feed lost events this edge had not read).
    pub fn all_behind(&self) {
        let inner = self.lock();
        for session in inner.sessions.keys() {
            mark_behind(&inner, *session);
        }
    }
}

/// Takes `id` out of `index`; answers whether it was there.
fn unindex<K: std::hash::Hash + Eq>(index: &mut HashMap<K, HashSet<u64>>, key: K, id: u64) -> bool {
    let Some(ids) = index.get_mut(&key) else {
        return false;
    };
    let removed = ids.remove(&id);
    if ids.is_empty() {
        index.remove(&key);
    }
    removed
}

/// Puts session `id` in a group's index; answers the interest version since which the
/// group is held, when the session was not there yet.
fn index_group(inner: &mut Inner, area: AreaCode, group: GroupKey, id: u64) -> Option<u64> {
    let key = interest::group(&group.0, group.1, &group.2);
    let added = inner.groups.entry(group).or_default().insert(id);
    added.then(|| inner.book(area).add(key))
}

fn unindex_group(inner: &mut Inner, area: AreaCode, group: GroupKey, id: u64) {
    let key = interest::group(&group.0, group.1, &group.2);
    if unindex(&mut inner.groups, group, id) {
        inner.book(area).remove(key);
    }
}

fn unindex_room(inner: &mut Inner, area: AreaCode, room: UserKey, id: u64) {
    let key = interest::room(&room.0, &room.1);
    if unindex(&mut inner.rooms, room, id) {
        inner.book(area).remove(key);
    }
}

impl Inner {
    fn book(&mut self, area: AreaCode) -> &mut InterestBook {
        self.interest.entry(area).or_default()
    }
}

fn mark_behind(inner: &Inner, session: u64) {
    if let Some(handle) = inner.sessions.get(&session) {
        handle.behind.store(true, Ordering::Release);
        handle.wake.notify_one();
    }
}

/// The sessions a message goes to; the device that sent it gets an ack instead.
fn recipients<'a>(
    inner: &'a Inner,
    app_key: &str,
    message: &'a Message,
) -> Vec<&'a Arc<SessionHandle>> {
    let conversation = &message.conversation;
    // Ids are read in place: a room of thousands is not copied for every message.
    type Ids<'i> = Box<dyn Iterator<Item = u64> + 'i>;
    let of_user = |user: &str| -> Ids<'a> {
        let ids = inner.by_user.get(&(app_key.to_string(), user.to_string()));
        Box::new(ids.into_iter().flatten().copied())
    };
    let in_set =
        |ids: Option<&'a HashSet<u64>>| -> Ids<'a> { Box::new(ids.into_iter().flatten().copied()) };
    let ids: Ids<'a> = match conversation.kind {
        ConversationType::Private if conversation.second != conversation.first => {
            Box::new(of_user(&conversation.first).chain(of_user(&conversation.second)))
        }
        ConversationType::Private => of_user(&conversation.first),
        ConversationType::System if conversation.second.is_empty() => {
            in_set(inner.by_app.get(app_key))
        }
        ConversationType::System => of_user(&conversation.second),
        ConversationType::Group | ConversationType::UltraGroup => in_set(inner.groups.get(&(
            app_key.to_string(),
            conversation.kind,
            conversation.first.clone(),
        ))),
        ConversationType::Chatroom => in_set(
            inner
                .rooms
                .get(&(app_key.to_string(), conversation.first.clone())),
        ),
    };
    ids.filter_map(|id| inner.sessions.get(&id))
        .filter(|h| message.visible_to(&h.user_id))
        .filter(|h| message.copied_to(&h.user_id, &h.device_id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(group: &str, user: &str) -> FeedEvent {
        FeedEvent::Members {
            app_key: "app".into(),
            kind: ConversationType::Group,
            id: group.into(),
            joined: vec![user.into()],
            left: Vec::new(),
            dismissed: false,
        }
    }

    fn online(registry: &Registry, user: &str) -> Arc<SessionHandle> {
        let (queue, _deliveries) = mpsc::channel(8);
        let handle = registry.attach(
            AreaCode::Sg,
            "app",
            user,
            "phone",
            Platform::Mobile,
            queue,
            false,
        );
        registry.load_groups(handle.id, Vec::new());
        handle
    }

    #[test]
    fn a_group_joined_during_a_page_filtered_without_it_resyncs_the_member_until_one_has_it() {
        let registry = Registry::default();
        let bob = online(&registry, "bob");
        let (known, _) = registry.interest_update(AreaCode::Sg, None);
        registry.begin_page(AreaCode::Sg, Some(known));
        assert!(!bob.take_behind());

        // The page that brings bob's join left the group's messages out.
        registry.dispatch(10, joined("g1", "bob"), Instant::now());
        assert!(
            bob.take_behind(),
            "marked before any later event of the page"
        );
        registry.begin_page(AreaCode::Sg, Some(known));
        assert!(bob.take_behind(), "an older page still lacks the group");
        let (with_group, change) = registry.interest_update(AreaCode::Sg, Some(known));
        let group = interest::group("app", ConversationType::Group, "g1");
        assert_eq!(
            change,
            InterestChange::Since {
                base: known,
                changes: vec![(with_group, group, true)]
            }
        );
        registry.begin_page(AreaCode::Sg, Some(with_group));
        assert!(!bob.take_behind());
        // Another member of a group already filtered for: nothing to catch up on.
        let ann = online(&registry, "ann");
        let (with_ann, _) = registry.interest_update(AreaCode::Sg, Some(with_group));
        registry.begin_page(AreaCode::Sg, Some(with_ann));
        registry.dispatch(11, joined("g1", "ann"), Instant::now());
        assert!(!ann.take_behind());
    }
}
