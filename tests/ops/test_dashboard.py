"""The deliveries dashboard (Flask client): signed in with the API's credentials (the API token, accounts,
robots) and rules, CSRF on every form, targets and secrets masked, hostile response bodies escaped, stop and
redeliver."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.dashboard import views as dashboard_views
from app.extensions import db
from app.models import HookJob
from app.services import projects, roles, users
from tests.integration.test_delivery import add_policy, jobs, push, work
from tests.support import accounts, replay
from tests.support.sinks import Reply, Sink

TOKEN = "s" * 40
AUTH_HEADER = "Bearer dashboard-secret-91f2"


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: FlaskClient, token: str = TOKEN, next_path: str = "/") -> int:
    form = client.get(f"/login?next={next_path}").text
    response = client.post("/login", data={"password": token, "next": next_path, "csrf_token": csrf(form)})
    return response.status_code


def test_the_dashboard_needs_the_api_token_and_a_csrf_token_to_sign_in(make_app: Callable[..., Flask]) -> None:
    client = make_app(api_token=TOKEN).test_client()
    first = client.get("/")
    assert first.status_code == 302 and first.headers["Location"].startswith("/login?next=/")
    form = client.get("/login").text
    assert client.post("/login", data={"password": TOKEN}).status_code == 400, "no CSRF token"
    wrong = client.post("/login", data={"password": "nope", "csrf_token": csrf(form)})
    assert wrong.status_code == 401 and "That name and password do not sign in." in wrong.text
    assert sign_in(client) == 302
    page = client.get("/")
    assert page.status_code == 200 and "<h1>Projects</h1>" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    # Signing out needs the form's CSRF token too.
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": csrf(page.text)}).status_code == 302
    assert client.get("/").status_code == 302


def test_after_sign_in_only_paths_of_this_site_are_followed(make_app: Callable[..., Flask]) -> None:
    client = make_app(api_token=TOKEN).test_client()
    for hostile in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        form = client.get("/login").text  # each sign-in starts a new session, with a new CSRF token
        response = client.post("/login", data={"password": TOKEN, "next": hostile, "csrf_token": csrf(form)})
        assert response.headers["Location"] == "/", hostile
    form = client.get("/login").text
    response = client.post("/login", data={"password": TOKEN, "next": "/projects/library", "csrf_token": csrf(form)})
    assert response.headers["Location"] == "/projects/library"


def test_a_new_api_token_signs_every_browser_out(make_app: Callable[..., Flask]) -> None:
    old = make_app(api_token=TOKEN).test_client()
    assert sign_in(old) == 302
    cookie = old.get_cookie("dockhook")
    assert cookie is not None
    rotated = make_app(api_token="n" * 40).test_client()
    rotated.set_cookie("dockhook", cookie.value)
    assert rotated.get("/").status_code == 302


def test_a_failed_delivery_is_shown_escaped_and_masked_then_redelivered_from_the_page(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    app = make_app(notify_token=replay.TOKEN, api_token=TOKEN, redis_url=redis_db, retry_schedule=())
    add_policy(app, [{"address": f"{sink.url}?token=query-secret-77", "auth_header": AUTH_HEADER}])
    sink.respond = lambda _: Reply(status=500, body=b"<script>alert('target')</script>")
    push(app)
    work(app, redis_db)
    (job,) = jobs(app)
    assert job.status == "error"

    client = app.test_client()
    assert sign_in(client) == 302
    overview = client.get("/").text
    assert 'href="/projects/library"' in overview and "error 1" in overview
    project = client.get("/projects/library").text
    assert job.uuid in project and "PUSH_ARTIFACT" in project
    assert "token=******" in project and "auth header ******" in project
    for secret in ("query-secret-77", "dashboard-secret-91f2"):
        assert secret not in project
    # Filters: the status filter finds it, another status does not.
    assert job.uuid in client.get("/projects/library?status=error&since=1h").text
    assert job.uuid not in client.get("/projects/library?status=success").text
    assert client.get("/projects/nope").status_code == 404

    page = client.get(f"/hook-jobs/{job.uuid}").text
    assert "&lt;script&gt;alert(&#39;target&#39;)&lt;/script&gt;" in page and "<script>" not in page
    assert "http_status" in page and "500" in page
    assert "query-secret-77" not in page and "dashboard-secret-91f2" not in page
    assert client.post(f"/hook-jobs/{job.uuid}/redeliver").status_code == 400, "no CSRF token"

    sink.respond = lambda _: Reply(status=200)
    done = client.post(f"/hook-jobs/{job.uuid}/redeliver", data={"csrf_token": csrf(page)}, follow_redirects=True)
    assert "Redelivery queued" in done.text
    work(app, redis_db)
    (job,) = jobs(app)
    assert (job.status, job.attempt_count) == ("success", 2)
    assert "(manual)" in client.get(f"/hook-jobs/{job.uuid}").text


def test_a_pending_job_can_be_stopped_from_the_page(make_app: Callable[..., Flask], redis_db: str, sink: Sink) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db)
    add_policy(app, [{"address": sink.url}])
    push(app)
    (job,) = jobs(app)
    client = app.test_client()  # no API token set: the dashboard is open, as the API is
    page = client.get(f"/hook-jobs/{job.uuid}").text
    assert ">Stop<" in page and ">Redeliver<" not in page
    stopped = client.post(f"/hook-jobs/{job.uuid}/stop", data={"csrf_token": csrf(page)}, follow_redirects=True)
    assert "Stopped: no further attempt will be made." in stopped.text
    (job,) = jobs(app)
    assert job.status == "stopped"
    work(app, redis_db)
    assert sink.received == []


def test_accounts_and_robots_sign_in_and_see_only_what_their_roles_allow(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    """The API's credentials and rules (notification-policy, Harbor's roles): library's projectAdmin sees and
    redelivers its jobs; its maintainer sees them but may not stop one; its guest and another project's admin do
    not see library's webhooks at all; a robot signs in with its secret; a changed password signs the browser
    out."""
    app = make_app(notify_token=replay.TOKEN, api_token=TOKEN, redis_url=redis_db, retry_schedule=())
    add_policy(app, [{"address": sink.url}])
    sink.respond = lambda _: Reply(status=500)
    push(app)
    work(app, redis_db)
    (job,) = jobs(app)
    with app.app_context():
        library = projects.by_name("library")
        other = projects.ensure("other")
        assert library is not None
        accounts.member(library, accounts.user("mia"), roles.PROJECT_ADMIN)
        accounts.member(library, accounts.user("gus"), roles.MAINTAINER)
        accounts.member(library, accounts.user("gina"), roles.GUEST)
        accounts.member(other, accounts.user("otto"), roles.PROJECT_ADMIN)
        accounts.robot(
            "ci",
            accounts.grant("library", ("notification-policy", "list"), ("notification-policy", "read")),
            project=library,
        )
        db.session.commit()

    def browser(name: str, secret: str = accounts.PASSWORD) -> FlaskClient:
        client = app.test_client()
        form = client.get("/login").text
        signed = client.post("/login", data={"username": name, "password": secret, "csrf_token": csrf(form)})
        assert signed.status_code == 302, (name, signed.status_code)
        return client

    mia = browser("mia")
    assert 'href="/projects/library"' in mia.get("/").text and 'href="/projects/other"' not in mia.get("/").text
    page = mia.get(f"/hook-jobs/{job.uuid}").text
    sink.respond = lambda _: Reply(status=200)
    done = mia.post(f"/hook-jobs/{job.uuid}/redeliver", data={"csrf_token": csrf(page)}, follow_redirects=True)
    assert "Redelivery queued" in done.text
    work(app, redis_db)
    with app.app_context():
        assert db.session.scalars(select(HookJob)).one().operator == "mia"

    gus = browser("gus")
    page = gus.get(f"/hook-jobs/{job.uuid}")
    assert page.status_code == 200
    assert gus.post(f"/hook-jobs/{job.uuid}/stop", data={"csrf_token": csrf(page.text)}).status_code == 403

    gina = browser("gina")
    assert 'href="/projects/library"' not in gina.get("/").text
    assert gina.get(f"/hook-jobs/{job.uuid}").status_code == 404

    otto = browser("otto")
    assert 'href="/projects/library"' not in otto.get("/").text and 'href="/projects/other"' in otto.get("/").text
    assert otto.get("/projects/library").status_code == 404
    assert otto.get(f"/hook-jobs/{job.uuid}").status_code == 404

    robot = browser("robot$library+ci", accounts.ROBOT_SECRET)
    assert robot.get(f"/hook-jobs/{job.uuid}").status_code == 200

    stranger = app.test_client()
    form = stranger.get("/login").text
    wrong = stranger.post("/login", data={"username": "mia", "password": "nope", "csrf_token": csrf(form)})
    assert wrong.status_code == 401 and "That name and password do not sign in." in wrong.text
    assert stranger.get("/").status_code == 302

    with app.app_context():
        users.set_password(users_by_name("mia"), "An0ther-passw0rd-here", operator="tests")
    assert mia.get("/").status_code == 302, "a changed password signs the browser out"


def users_by_name(name: str) -> Any:
    found = users.by_name(name)
    assert found is not None
    return found


def test_a_system_wide_policys_job_is_shown_to_system_administrators_only(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    app = make_app(notify_token=replay.TOKEN, api_token=TOKEN, redis_url=redis_db, retry_schedule=())
    api = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert api.post("/api/v2.0/projects", json={"project_name": "library"}, headers=auth).status_code == 201
    body = {"name": "everywhere", "targets": [{"type": "http", "address": sink.url}], "event_types": ["PUSH_ARTIFACT"]}
    assert api.post("/api/v2.0/webhook/policies", json=body, headers=auth).status_code == 201
    push(app)
    (job,) = jobs(app)
    assert job.project_id is None
    with app.app_context():
        library = projects.by_name("library")
        assert library is not None
        accounts.member(library, accounts.user("mia"), roles.PROJECT_ADMIN)
        accounts.user("root", sysadmin=True)
        db.session.commit()

    def browser(name: str) -> FlaskClient:
        client = app.test_client()
        form = client.get("/login").text
        signed = client.post("/login", data={"username": name, "password": accounts.PASSWORD, "csrf_token": csrf(form)})
        assert signed.status_code == 302, (name, signed.status_code)
        return client

    root = browser("root")
    page = root.get(f"/hook-jobs/{job.uuid}")
    assert page.status_code == 200 and "everywhere" in page.text
    assert 'href="/system">System-wide policies</a>' in page.text, "the job's crumbs lead to its policies' page"
    index = root.get("/").text
    assert 'href="/system"' in index and "pending 1" in index.split('class="system"')[1].split("</tr>")[0]
    system = root.get("/system")
    assert system.status_code == 200 and "<h1>System-wide policies</h1>" in system.text
    assert "everywhere" in system.text and job.uuid in system.text
    assert job.uuid not in root.get("/system?status=success").text, "the page's filters apply"
    assert job.uuid in root.get("/system?status=pending&event_type=PUSH_ARTIFACT&since=1h").text
    assert job.uuid not in root.get("/projects/library").text, "a project's page keeps to its own policies' jobs"
    mia = browser("mia")
    assert mia.get(f"/hook-jobs/{job.uuid}").status_code == 404
    assert "everywhere" not in mia.get("/projects/library").text
    assert mia.get("/system").status_code == 404, "only system administrators see the system-wide policies"
    assert "/system" not in mia.get("/").text


def test_the_project_and_system_pages_page_their_hook_jobs(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink, monkeypatch: Any
) -> None:
    monkeypatch.setattr(dashboard_views, "PAGE_SIZE", 1)
    app = make_app(notify_token=replay.TOKEN, api_token=TOKEN, redis_url=redis_db, retry_schedule=())
    add_policy(app, [{"address": sink.url}, {"address": sink.url + "/b"}])
    api = app.test_client()
    targets = [{"type": "http", "address": sink.url + "/c"}, {"type": "http", "address": sink.url + "/d"}]
    body = {"name": "everywhere", "targets": targets, "event_types": ["PUSH_ARTIFACT"]}
    created = api.post("/api/v2.0/webhook/policies", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert created.status_code == 201, created.get_json()
    push(app)
    by_scope: dict[bool, list[str]] = {True: [], False: []}
    for job in jobs(app):
        by_scope[job.project_id is None].append(job.uuid)
    assert len(by_scope[True]) == len(by_scope[False]) == 2
    client = app.test_client()
    assert sign_in(client) == 302
    for path, mine in (("/projects/library", by_scope[False]), ("/system", by_scope[True])):
        first = client.get(f"{path}?status=pending").text
        assert "page 1 of 2" in first and "newer" not in first
        older = re.search(r'href="([^"]+)">older</a>', first)
        assert older, first
        link = older.group(1).replace("&amp;", "&")
        assert link.startswith(f"{path}?") and "page=2" in link and "status=pending" in link
        second = client.get(link).text
        assert "page 2 of 2" in second and 'href="' in second.split(">newer<")[0]
        shown = [uuid for uuid in mine if uuid in first] + [uuid for uuid in mine if uuid in second]
        assert sorted(shown) == sorted(mine), "each job on one page, none on both"
