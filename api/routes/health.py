"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api import schemas as s

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _solver_check() -> str:
    try:
        import highspy

        highspy.Highs()
        return "ok"
    except Exception as exc:  # reported by /readyz
        return f"unavailable: {type(exc).__name__}"


@router.get(
    "/readyz", summary="Readiness: database and solver", responses={503: {"model": s.Error}}
)
def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with request.app.state.engine.connect() as c:
            c.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # reported, not raised: this endpoint answers "not ready"
        checks["database"] = f"unavailable: {type(exc).__name__}"
    checks["solver"] = _solver_check()
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                        status_code=200 if ok else 503)  # fmt: skip
