"""Request helpers shared by the pages and the API: the context, who is asking, CSRF."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from monitor.web.app import LoginRequired, WebContext
from monitor.web.security import (
    Principal,
    csrf_ok,
    csrf_token,
    proxy_principal,
    session_principal,
    token_principal,
)


def ctx(request: Request) -> WebContext:
    context: WebContext = request.app.state.ctx
    return context


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def page_user(request: Request) -> Principal:
    """The person behind a page request (reverse-proxy header, else session cookie);
    anyone else is sent to the login page."""
    context = ctx(request)
    user = proxy_principal(context.web, _client(request), request.headers) or \
        session_principal(context.web, request.session, context.now())
    if user is None:
        raise LoginRequired(_return_to(request))
    return user


_ACTION_PATH = re.compile(r"/mentions/(\d+)/[a-z_]+")


def _return_to(request: Request) -> str:
    """Where to go after the login. A form posted after the session ended (say
    /mentions/5/resolve) cannot be replayed by a redirect, which would GET a POST-only
    path (405): back to the page the form was on instead; the action was not done."""
    if request.method in ("GET", "HEAD"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    found = _ACTION_PATH.fullmatch(request.url.path)
    return f"/mentions/{found.group(1)}" if found else "/"


def page_responder(request: Request) -> Principal:
    user = page_user(request)
    if not user.can("responder"):
        raise HTTPException(403, f"{user.name} is a {user.role}: only responders and admins "
                                 "can change mentions")
    return user


def page_admin(request: Request) -> Principal:
    user = page_user(request)
    if not user.can("admin"):
        raise HTTPException(403, f"{user.name} is a {user.role}: only admins can do this")
    return user


def check_csrf(request: Request, presented: str | None) -> None:
    if not csrf_ok(request.session, presented):
        raise HTTPException(403, "The form has expired or did not come from this site "
                                 "(CSRF check failed): reload the page and try again.")


# Declares the scheme in the OpenAPI schema (clients and viewers learn how to
# authenticate); the token itself is checked by token_principal, below.
_bearer = HTTPBearer(auto_error=False, description="a token from [web.tokens]")


def api_user(request: Request,
             _credentials: Annotated[HTTPAuthorizationCredentials | None,
                                     Depends(_bearer)] = None) -> Principal:
    user = token_principal(ctx(request).web, request.headers.get("authorization"))
    if user is None:
        raise HTTPException(401, "send Authorization: Bearer <token> with a token from "
                                 "[web.tokens]", headers={"WWW-Authenticate": "Bearer"})
    return user


def api_responder(request: Request,
                  user: Annotated[Principal, Depends(api_user)]) -> Principal:
    if not user.can("responder"):
        raise HTTPException(403, f"token '{user.name}' has role {user.role}: "
                                 "responder or admin needed")
    return user


def flash(request: Request, text: str, level: str = "info") -> None:
    messages = list(request.session.get("flash", []))[-4:]
    messages.append([level, text[:300]])
    request.session["flash"] = messages


def render(request: Request, name: str, user: Principal | None, status: int = 200,
           headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
    context = ctx(request)
    flashes = request.session.pop("flash", []) if "flash" in request.session else []
    html = context.templates.get_template(name).render(
        request=request, user=user, csrf=csrf_token(request.session), flashes=flashes,
        now=context.now(), brand_names={key: brand.name for key, brand in
                                        context.config.brands.items()},
        **values)
    return HTMLResponse(html, status, headers=headers)
