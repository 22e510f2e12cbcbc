"""Workspace sessions: bound to user, workspace host (and path), short-lived, unforgeable."""

from __future__ import annotations

from jupyter_k8s.authz import sessions
from jupyter_k8s.authz.decide import Manager, route_prefix

KEY = sessions.session_key(b"proxy-key")
HOST = "lab--team-a.ws.example.com"


def test_a_handoff_becomes_nothing_but_a_handoff_for_its_own_host() -> None:
    token = sessions.mint(KEY, sessions.HANDOFF, "alice", ("data",), HOST, "/", "sid1", now=1000)
    grant = sessions.verify(KEY, token, sessions.HANDOFF, now=1030)
    assert grant is not None and grant.user == "alice" and grant.groups == ("data",)
    assert grant.covers(HOST, "/lab") and not grant.covers("other--team-a.ws.example.com", "/")
    # One minute only, and never usable as a session.
    assert sessions.verify(KEY, token, sessions.HANDOFF, now=1000 + 61) is None
    assert sessions.verify(KEY, token, sessions.SESSION, now=1030) is None


def test_sessions_cannot_be_forged_or_moved() -> None:
    token = sessions.mint(KEY, sessions.SESSION, "alice", (), HOST, "/", "sid1", now=1000)
    assert sessions.verify(KEY, token, sessions.SESSION, now=2000) is not None
    _, mac = token.split(".")
    forged = sessions.mint(KEY, sessions.SESSION, "mallory", (), HOST, "/", "x").split(".")[0]
    assert sessions.verify(KEY, f"{forged}.{mac}", sessions.SESSION, now=2000) is None
    other_key = sessions.session_key(b"another-installation")
    assert sessions.verify(other_key, token, sessions.SESSION, now=2000) is None
    assert sessions.verify(KEY, "garbage", sessions.SESSION) is None
    assert (
        sessions.verify(KEY, token, sessions.SESSION, now=1000 + sessions.SESSION_SECONDS + 1)
        is None
    )


def test_path_routing_binds_the_session_to_the_workspace_path() -> None:
    token = sessions.mint(
        KEY, sessions.SESSION, "alice", (), "ws.example.com", "/workspaces/team-a/lab/", "s", now=0
    )
    grant = sessions.verify(KEY, token, sessions.SESSION, now=1)
    assert grant is not None
    assert grant.covers("ws.example.com", "/workspaces/team-a/lab/api/contents")
    assert grant.covers("ws.example.com", "/workspaces/team-a/lab")
    assert not grant.covers("ws.example.com", "/workspaces/team-a/lab2/")
    assert not grant.covers("ws.example.com", "/workspaces/team-a/other/")


def test_the_cookie_is_host_only_and_not_for_scripts() -> None:
    header = sessions.cookie_header("t", "/")
    assert "Domain" not in header and "HttpOnly" in header and "Secure" in header
    assert "SameSite=Lax" in header


def test_returning_only_within_the_workspace() -> None:
    assert sessions.safe_return(f"https://{HOST}/lab?x=1", HOST, "/") == "/lab?x=1"
    assert sessions.safe_return("https://evil.example.com/", HOST, "/") == "/"
    assert sessions.safe_return(f"http://{HOST}/lab", HOST, "/") == "/"
    assert (
        sessions.safe_return(
            "https://ws.example.com/workspaces/t/other/", "ws.example.com", "/workspaces/t/lab/"
        )
        == "/workspaces/t/lab/"
    )


def test_route_prefix_per_routing_mode() -> None:
    managers = [Manager("ws.example.com", "subdomain"), Manager("paths.example.com", "path")]
    assert route_prefix(HOST, managers, "team-a", "lab") == "/"
    assert route_prefix("paths.example.com", managers, "team-a", "lab") == "/workspaces/team-a/lab/"


def test_sign_out_ids_never_reveal_the_cookie() -> None:
    sid = sessions.sid_of("secret-cookie-value")
    assert len(sid) == 32 and "secret" not in sid and sid == sessions.sid_of("secret-cookie-value")


def test_a_start_token_is_for_one_user_one_workspace_ten_minutes() -> None:
    from jupyter_k8s.authz.sessions import action_token, check_action

    key = b"k" * 32
    token = action_token(key, "start", "alice", "team-a/lab", now=1000)
    assert check_action(key, token, "start", "alice", "team-a/lab", now=1000 + 599)
    assert not check_action(key, token, "start", "alice", "team-a/lab", now=1000 + 601)
    assert not check_action(key, token, "start", "bob", "team-a/lab", now=1001)
    assert not check_action(key, token, "start", "alice", "team-a/other", now=1001)
    assert not check_action(key, token, "stop", "alice", "team-a/lab", now=1001)
    assert not check_action(b"x" * 32, token, "start", "alice", "team-a/lab", now=1001)
    for forged in ("", "1.forged", "abc.def", f"{1000}.{'A' * 32}"):
        assert not check_action(key, forged, "start", "alice", "team-a/lab", now=1001)
