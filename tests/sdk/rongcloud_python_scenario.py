"""An app server's scenario, run with the commercial service's published Python server SDK
(PyPI `rongcloud` 2.0.1) against Meridian. The only change to the SDK is its base URL."""

import json
import os
import sys

from rongcloud import RongCloud
from rongcloud.base import RongCloudBase

RongCloudBase.api_host = os.environ["MERIDIAN_API"]
rc = RongCloud(os.environ["MERIDIAN_APP_KEY"], os.environ["MERIDIAN_APP_SECRET"])


def check(what, response):
    body = response.result
    if response.status != 200 or body.get("code") != 200:
        print(f"FAILED {what}: HTTP {response.status} {body}")
        sys.exit(1)
    print(f"ok {what}")
    return body


text = json.dumps({"content": "hello from the SDK", "extra": ""})

for user, name in [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol"), ("dave", "Dave")]:
    token = check(f"getToken {user}", rc.User.getToken(user, name, f"http://example.com/{user}.png"))
    assert token["userId"] == user and token["token"], token
check("refresh", rc.User.refresh("alice", name="Alice A."))

check("private message", rc.Message.publishPrivate("alice", ["bob", "carol"], "RC:TxtMsg", text, pushContent="hi"))
check("system message", rc.Message.PublishSystem("admin", ["alice", "bob"], "RC:TxtMsg", text))

check("group create", rc.Group.create(["alice", "bob"], "sdk-group", "SDK Group"))
check("group join", rc.Group.join(["carol"], "sdk-group", "SDK Group"))
members = check("group members", rc.Group.queryUser("sdk-group"))
assert sorted(u["id"] for u in members["users"]) == ["alice", "bob", "carol"], members
check("group refresh", rc.Group.refresh("sdk-group", "Renamed Group"))
check("group sync", rc.Group.sync("dave", [("sdk-group", "SDK Group"), ("dave-group", "Dave's")]))
check("group gag", rc.Group.addGagUser("bob", "sdk-group", "10"))
gagged = check("group gag list", rc.Group.lisGagUser("sdk-group"))
assert [u["userId"] for u in gagged["users"]] == ["bob"], gagged
check("group gag rollback", rc.Group.rollBackGagUser("bob", "sdk-group"))
check("group message", rc.Message.publishGroup("alice", ["sdk-group", "dave-group"], "RC:TxtMsg", text))
check("group quit", rc.Group.quit(["carol"], "sdk-group"))
check("group dismiss", rc.Group.dismiss("dave", "dave-group"))

check("blacklist add", rc.User.addBlacklist("bob", "carol"))
black = check("blacklist query", rc.User.queryBlacklist("bob"))
assert black["users"] == ["carol"], black
check("blacklist remove", rc.User.removeBlacklist("bob", "carol"))

check("block", rc.User.block("dave", "5"))
blocked = check("block query", rc.User.queryBlock())
assert [u["userId"] for u in blocked["users"]] == ["dave"], blocked
check("unblock", rc.User.unBlock("dave"))
check("chatroom create", rc.Chatroom.create([("sdk-room", "SDK Room"), ("sdk-room-2", "Second")]))
rooms = check("chatroom query", rc.Chatroom.query(["sdk-room", "sdk-room-2"]))
assert sorted(r["chrmId"] for r in rooms["chatRooms"]) == ["sdk-room", "sdk-room-2"], rooms
check("chatroom gag", rc.Chatroom.addGagUser("bob", "sdk-room", "10"))
check("chatroom message", rc.Message.publishChatroom("alice", ["sdk-room"], "RC:TxtMsg", text))
check("chatroom destroy", rc.Chatroom.destroy(["sdk-room-2"]))
print("scenario complete")
