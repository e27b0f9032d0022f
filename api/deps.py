"""FastAPI dependencies as `Annotated` aliases, so tests can override them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from inkdex.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
