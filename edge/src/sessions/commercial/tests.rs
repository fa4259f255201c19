use super::*;
use meridian_proto::ConversationBody;
use meridian_rmtp::body::ChrmOutput;
use meridian_rmtp::ServerFrame as Out;

fn publish(topic: &str, body: Vec<u8>) -> Vec<u8> {
    Rmtp::Publish(Request {
        flags: Flags {
            qos: 1,
            ..Flags::default()
        },
        topic: topic.into(),
        target_id: "bob".into(),
        message_id: 9,
        body,
    })
    .encode()
    .unwrap()
}

fn text(client_unique_id: Option<i64>) -> Vec<u8> {
    body::UpStreamMessage {
        session_id: body::up_flags::PERSISTED | body::up_flags::COUNTED,
        classname: "RC:TxtMsg".into(),
        content: r#"{"content":"hi"}"#.into(),
        push_text: None,
        app_data: None,
        to_user_ids: vec![],
        client_unique_id,
        bus_channel: None,
    }
    .encode_to_vec()
}

fn connected(wire: &mut Commercial) {
    let frame = ServerFrame::Connected {
        user_id: "alice".into(),
        server_time: 1,
        cursor: 0,
        heartbeat_ms: 1,
    };
    wire.write(&frame).unwrap();
}

#[test]
fn a_private_send_is_acknowledged_with_its_message_id() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let Ok(Incoming::Frame(ClientFrame::Send {
        client_id,
        conversation_type,
        target_id,
        ..
    })) = wire.read(&publish("ppMsgP", text(Some(77))))
    else {
        panic!("not a send");
    };
    assert_eq!(
        (client_id.as_str(), conversation_type, target_id.as_str()),
        ("rc-77", 1, "bob")
    );
    let ack = wire
        .write(&ServerFrame::Ack {
            client_id,
            msg_uid: "M1".into(),
            seq: 1,
            sent_time: 1_764_000_000_250,
            dropped: false,
        })
        .unwrap();
    assert_eq!(
        Out::decode(&ack, ConnAckLayout::Plain).unwrap(),
        Out::PubAck {
            message_id: 9,
            status: 0,
            time_ms: 1_764_000_000_250,
            msg_uid: "M1".into(),
        }
    );
}

#[test]
fn a_pull_gathers_the_sync_into_one_answer_with_the_cursor_as_sync_time() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let pull = Rmtp::Query(Request {
        flags: Flags::default(),
        topic: "pullMsg".into(),
        target_id: "alice".into(),
        message_id: 4,
        body: body::SyncRequestMsg {
            sync_time: 12,
            ispolling: false,
        }
        .encode_to_vec(),
    });
    let Ok(Incoming::Frame(ClientFrame::Sync { cursor: 12 })) = wire.read(&pull.encode().unwrap())
    else {
        panic!("not a sync from 12");
    };
    let message = |sender: &str| MessageBody {
        cursor: 13,
        msg_uid: "M".into(),
        seq: 1,
        conversation_type: 1,
        target_id: "bob".into(),
        channel_id: String::new(),
        sender_user_id: sender.into(),
        object_name: "RC:TxtMsg".into(),
        content: "{}".into(),
        sent_time: 5,
        push_content: None,
        push_data: None,
        recalled: false,
        modified: false,
    };
    assert!(wire.write(&ServerFrame::Message(message("bob"))).is_none());
    assert!(wire
        .write(&ServerFrame::Message(message("alice")))
        .is_none());
    let answer = wire.write(&ServerFrame::Synced { cursor: 14 }).unwrap();
    let Out::QueryAck {
        message_id: 4,
        status: 0,
        body,
        ..
    } = Out::decode(&answer, ConnAckLayout::Plain).unwrap()
    else {
        panic!("not the pull's answer");
    };
    let pulled = DownStreamMessages::decode(body.as_slice()).unwrap();
    assert_eq!(pulled.sync_time, 14);
    let seen: Vec<_> = pulled
        .list
        .iter()
        .map(|m| (m.from_user_id.as_str(), m.direction))
        .collect();
    // The user's own private message names the peer, marked as sent.
    assert_eq!(seen, [("bob", Some(2)), ("bob", Some(1))]);
    // Without a pull under way, a resync's end is a notice to pull.
    let notice = wire.write(&ServerFrame::Synced { cursor: 20 }).unwrap();
    let Out::Publish { topic, body, .. } = Out::decode(&notice, ConnAckLayout::Plain).unwrap()
    else {
        panic!("not a notice");
    };
    assert_eq!(topic, "s_ntf");
    assert_eq!(NotifyMsg::decode(body.as_slice()).unwrap().time, Some(20));
}

