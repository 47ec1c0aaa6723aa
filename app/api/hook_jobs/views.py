"""Hook-job status endpoints: "did my webhook fire, and what did the target say?"."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from flask import Response
from flask.views import MethodView

from app import redact
from app.api import auth, paging
from app.api.base import ID, RESOURCE_NAME_PARAMETER, HarborBlueprint, project
from app.api.hook_jobs.schemas import (
    FROM_LEGACY,
    ExecutionListArgs,
    ExecutionSchema,
    HookJobDetailSchema,
    HookJobListArgs,
    HookJobSchema,
    LegacyJobArgs,
    LegacyJobSchema,
    RecoveredSchema,
    RecoverSchema,
    TaskListArgs,
    TaskSchema,
    TaskUpdateSchema,
)
from app.extensions import current_settings
from app.models import HookJob
from app.services import hook_job_queries, hook_jobs, policies, webhook_lists
from app.services.errors import Conflict, NotFound
from app.services.hook_job_queries import JobFilter

blp = HarborBlueprint("hook_jobs", __name__, url_prefix="/api/v2.0", description="Hook jobs: delivery status")
# Harbor 1.x paths (numeric project id) for the legacy jobs list.
blp_v1 = HarborBlueprint("hook_jobs_v1", __name__, url_prefix="/api", description="Hook jobs (Harbor 1.x paths)")

WEBHOOK = "/projects/<project_name_or_id>/webhook"
POLICY = f"{WEBHOOK}/policies/<{ID}:policy_id>"
EXECUTION = f"{POLICY}/executions/<{ID}:execution_id>"
TASK = f"{EXECUTION}/tasks/<{ID}:task_id>"
NAMED = [RESOURCE_NAME_PARAMETER]
# A hook job's uuid is its webhook-id: anything else names no job (and is not looked up).
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UUID = [
    {
        "in": "path",
        "name": "uuid",
        "required": True,
        "schema": {"type": "string", "format": "uuid", "maxLength": 36},
        "description": "the hook job's uuid: the webhook-id header of its deliveries",
    }
]


@blp.route("/hook-jobs/<uuid>", parameters=UUID)
class HookJobByUuid(MethodView):
    @blp.response(200, HookJobDetailSchema)
    def get(self, uuid: str) -> Any:
        """One hook job by its uuid (the ``webhook-id`` header): status, target without secrets, every attempt."""
        return _with_attempts(_job(uuid))


@blp.route("/hook-jobs/<uuid>/redeliver", parameters=UUID)
class Redeliver(MethodView):
    @blp.response(202, HookJobDetailSchema)
    @blp.alt_response(409, description="The job has not ended yet")
    def post(self, uuid: str) -> Any:
        """Send an ended hook job again as one manual attempt, with the same ``webhook-id``."""
        job = _job(uuid)
        settings = current_settings()
        hook_jobs.redeliver(job, settings.redis_url, settings.job_timeout, operator=auth.current().name)
        return _with_attempts(_job(uuid))


@blp.route("/hook-jobs/<uuid>/stop", parameters=UUID)
class Stop(MethodView):
    @blp.response(200, HookJobDetailSchema)
    @blp.alt_response(409, description="The job has already ended")
    def post(self, uuid: str) -> Any:
        """Stop a hook job that has not ended: no further attempt is made."""
        return _stop(_job(uuid))


@blp.route(f"{WEBHOOK}/hook-jobs", parameters=NAMED)
class ProjectHookJobs(MethodView):
    @blp.arguments(HookJobListArgs, location="query")
    @blp.response(200, HookJobSchema(many=True))
    def get(self, args: dict[str, Any], project_name_or_id: str) -> Any:
        """A project's hook jobs, newest first; filter by ``status`` (repeatable), ``event_type``, ``policy_id``,
        ``since``."""
        filters = JobFilter(args["status"], args["event_type"], args["policy_id"], args["since"])
        rows, total = hook_job_queries.page(project(project_name_or_id).id, args["page"], args["page_size"], filters)
        return rows, paging.headers(total, args["page"], args["page_size"])


@blp.route(f"{WEBHOOK}/jobs", parameters=NAMED)
@blp_v1.route(f"{WEBHOOK}/jobs")
class LegacyJobs(MethodView):
    @blp.arguments(LegacyJobArgs, location="query")
    @blp.response(200, LegacyJobSchema(many=True))
    def get(self, args: dict[str, Any], project_name_or_id: str) -> Any:
        """Harbor's (deprecated) job list of one policy: ``policy_id`` required; ``finished`` means success.
        Newest first unless ``sort`` says."""
        policy = policies.get(project(project_name_or_id), args["policy_id"])
        statuses = [FROM_LEGACY.get(s, s) for s in args["status"]] if args["status"] else None
        rows, total = webhook_lists.legacy_jobs(
            policy, args["page"], args["page_size"], statuses, args["q"], args["sort"]
        )
        return rows, paging.headers(total, args["page"], args["page_size"])


@blp.route(f"{POLICY}/executions", parameters=NAMED)
class Executions(MethodView):
    @blp.arguments(ExecutionListArgs, location="query")
    @blp.response(200, ExecutionSchema(many=True))
    def get(self, args: dict[str, Any], project_name_or_id: str, policy_id: int) -> Any:
        """The policy's executions (Harbor 2.8: one per hook event), newest first unless ``sort`` says."""
        policy = policies.get(project(project_name_or_id), policy_id)
        rows, total = webhook_lists.executions(policy, args["page"], args["page_size"], args["q"], args["sort"])
        return rows, paging.headers(total, args["page"], args["page_size"])


