"""hook_job_totals: the database's triggers keep each project's and policy's hook-job count exact through every
way rows come and go (the receiver, COPY, INSERT ... RETURNING, the retention sweep, a deleted policy, a deleted
project), and the hook-job lists answer X-Total-Count from it unless a filter narrows them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, insert, select, text, update

from app import clock
from app.extensions import db
from app.models import HookJob, HookJobStatus, HookJobTotal, Project
from app.services import hook_jobs, policies, projects
from app.services.db import insert_rows, insert_rows_ids
from jobs.cli import hooks as hooks_cli
from tests.integration.test_delivery import add_policy, push
from tests.support import replay

Key = tuple[int, int]


def counted() -> Counter[Key]:
    """The hook jobs per (project, policy), counted row by row (0 for none)."""
    rows = db.session.execute(
        select(HookJob.project_id, HookJob.policy_id, func.count()).group_by(HookJob.project_id, HookJob.policy_id)
    )
    return Counter({(project or 0, policy or 0): n for project, policy, n in rows})


def kept() -> Counter[Key]:
    """The same, as the triggers kept it (the shards summed; keys whose sum is 0 left out)."""
    rows = db.session.execute(
        select(HookJobTotal.project_key, HookJobTotal.policy_key, func.sum(HookJobTotal.jobs)).group_by(
            HookJobTotal.project_key, HookJobTotal.policy_key
        )
    )
    return Counter({(project, policy): int(n) for project, policy, n in rows if n})


def copies(of: HookJob, count: int, series: int, **values: object) -> list[dict[str, object]]:
    """``count`` rows like ``of`` (new uuids, unique per ``series``), with ``values`` changed."""
    now = clock.now()
    columns = ("event_id", "policy_id", "policy_name", "project_id", "event_type", "notify_type", "target", "payload")
    base = {name: getattr(of, name) for name in columns}
    return [
        {**base, "uuid": f"{series:08d}-0000-4000-8000-{n:012d}", "creation_time": now, "update_time": now, **values}
        for n in range(count)
    ]


def test_the_totals_follow_every_insert_delete_and_move_of_hook_jobs(
    make_app: Callable[..., Flask], redis_db: str
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db)
    library_policy = add_policy(app, [{"address": "http://127.0.0.1:9/a"}, {"address": "http://127.0.0.1:9/b"}])
    team_policy = add_policy(app, [{"address": "http://127.0.0.1:9/c"}], name="team-ci", project="team")
    push(app)  # the receiver: 2 hook jobs of library's policy
    with app.app_context():
        library, team = projects.by_name("library"), projects.by_name("team")
        assert library is not None and team is not None
        assert counted() == Counter({(library.id, library_policy): 2})
        assert kept() == counted()

        first = db.session.scalars(select(HookJob).order_by(HookJob.id)).first()
        assert first is not None
        # Bulk: COPY on PostgreSQL (insert_rows), and an INSERT ... RETURNING of a few rows (insert_rows_ids).
        insert_rows(HookJob, copies(first, 70, 1, project_id=team.id, policy_id=team_policy))
        made = insert_rows_ids(HookJob, copies(first, 3, 2), HookJob.uuid, HookJob.id)
        # One row at a time, and a system-wide job (no project) of a policy that is gone (no policy).
        db.session.execute(insert(HookJob), copies(first, 1, 3))
        db.session.execute(insert(HookJob), copies(first, 1, 4, project_id=None, policy_id=None))
        db.session.commit()
        assert counted() == Counter({(library.id, library_policy): 6, (team.id, team_policy): 70, (0, 0): 1})
        assert kept() == counted()

        # A rolled-back insert leaves no count behind.
        insert_rows(HookJob, copies(first, 5, 5, project_id=team.id))
        db.session.rollback()
        assert kept() == counted()

        # The retention sweep deletes ended jobs.
        old = clock.now() - timedelta(days=30)
        ended = [*made.values()][:2]
        db.session.execute(
            update(HookJob).where(HookJob.id.in_(ended)).values(status=HookJobStatus.SUCCESS, finished_at=old)
        )
        db.session.execute(
            update(HookJob)
            .where(HookJob.project_id == team.id, HookJob.id % 2 == 0)
            .values(status=HookJobStatus.SUCCESS, finished_at=old)
        )
        db.session.commit()
        deleted, _ = hook_jobs.purge(clock.now() - timedelta(days=1), batch=16)
        assert deleted == 2 + 35
        assert counted() == Counter({(library.id, library_policy): 4, (team.id, team_policy): 35, (0, 0): 1})
        assert kept() == counted()

        # A deleted policy's jobs stay, with no policy: their count moves with them (ON DELETE SET NULL).
        policies.delete(library, library_policy)
        assert counted() == Counter({(library.id, 0): 4, (team.id, team_policy): 35, (0, 0): 1})
        assert kept() == counted()

        # A deleted project takes its jobs with it (ON DELETE CASCADE).
        policies.delete(team, team_policy)
        projects.delete(team)
        assert db.session.get(Project, team.id) is None
        assert counted() == Counter({(library.id, 0): 4, (0, 0): 1})
        assert kept() == counted()


def test_concurrent_writers_lose_no_count_and_never_deadlock(make_app: Callable[..., Flask], redis_db: str) -> None:
    """Writers on connections of their own add to the same policies' totals (in both key orders) while ended jobs
    are purged: every statement succeeds and the totals still match the rows."""
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db)
    one = add_policy(app, [{"address": "http://127.0.0.1:9/a"}])
    two = add_policy(app, [{"address": "http://127.0.0.1:9/b"}], name="second")
    push(app)
    with app.app_context():
        first = db.session.scalars(select(HookJob).order_by(HookJob.id)).first()
        assert first is not None
        db.session.expunge(first)

    def write(writer: int) -> None:
        order = (one, two) if writer % 2 else (two, one)
        with app.app_context():
            for batch in range(12):
                series = 100 * writer + batch
                rows = [
                    *copies(first, 3, series, policy_id=order[0]),
                    *copies(first, 2, series + 50, policy_id=order[1]),
                ]
                ended = {"status": HookJobStatus.SUCCESS, "finished_at": clock.now() - timedelta(days=30)}
                insert_rows(HookJob, [{**row, **ended} if n % 2 else row for n, row in enumerate(rows)])
                db.session.commit()
            db.session.remove()

    def purge() -> None:
        with app.app_context():
            for _ in range(6):
                hook_jobs.purge(clock.now() - timedelta(days=1), batch=7)
            db.session.remove()

    with ThreadPoolExecutor(7) as pool:
        done = [pool.submit(write, writer) for writer in range(6)] + [pool.submit(purge)]
        for future in done:
            future.result()
    with app.app_context():
        assert sum(counted().values()) > 1
        assert kept() == counted()


def test_the_lists_answer_the_kept_total_unless_a_filter_narrows_them(make_app: Callable[..., Flask]) -> None:
    app = make_app(notify_token=replay.TOKEN)  # no Redis: the jobs stay pending
    policy_id = add_policy(app, [{"address": "http://127.0.0.1:9/a"}, {"address": "http://127.0.0.1:9/b"}])
    push(app)
    client = app.test_client()
    listed = "/api/v2.0/projects/library/webhook/hook-jobs"
    executions = f"/api/v2.0/projects/library/webhook/policies/{policy_id}/executions"
    legacy = f"/api/v2.0/projects/library/webhook/jobs?policy_id={policy_id}"
    unfiltered = [listed, f"{listed}?policy_id={policy_id}", executions, legacy]

    def total(path: str) -> int:
        answer = client.get(path)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return int(answer.headers["X-Total-Count"])

    assert [total(path) for path in unfiltered] == [2, 2, 2, 2]
    # Skew the kept total: the unfiltered lists read it, a filtered one counts its rows.
    with app.app_context():
        library = projects.by_name("library")
        assert library is not None
        db.session.execute(
            text("UPDATE hook_job_totals SET jobs = jobs + 1000 WHERE project_key = :p AND policy_key = :q"),
            {"p": library.id, "q": policy_id},
        )
        db.session.commit()
    assert [total(path) for path in unfiltered] == [1002, 1002, 1002, 1002]
    assert total(f"{listed}?status=pending") == 2
    assert total(f"{listed}?event_type=PUSH_ARTIFACT") == 2
    assert total(f"{executions}?q=status%3DRunning") == 2
    assert total(f"{legacy}&status=pending") == 2


def test_the_migration_counts_the_jobs_already_there(make_app: Callable[..., Flask], redis_db: str) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db)
    add_policy(app, [{"address": "http://127.0.0.1:9/a"}, {"address": "http://127.0.0.1:9/b"}])
    push(app)
    with app.app_context():
        db.session.close()  # SQLite: no transaction of ours may hold the file while Alembic writes
        downgrade(revision="0011_system_events")
        assert "hook_job_totals" not in db.inspect(db.engine).get_table_names()
        first = db.session.scalars(select(HookJob).order_by(HookJob.id)).first()
        assert first is not None
        project_id, policy_id = first.project_id, first.policy_id
        db.session.execute(insert(HookJob), copies(first, 7, 1, project_id=None))
        db.session.commit()
        db.session.close()
        upgrade()
        assert counted() == Counter({(project_id, policy_id): 2, (0, policy_id): 7})
        assert kept() == counted()


def test_hooks_recount_puts_wrong_totals_right(make_app: Callable[..., Flask], redis_db: str) -> None:
    """After a restore that wrote hook_jobs without its triggers, ``flask hooks recount`` counts the rows again."""
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db)
    add_policy(app, [{"address": "http://127.0.0.1:9/a"}, {"address": "http://127.0.0.1:9/b"}])
    push(app)
    with app.app_context():
        right = counted()
        db.session.execute(text("UPDATE hook_job_totals SET jobs = jobs + 5"))
        db.session.execute(insert(HookJobTotal).values(project_key=999, policy_key=0, shard=3, jobs=7))
        db.session.commit()
        assert kept() != right
    result = app.test_cli_runner().invoke(hooks_cli, ["recount"])
    assert result.exit_code == 0, result.output
    assert "2 (project, policy) totals were wrong" in result.output
    with app.app_context():
        assert kept() == counted() == right
    again = app.test_cli_runner().invoke(hooks_cli, ["recount"])
    assert "0 (project, policy) totals were wrong" in again.output