/// A stored text of bob's in the conversation `(kind, target, channel)`, sent at
/// `sent_time`, with id `M{sent_time}`.
pub(super) fn stored_text(kind: u8, target: &str, channel: &str, sent_time: u64) -> MessageBody {
    MessageBody {
        cursor: 0,
        msg_uid: format!("M{sent_time}"),
        seq: 1,
        conversation_type: kind,
        target_id: target.into(),
        channel_id: channel.into(),
        sender_user_id: "bob".into(),
        object_name: "RC:TxtMsg".into(),
        content: "{}".into(),
        sent_time,
        push_content: None,
        push_data: None,
        recalled: false,
        modified: false,
    }
}

fn query(wire: &mut Commercial, topic: &str, target: &str, id: u16, body: Vec<u8>) -> Incoming {
    let frame = Rmtp::Query(Request {
        flags: Flags::default(),
        topic: topic.into(),
        target_id: target.into(),
        message_id: id,
        body,
    });
    wire.read(&frame.encode().unwrap()).unwrap()
}

fn query_ack(bytes: &[u8]) -> (u16, u16, Vec<u8>) {
    match Out::decode(bytes, ConnAckLayout::Plain).unwrap() {
        Out::QueryAck {
            message_id,
            status,
            body,
            ..
        } => (message_id, status, body),
        other => panic!("not a QUERYACK: {other:?}"),
    }
}

#[test]
fn a_full_history_page_says_there_is_more_and_where_the_next_starts() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let asked = body::HistoryMsgInput {
        target_id: Some("bob".into()),
        time: Some(0),
        count: Some(2),
        order: Some(0),
        bus_channel: None,
    };
    let Incoming::Frame(ClientFrame::History {
        req_id,
        conversation_type: 1,
        limit: 2,
        ..
    }) = query(&mut wire, "qryPMsg", "alice", 5, asked.encode_to_vec())
    else {
        panic!("not a history request");
    };
    let message = |sent_time| stored_text(1, "bob", "", sent_time);
    let page = ServerFrame::HistoryPage {
        req_id,
        messages: vec![message(9), message(7)],
    };
    let (id, status, body) = query_ack(&wire.write(&page).unwrap());
    assert_eq!((id, status), (5, 0));
    let page = HistoryMsgOuput::decode(body.as_slice()).unwrap();
    assert_eq!((page.list.len(), page.has_msg, page.sync_time), (2, 1, 7));
    // Order 1 pages forwards from the time; an ultra group's history has its own topic.
    let newer = body::HistoryMsgInput {
        order: Some(1),
        time: Some(7),
        bus_channel: Some("news".into()),
        ..asked.clone()
    };
    let Incoming::Frame(ClientFrame::History {
        conversation_type: 10,
        before_time: 0,
        after_time: Some(7),
        channel_id,
        ..
    }) = query(&mut wire, "qryUgMsg", "alice", 6, newer.encode_to_vec())
    else {
        panic!("not a forward ultra-group history request");
    };
    assert_eq!(channel_id, "news");
    // No other order exists: refused at once.
    let sideways = body::HistoryMsgInput {
        order: Some(2),
        ..asked
    };
    let Incoming::Answer(refused) =
        query(&mut wire, "qryPMsg", "alice", 7, sideways.encode_to_vec())
    else {
        panic!("not refused");
    };
    assert_eq!(query_ack(&refused).1, status16(codes::BAD_REQUEST));
}

