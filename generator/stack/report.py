"""Every text and JSON report of the stack commands: what the library's results look like to
people and to machines (the commands print them; the library never does).

| report | of | command |
| --- | --- | --- |
| `up_report` | `UpResult` | `fleetform up` (after seed 001's event lines) |
| `down_report` | `DownResult` | `fleetform down` |
| `matrix_table`, `matrix_json` | `HealthMatrix` | `fleetform status` |
| `live_report`, `live_json` | `LiveResult` | `fleetform verify --live` |
"""

from __future__ import annotations

import json

from generator.stack.compose import last_words
from generator.stack.down import DownResult
from generator.stack.live import LiveResult, ServiceLive
from generator.stack.live_phases import HEALTH_CHECK
from generator.stack.status import ContainerRow, HealthMatrix, duration
from generator.stack.up import UpResult

# ------------------------------------------------------------------ up, down


def up_report(result: UpResult) -> str:
    """What went wrong, after the event lines: the services that never became healthy,
    their dependants that could not start, and the last log lines of each failed container."""
    if result.ok:
        return ""
    lines = [
        f"fleetform up {result.profile}: {len(result.failed)} service(s) did not become healthy,"
        f" {len(result.blocked)} could not start because of them (project {result.project};"
        " nothing was stopped)"
    ]
    lines += [f"  {w.service}: {w.outcome.value}: {w.detail}" for w in result.failed]
    lines += [
        f"  {w.service}: could not start: depends on {', '.join(w.blocked_by)}"
        for w in result.blocked
    ]
    if result.compose_exit not in (0, None):
        words = last_words(result.compose_output)
        lines.append(f"  docker-compose up exited {result.compose_exit}: {words}")
    for wait in result.failed:
        if wait.logs:
            lines.append(f"--- {wait.service} ({', '.join(wait.containers)}): last log lines")
            lines += [f"  {line}" for line in wait.logs]
    lines.append(
        f"inspect: fleetform status --project {result.project} --profile {result.profile};"
        f" remove: fleetform down {result.profile} --project {result.project}"
    )
    return "\n".join(lines) + "\n"


def down_report(result: DownResult) -> str:
    lines = [f"removed container {name}" for name in result.removed]
    if result.outside_profile:
        lines.append(
            f"also removed, not in profile {result.profile}: {', '.join(result.outside_profile)}"
            " (a project has one network)"
        )
    lines += [f"removed network {name}" for name in result.networks]
    if result.anonymous_volumes:
        lines.append(f"removed {len(result.anonymous_volumes)} anonymous volume(s)")
    if result.kept_volumes:
        lines.append(f"kept named volume(s): {', '.join(result.kept_volumes)}")
    lines += [f"still there: {item}" for item in result.leftovers]
    if result.ok:
        lines.append(f"{result.project}: nothing of the project is left running")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ status