@blp.route(f"{EXECUTION}/tasks", parameters=NAMED)
class Tasks(MethodView):
    @blp.arguments(TaskListArgs, location="query")
    @blp.response(200, TaskSchema(many=True))
    def get(self, args: dict[str, Any], project_name_or_id: str, policy_id: int, execution_id: int) -> Any:
        """The execution's tasks (one: the delivery itself), paged and narrowed by ``q`` as Harbor's are."""
        job = _execution(project_name_or_id, policy_id, execution_id)
        rows, total = webhook_lists.tasks(job, args["page"], args["page_size"], args["q"], args["sort"])
        return rows, paging.headers(total, args["page"], args["page_size"])


@blp.route(TASK, parameters=NAMED)
class Task(MethodView):
    @blp.arguments(TaskUpdateSchema)
    @blp.response(200, TaskSchema)
    def put(
        self, body: dict[str, Any], project_name_or_id: str, policy_id: int, execution_id: int, task_id: int
    ) -> Any:
        """Stop the task (``{"status": "Stopped"}``), as Harbor's UI does."""
        job = _execution(project_name_or_id, policy_id, execution_id)
        if task_id != job.id:
            raise NotFound(f"task {task_id} of execution {execution_id} not found")
        return _stop(job)


@blp.route(f"{POLICY}/recover", parameters=NAMED)
class Recover(MethodView):
    @blp.arguments(RecoverSchema)
    @blp.response(202, RecoveredSchema)
    def post(self, body: dict[str, Any], project_name_or_id: str, policy_id: int) -> Any:
        """Redeliver the hook jobs of the policy that ended in ``error``, created in [``since``, ``until``), at
        most 500 per call; ``remaining`` says how many are left for the next call."""
        policy = policies.get(project(project_name_or_id), policy_id)
        settings = current_settings()
        uuids, remaining = hook_jobs.recover(
            policy.id,
            body["since"],
            body["until"],
            settings.redis_url,
            settings.job_timeout,
            operator=auth.current().name,
        )
        return {"redelivered": len(uuids), "hook_jobs": uuids, "remaining": remaining}


@blp.route(f"{TASK}/log", parameters=NAMED)
class TaskLog(MethodView):
    @blp.response(200, content_type="text/plain")
    def get(self, project_name_or_id: str, policy_id: int, execution_id: int, task_id: int) -> Any:
        """The task's log: one block per attempt (when, where, the answer, the error)."""
        job = _execution(project_name_or_id, policy_id, execution_id)
        if task_id != job.id:
            raise NotFound(f"task {task_id} of execution {execution_id} not found")
        return Response(task_log(job), mimetype="text/plain")


def _job(uuid: str) -> HookJob:
    job = hook_job_queries.by_uuid(uuid) if UUID_RE.fullmatch(uuid) else None
    if job is None:
        raise NotFound(f"hook job {uuid} not found")
    return job


def _stop(job: HookJob) -> Any:
    operator = auth.current().name
    if not hook_jobs.stop(job, f"stopped through the API by {operator}", current_settings().redis_url, operator):
        raise Conflict(f"hook job {job.uuid} has already ended ({job.status})")
    return _with_attempts(_job(job.uuid))


def _execution(project_name_or_id: str, policy_id: int, execution_id: int) -> HookJob:
    row = project(project_name_or_id)
    policy = policies.get(row, policy_id)
    return hook_job_queries.of_policy(row.id, policy.id, execution_id)


def _with_attempts(job: HookJob) -> SimpleNamespace:
    shown = {c.key: getattr(job, c.key) for c in HookJob.__table__.columns}
    return SimpleNamespace(**shown, attempts=hook_job_queries.attempts(job.id))


def task_log(job: HookJob) -> str:
    address = redact.address(str(job.target.get("address", "")), job.notify_type)
    lines = [f"hook job {job.uuid}: {job.event_type} to {job.notify_type} target {address} — status {job.status}"]
    for attempt in hook_job_queries.attempts(job.id):
        answer = f"HTTP {attempt.status_code}" if attempt.status_code is not None else "no answer"
        lines.append(
            f"{attempt.started_at.isoformat()} attempt {attempt.number}{' (manual)' if attempt.manual else ''}: "
            f"POST {address} -> {answer} in {attempt.duration_ms} ms, {attempt.outcome}"
        )
        if attempt.error_class:
            lines.append(f"  error: {attempt.error_class}: {attempt.error_message}")
        if attempt.response_body:
            lines.append(f"  response body: {attempt.response_body[:2048]}")
    if len(lines) == 1:
        lines.append("no attempt yet")
    return "\n".join(lines) + "\n"
