"""FastAPI dependencies as `Annotated` aliases, so tests can override them.

`ArchiveDep` is the indexer's `Archive` opened by the app's lifespan, `SettingsDep` the
service settings, `MetricsDep` the app's own Prometheus metrics, `ImageCacheDep` the
rendered-page cache and `WriteAuth` the bearer-token check that guards every write and
admin route when `api.token` is set.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.metrics import Metrics
from api.render import ImageCache
from indexer.archive import Archive
from inkdex.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_archive(request: Request) -> Archive:
    archive = getattr(request.app.state, "archive", None)
    if archive is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the archive is not open yet")
    return archive


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_image_cache(request: Request) -> ImageCache:
    return request.app.state.image_cache


SettingsDep = Annotated[Settings, Depends(get_settings)]
ArchiveDep = Annotated[Archive, Depends(get_archive)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ImageCacheDep = Annotated[ImageCache, Depends(get_image_cache)]

_bearer = HTTPBearer(auto_error=False, description="the API token from `api.token`")


def require_write_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through when no token is configured or the bearer token matches."""
    expected = settings.api.token
    if not expected:
        return
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this route needs 'Authorization: Bearer <token>' (the token set in api.token)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid API token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


WriteAuth = Annotated[None, Depends(require_write_token)]