/// A conversation with `peer` whose last message was sent at `time`, `unread` unread.
fn conversation(peer: &str, time: u64, unread: u64) -> ConversationBody {
    ConversationBody {
        conversation_type: 1,
        target_id: peer.into(),
        channel_id: String::new(),
        unread,
        pinned: false,
        muted: false,
        last_message: Some(MessageBody {
            cursor: 0,
            msg_uid: format!("M-{peer}"),
            seq: 1,
            conversation_type: 1,
            target_id: "alice".into(),
            channel_id: String::new(),
            sender_user_id: peer.into(),
            object_name: "RC:TxtMsg".into(),
            content: "{}".into(),
            sent_time: time,
            push_content: None,
            push_data: None,
            recalled: false,
            modified: false,
        }),
    }
}

/// Asks `topic` with `asked`; the QUERYACK body cut from the user's whole list.
fn list_answer(wire: &mut Commercial, topic: &str, asked: Vec<u8>) -> Vec<u8> {
    let Incoming::Frame(ClientFrame::Conversations { req_id, limit }) =
        query(wire, topic, "alice", 11, asked)
    else {
        panic!("{topic} is not a conversations request");
    };
    assert_eq!(limit, WHOLE_LIST);
    let list = ServerFrame::ConversationList {
        req_id,
        conversations: vec![
            conversation("bob", 30, 2),
            conversation("carol", 10, 0),
            conversation("dave", 20, 5),
        ],
    };
    let (id, status, body) = query_ack(&wire.write(&list).unwrap());
    assert_eq!((id, status), (11, 0));
    body
}

#[test]
fn the_server_side_list_is_paged_by_time_and_totalled_for_the_sdk() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let peers = |body: Vec<u8>| {
        let page = body::RelationsOutput::decode(body.as_slice()).unwrap();
        let peers: Vec<String> = page.info.iter().map(|c| c.user_id.clone()).collect();
        (peers, page.is_finished)
    };
    let asked = |start_time, order, count| {
        body::RelationQryInput {
            count: Some(count),
            start_time: Some(start_time),
            order: Some(order),
        }
        .encode_to_vec()
    };
    // Newest first from now, two at a time: there is a third.
    let first = list_answer(&mut wire, "qrySessions", asked(0, 0, 2));
    assert_eq!(
        peers(first),
        (vec!["bob".into(), "dave".into()], Some(false))
    );
    // Older than dave's last message: carol, and nothing more.
    let older = list_answer(&mut wire, "qrySessions", asked(20, 0, 2));
    assert_eq!(peers(older), (vec!["carol".into()], Some(true)));
    // Newer than carol's, oldest first.
    let newer = list_answer(&mut wire, "qryRelation", asked(10, 1, 5));
    assert_eq!(
        peers(newer),
        (vec!["dave".into(), "bob".into()], Some(true))
    );

    // The unread total, and the feed position the session knows as its inbox time.
    wire.write(&ServerFrame::Synced { cursor: 42 });
    let nothing = body::SessionsAttQryInput { nothing: 1 }.encode_to_vec();
    let total = body::SessionsAttOutput::decode(
        list_answer(&mut wire, "qrySessionsAtt", nothing).as_slice(),
    )
    .unwrap();
    assert_eq!((total.total_unread_count, total.inbox_time), (7, 42));

    // Named conversations' counts: one not in the list has none.
    let named = |peer: &str| body::SessionInfo {
        r#type: 1,
        channel_id: peer.into(),
        unread_count: None,
        bus_channel: None,
    };
    let asked = body::Sessions {
        sessions: vec![named("dave"), named("erin")],
    };
    let counts = body::Sessions::decode(
        list_answer(&mut wire, "qrySessionsUnread", asked.encode_to_vec()).as_slice(),
    )
    .unwrap();
    let counts: Vec<_> = counts
        .sessions
        .iter()
        .map(|s| (s.channel_id.as_str(), s.unread_count))
        .collect();
    assert_eq!(counts, [("dave", Some(5)), ("erin", Some(0))]);
}