def matrix_table(matrix: HealthMatrix) -> str:
    """The matrix for people: one row per container (or service without one), then the
    reason for every verdict that is not ok, then a summary line."""
    rows = [("SERVICE", "CONTAINER", "STATE", "HEALTH", "RESTARTS", "UPTIME", "PORTS", "VERDICT")]
    for status in matrix.services:
        if not status.containers:
            rows.append((status.service, "-", "-", "-", "-", "-", "-", status.verdict.value))
        for index, row in enumerate(status.containers):
            c = row.container
            rows.append(
                (
                    status.service if index == 0 else "",
                    c.name,
                    c.state,
                    c.health if c.health != "none" else "-",
                    str(c.restart_count),
                    duration(row.uptime) if row.uptime is not None else "-",
                    " ".join(str(p) for p in row.ports) or "-",
                    status.verdict.value if index == 0 else "",
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines += [
        f"{s.service}: {s.verdict.value}: {s.detail}" for s in matrix.services if not s.verdict.ok
    ]
    counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(matrix.counts().items()))
    lines.append(f"{matrix.project}: {len(matrix.services)} service(s): {counts or 'none'}")
    return "\n".join(lines) + "\n"


def matrix_json(matrix: HealthMatrix) -> str:
    payload = {
        "project": matrix.project,
        "checked_at": matrix.checked_at.isoformat(),
        "ok": matrix.ok,
        "restart_loop": {"restarts": matrix.rule.restarts, "minutes": matrix.rule.minutes},
        "services": [
            {
                "service": s.service,
                "runtime": s.runtime,
                "verdict": s.verdict.value,
                "detail": s.detail,
                "depends_on": list(s.depends_on),
                "causes": list(s.causes),
                "containers": [_container_json(row) for row in s.containers],
            }
            for s in matrix.services
        ],
    }
    return json.dumps(payload, indent=2) + "\n"


def _container_json(row: ContainerRow) -> dict[str, object]:
    c = row.container
    return {
        "name": c.name,
        "state": c.state,
        "health": c.health,
        "restart_count": c.restart_count,
        "started_at": c.started.isoformat() if c.started else None,
        "uptime_seconds": round(row.uptime, 1) if row.uptime is not None else None,
        "verdict": row.verdict.value,
        "detail": row.detail,
        "ports": [
            {
                "name": p.name,
                "catalog": p.catalog,
                "container_port": p.container_port,
                "protocol": p.protocol,
                "published": list(p.published),
                "drift": p.drift,
            }
            for p in row.ports
        ],
    }


# ------------------------------------------------------------------ verify --live


def live_report(result: LiveResult) -> str:
    """Per service: the verdict and each phase, then on failure why, health-check.sh's
    output and the last log lines of what failed."""
    lines: list[str] = []
    for s in result.services:
        lines.append(f"{s.service}: {'ok' if s.ok else 'FAILED'}: {_phase_summary(s)}")
        if s.detail:
            lines.append(f"  why: {s.detail}")
        lines.append(f"  repository: {s.repo}")
        if s.standins:
            lines.append(f"  stand-ins: {', '.join(s.standins)}")
        if s.real_images:
            lines.append(f"  images the engine had: {', '.join(s.real_images)}")
        if s.skeleton:
            lines.append(f"  skeleton added to the build context: {', '.join(s.skeleton)}")
        if not s.ok:
            if s.check_output:
                lines.append(f"  --- {HEALTH_CHECK} (exit {s.check_exit})")
                lines += [f"    {line}" for line in s.check_output]
            for source, tail in s.logs:
                lines.append(f"  --- {source}: last log lines")
                lines += [f"    {line}" for line in tail] or ["    (none)"]
            lines += [f"  still there: {item}" for item in s.leftovers]
    healthy = sum(s.ok for s in result.services)
    lines.append(
        f"verify --live: {healthy} of {len(result.services)} service(s) built, started and"
        f" healthy in {result.seconds:.0f}s"
    )
    return "\n".join(lines) + "\n"


def _phase_summary(s: ServiceLive) -> str:
    def took(name: str) -> str:
        return f" ({s.seconds[name]:.1f}s)" if name in s.seconds else ""

    parts = [("built" if s.built else "not built") + took("build")]
    if s.built:
        parts.append(("started" if s.started else "not started") + took("start"))
    if s.started:
        parts.append(("healthy" if s.healthy else "not healthy") + took("healthy"))
    if s.check_exit is not None:
        parts.append(f"health-check.sh exit {s.check_exit}" + took("check"))
    if "teardown" in s.seconds:
        parts.append("torn down" + took("teardown"))
    return ", ".join(parts)


def live_json(result: LiveResult) -> str:
    document = {
        "ok": result.ok,
        "seconds": round(result.seconds, 1),
        "services": [_service_json(s) for s in result.services],
    }
    return json.dumps(document, indent=2) + "\n"


def _service_json(s: ServiceLive) -> dict[str, object]:
    return {
        "service": s.service,
        "ok": s.ok,
        "repo": s.repo,
        "project": s.project,
        "image": s.image,
        "built": s.built,
        "started": s.started,
        "healthy": s.healthy,
        "health_check_exit": s.check_exit,
        "detail": s.detail,
        "standins": list(s.standins),
        "real_images": list(s.real_images),
        "skeleton": list(s.skeleton),
        "health_check_output": list(s.check_output),
        "logs": {source: list(lines) for source, lines in s.logs},
        "leftovers": list(s.leftovers),
        "seconds": {k: round(v, 1) for k, v in s.seconds.items()},
    }
