"""The admin API under /admin/*: keys, teams and usage, guarded by the admin key.

The admin key (`access.admin_key` or $HYBRIDGATE_ADMIN_KEY) is separate from virtual keys and is refused
for inference. Without one the admin API answers 403. Every change is reported to `on_admin_action`
hooks (the audit trail subscribes there); events name the key id, never its secret.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hybridgate.access.durations import parse_duration
from hybridgate.api.responses import error_response, json_response
from hybridgate.api.server import http_error
from hybridgate.api.validate import parse_json
from hybridgate.auth.authenticator import KeyAuthenticator, credential, presented
from hybridgate.auth.manage import (
    KeySpec,
    TeamSpec,
    create_key,
    describe_key,
    describe_team,
    put_team,
    revoke_key,
    rotate_key,
)
from hybridgate.errors import AuthenticationError, BadRequest, GatewayError, NotFound, PermissionDenied
from hybridgate.settings import format_validation_error
from hybridgate.store.base import GROUPS, Store

AdminHook = Callable[[dict[str, Any]], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _spec(model: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as e:
        raise BadRequest("invalid admin payload: " + format_validation_error(e).replace("\n", "; ")) from None


class AdminApi:
    def __init__(self, store: Store, auth: KeyAuthenticator | None, admin_key: str | None) -> None:
        self.store = store
        self.auth = auth
        self.admin_key = admin_key
        self.on_admin_action: list[AdminHook] = []

    def _check(self, request: web.Request) -> None:
        if not self.admin_key:
            raise PermissionDenied("the admin API is disabled: set access.admin_key or HYBRIDGATE_ADMIN_KEY")
        given = credential(presented(request.headers))
        if given is None:
            raise AuthenticationError("missing admin key")
        if not hmac.compare_digest(given.encode(), self.admin_key.encode()):
            raise AuthenticationError("invalid admin key")

    def _audit(self, action: str, target: str, **extra: Any) -> None:
        event = {"ts": time.time(), "actor": "admin", "action": action, "target": target, **extra}
        for hook in self.on_admin_action:
            hook(event)
        if self.auth is not None:
            self.auth.invalidate()

    def guarded(self, fn: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                self._check(request)
                return await fn(request)
            except GatewayError as err:
                return error_response(err)
            except web.HTTPException as e:  # a body over the size limit (413)
                if e.status < 400:
                    raise
                return http_error(request, e.status, e.reason)

        return run

    async def create_key(self, request: web.Request) -> web.StreamResponse:
        spec = _spec(KeySpec, parse_json(await request.read()))
        secret, rec = await create_key(self.store, spec)
        self._audit("key.create", rec.id, team=rec.team, name=rec.name)
        return json_response({**describe_key(rec), "key": secret}, status=201)

    async def list_keys(self, request: web.Request) -> web.StreamResponse:
        keys = await self.store.keys(request.query.get("team"))
        return json_response({"object": "list", "data": [describe_key(k) for k in keys]})

    async def get_key(self, request: web.Request) -> web.StreamResponse:
        rec = await self.store.key(request.match_info["key_id"])
        if rec is None:
            raise NotFound("no such key", code="key_not_found")
        return json_response(describe_key(rec))

    async def revoke(self, request: web.Request) -> web.StreamResponse:
        rec = await revoke_key(self.store, request.match_info["key_id"])
        self._audit("key.revoke", rec.id, team=rec.team)
        return json_response(describe_key(rec))

    async def rotate(self, request: web.Request) -> web.StreamResponse:
        secret, rec = await rotate_key(self.store, request.match_info["key_id"])
        self._audit("key.rotate", rec.id, team=rec.team)
        return json_response({**describe_key(rec), "key": secret})

    async def put_team(self, request: web.Request) -> web.StreamResponse:
        body = parse_json(await request.read())
        if "name" in request.match_info:
            body = {**body, "name": request.match_info["name"]}
        team = await put_team(self.store, _spec(TeamSpec, body))
        self._audit("team.put", team.name)
        return json_response(describe_team(team))

    async def list_teams(self, request: web.Request) -> web.StreamResponse:
        return json_response({"object": "list", "data": [describe_team(t) for t in await self.store.teams()]})

    async def get_team(self, request: web.Request) -> web.StreamResponse:
        team = await self.store.team(request.match_info["name"])
        if team is None:
            raise NotFound("no such team", code="team_not_found")
        return json_response(describe_team(team))

    async def usage(self, request: web.Request) -> web.StreamResponse:
        by = request.query.get("by", "team")
        if by not in GROUPS:
            raise BadRequest(f"by must be one of {', '.join(GROUPS)}", param="by")
        since = time.time() - parse_duration(request.query.get("since", "7d"))
        rows = await self.store.usage(since, by)
        return json_response({"object": "list", "by": by, "since": since, "data": [asdict(r) for r in rows]})


def add_admin_routes(app: web.Application, api: AdminApi) -> None:
    g = api.guarded
    app.router.add_post("/admin/keys", g(api.create_key))
    app.router.add_get("/admin/keys", g(api.list_keys))
    app.router.add_get("/admin/keys/{key_id}", g(api.get_key))
    app.router.add_post("/admin/keys/{key_id}/revoke", g(api.revoke))
    app.router.add_post("/admin/keys/{key_id}/rotate", g(api.rotate))
    app.router.add_post("/admin/teams", g(api.put_team))
    app.router.add_put("/admin/teams/{name}", g(api.put_team))
    app.router.add_get("/admin/teams", g(api.list_teams))
    app.router.add_get("/admin/teams/{name}", g(api.get_team))
    app.router.add_get("/admin/usage", g(api.usage))