#[test]
fn marking_read_by_time_is_a_mark_read_answered_with_a_puback() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let read = body::SessionMsgReadInput {
        r#type: 1,
        msg_time: 1_764_000_000_000,
        channel_id: "bob".into(),
        bus_channel: None,
    };
    let Ok(Incoming::Frame(ClientFrame::MarkRead {
        req_id,
        conversation_type: 1,
        target_id,
        seq: 0,
        read_time: Some(1_764_000_000_000),
        ..
    })) = wire.read(&publish("updRRTime", read.encode_to_vec()))
    else {
        panic!("not a mark-read");
    };
    assert_eq!(target_id, "bob");
    let ack = wire.write(&ServerFrame::Done { req_id }).unwrap();
    let Out::PubAck {
        message_id: 9,
        status: 0,
        ..
    } = Out::decode(&ack, ConnAckLayout::Plain).unwrap()
    else {
        panic!("not a PUBACK");
    };
    // A type no conversation has is refused at once.
    let odd = body::SessionMsgReadInput {
        r#type: 300,
        ..read
    };
    let Ok(Incoming::Answer(refused)) = wire.read(&publish("updUgRTime", odd.encode_to_vec()))
    else {
        panic!("not refused");
    };
    let Out::PubAck { status, .. } = Out::decode(&refused, ConnAckLayout::Plain).unwrap() else {
        panic!("not a PUBACK");
    };
    assert_eq!(u32::from(status), codes::BAD_REQUEST);
}

#[test]
fn removing_server_side_conversations_is_one_removal_answered_with_a_bare_queryack() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let session = |r#type, target: &str, channel: Option<&str>| body::SessionInfo {
        r#type,
        channel_id: target.into(),
        unread_count: None,
        bus_channel: channel.map(str::to_string),
    };
    let asked = body::Sessions {
        sessions: vec![session(1, "bob", None), session(3, "team", Some("news"))],
    };
    let Incoming::Frame(ClientFrame::RemoveConversations {
        req_id,
        conversations,
    }) = query(&mut wire, "delSessions", "alice", 12, asked.encode_to_vec())
    else {
        panic!("not a removal");
    };
    let named: Vec<_> = conversations
        .iter()
        .map(|c| {
            (
                c.conversation_type,
                c.target_id.as_str(),
                c.channel_id.as_str(),
            )
        })
        .collect();
    assert_eq!(named, [(1, "bob", ""), (3, "team", "news")]);
    let (id, status, body) = query_ack(&wire.write(&ServerFrame::Done { req_id }).unwrap());
    assert_eq!((id, status, body.len()), (12, 0, 0));
}

/// The core's answer to join `req_id` of "lobby": one message, sent at `sent_time`.
fn joined_with(req_id: u64, sent_time: u64) -> ServerFrame {
    ServerFrame::ChatroomJoined {
        req_id,
        chatroom_id: "lobby".into(),
        messages: vec![MessageBody {
            msg_uid: "R1".into(),
            ..stored_text(4, "lobby", "", sent_time)
        }],
    }
}

#[test]
fn a_join_answers_the_room_and_its_first_pull_gets_what_the_sdk_lacks_once() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let join = body::ChrmInput { nothing: 1 }.encode_to_vec();
    let Incoming::Frame(ClientFrame::JoinChatroom {
        req_id,
        chatroom_id,
    }) = query(&mut wire, "joinChrm", "lobby", 3, join)
    else {
        panic!("not a join");
    };
    assert_eq!(chatroom_id, "lobby");
    let (id, status, body) = query_ack(&wire.write(&joined_with(req_id, 42)).unwrap());
    assert_eq!(
        (
            id,
            status,
            ChrmOutput::decode(body.as_slice()).unwrap().nothing
        ),
        (3, 0, 1)
    );
    let pull = || {
        body::ChrmPullMsg {
            sync_time: 0,
            count: 10,
        }
        .encode_to_vec()
    };
    for expected in [1, 0] {
        let Incoming::Answer(answer) = query(&mut wire, "chrmPull", "lobby", 4, pull()) else {
            panic!("not answered");
        };
        let pulled = ChrmDownStreamMessages::decode(query_ack(&answer).2.as_slice()).unwrap();
        assert_eq!(pulled.list.len(), expected);
    }
    // A rejoin's pull from the newest message the SDK has gets nothing again.
    let rejoin = body::ChrmInput { nothing: 1 }.encode_to_vec();
    let Incoming::Frame(ClientFrame::JoinChatroom { req_id, .. }) =
        query(&mut wire, "joinChrmR", "lobby", 5, rejoin)
    else {
        panic!("not a join");
    };
    wire.write(&joined_with(req_id, 42));
    let from_last = body::ChrmPullMsg {
        sync_time: 42,
        count: 10,
    };
    let Incoming::Answer(answer) =
        query(&mut wire, "chrmPull", "lobby", 6, from_last.encode_to_vec())
    else {
        panic!("not answered");
    };
    let pulled = ChrmDownStreamMessages::decode(query_ack(&answer).2.as_slice()).unwrap();
    assert_eq!((pulled.list.len(), pulled.sync_time), (0, 42));
}

#[test]
fn a_full_pull_answer_stops_at_its_last_message_and_asks_for_another_pull() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let pull = body::SyncRequestMsg {
        sync_time: 0,
        ispolling: false,
    };
    query(&mut wire, "pullMsg", "alice", 8, pull.encode_to_vec());
    let big = "x".repeat(70 * 1024);
    for cursor in [3, 5, 9] {
        let message = MessageBody {
            cursor,
            msg_uid: format!("M{cursor}"),
            seq: 1,
            conversation_type: 1,
            target_id: "bob".into(),
            channel_id: String::new(),
            sender_user_id: "bob".into(),
            object_name: "RC:TxtMsg".into(),
            content: big.clone(),
            sent_time: cursor,
            push_content: None,
            push_data: None,
            recalled: false,
            modified: false,
        };
        assert!(wire.write(&ServerFrame::Message(message)).is_none());
    }
    let answer = wire.write(&ServerFrame::Synced { cursor: 9 }).unwrap();
    let pulled = DownStreamMessages::decode(query_ack(&answer).2.as_slice()).unwrap();
    let uids: Vec<_> = pulled
        .list
        .iter()
        .map(|m| m.msg_id.clone().unwrap())
        .collect();
    assert_eq!(uids, ["M3", "M5"]);
    assert_eq!((pulled.sync_time, pulled.finished), (5, Some(false)));
}

#[test]
fn a_refused_connect_is_a_connack_with_the_sdk_status() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    let refusal = ServerFrame::Error {
        code: codes::TOKEN_INCORRECT,
        message: "token incorrect".into(),
        client_id: None,
        req_id: None,
    };
    let ack = wire.write(&refusal).unwrap();
    assert_eq!(ack, vec![0x20, 0, 4]);
}

#[test]
fn unserved_topics_are_refused_at_once_and_bad_bodies_are_errors() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    let Ok(Incoming::Answer(answer)) = wire.read(&publish("rtcPing", vec![])) else {
        panic!("not answered");
    };
    let Out::PubAck {
        message_id: 9,
        status,
        ..
    } = Out::decode(&answer, ConnAckLayout::Plain).unwrap()
    else {
        panic!("not a refusal");
    };
    assert_eq!(u32::from(status), codes::BAD_REQUEST);
    assert!(matches!(
        wire.read(&publish("ppMsgP", vec![0x0F])),
        Err(Malformed::Body(_))
    ));
    assert!(matches!(wire.read(&[0x30]), Err(Malformed::Frame(_))));
}

#[test]
fn a_destroyed_room_is_an_s_cmd_and_a_kick_says_nothing() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let left = |code| ServerFrame::ChatroomLeft {
        chatroom_id: "lobby".into(),
        code,
    };
    assert_eq!(wire.write(&left(codes::KICKED_FROM_CHATROOM)), None);
    let command = wire.write(&left(codes::CHATROOM_NOT_FOUND)).unwrap();
    let Out::Publish { topic, body, .. } = Out::decode(&command, ConnAckLayout::Plain).unwrap()
    else {
        panic!("not a PUBLISH");
    };
    assert_eq!(topic, "s_cmd");
    let notice = NotifyMsg::decode(body.as_slice()).unwrap();
    assert_eq!(
        (notice.r#type, notice.chrm_id.as_deref()),
        (body::COMMAND_CHATROOM_DESTROYED, Some("lobby"))
    );
}

#[test]
fn a_live_room_message_is_announced_and_pulled_once() {
    let mut wire = Commercial::new(ConnAckLayout::Plain);
    connected(&mut wire);
    let join = body::ChrmInput { nothing: 1 }.encode_to_vec();
    let Incoming::Frame(ClientFrame::JoinChatroom { req_id, .. }) =
        query(&mut wire, "joinChrm", "lobby", 3, join)
    else {
        panic!("not a join");
    };
    wire.write(&joined_with(req_id, 42));
    let ServerFrame::ChatroomJoined { mut messages, .. } = joined_with(0, 50) else {
        unreachable!()
    };
    let live = messages.remove(0);
    let notice = wire.room_message(&live).unwrap();
    let Out::Publish { topic, body, .. } = Out::decode(&notice, ConnAckLayout::Plain).unwrap()
    else {
        panic!("not a PUBLISH");
    };
    let notice = NotifyMsg::decode(body.as_slice()).unwrap();
    assert_eq!(
        (
            topic.as_str(),
            notice.r#type,
            notice.time,
            notice.chrm_id.as_deref()
        ),
        (
            "s_ntf",
            body::NOTIFY_CHATROOM_MESSAGES,
            Some(50),
            Some("lobby")
        )
    );
    // The SDK pulls from its join: the message before the join and the live one, then
    // nothing more.
    let times = |wire: &mut Commercial, sync_time| {
        let pull = body::ChrmPullMsg {
            sync_time,
            count: 10,
        };
        let Incoming::Answer(answer) = query(wire, "chrmPull", "lobby", 4, pull.encode_to_vec())
        else {
            panic!("not answered");
        };
        let pulled = ChrmDownStreamMessages::decode(query_ack(&answer).2.as_slice()).unwrap();
        let times: Vec<i64> = pulled
            .list
            .iter()
            .map(|m| DownStreamMessage::decode(m.as_slice()).unwrap().data_time)
            .collect();
        (times, pulled.sync_time)
    };
    assert_eq!(times(&mut wire, 0), (vec![42, 50], 50));
    assert_eq!(times(&mut wire, 50), (vec![], 50));
    // A room this session is not in: pushed whole.
    let elsewhere = MessageBody {
        target_id: "hall".into(),
        ..live
    };
    let pushed = wire.room_message(&elsewhere).unwrap();
    let Out::Publish { topic, .. } = Out::decode(&pushed, ConnAckLayout::Plain).unwrap() else {
        panic!("not a PUBLISH");
    };
    assert_eq!(topic, "s_msg");
}
