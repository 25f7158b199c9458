"""The SDK's authentication classes: they construct without any login.

A local workspace needs no Azure login. Each class stores what it was given (the SDK's
``ServicePrincipalAuthentication`` is lazy too) and its ``get_authentication_header()``
is ``{"Authorization": "Bearer <token>"}`` with the workspace's own token: a random
secret made once and kept in ``<workspace>/auth_token`` (owner-only), the same for every
authentication object and process, which dataferry's REST endpoint accepts
(:func:`is_workspace_token`).
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from dataferry.errors import WorkspaceNotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry.data.workspace import Workspace

TOKEN_FILE = "auth_token"  # noqa: S105  # a file name, not a password
_TOKEN_LIFETIME_S = 365 * 24 * 3600  # the token does not expire; callers see a year


class AccessToken(NamedTuple):
    """What ``get_token`` returns (as ``azure.core.credentials.AccessToken``)."""

    token: str
    expires_on: int


def workspace_token(workspace: Workspace) -> str:
    """The workspace's bearer token, made on first use (``<workspace>/auth_token``).

    Made with ``O_EXCL`` so that concurrent first uses agree on one token.
    """
    path = workspace.path / TOKEN_FILE
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    try:
        os.link(tmp, path)  # fails if another process made it first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text("utf-8").strip()


def is_workspace_token(workspace: Workspace, header: str) -> bool:
    """Whether an ``Authorization`` header value carries the workspace's token."""
    scheme, _, token = header.partition(" ")
    # bytes: compare_digest refuses a str with non-ASCII characters (a TypeError)
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode("utf-8", "surrogateescape"),
        workspace_token(workspace).encode("utf-8"),
    )


class AbstractAuthentication:
    """Base of the authentication classes: a bearer header from the workspace.

    An object passed as ``Workspace(..., auth=...)`` serves that workspace; one used
    before any workspace was given serves the one ``Workspace.from_config()`` finds.
    """

    def __init__(self, cloud: str | None = None) -> None:
        self.cloud = cloud or "AzureCloud"
        self._workspace: Workspace | None = None

    def _bind(self, workspace: Workspace) -> None:
        """Serve ``workspace`` from now on (``Workspace`` calls this)."""
        self._workspace = workspace

    def _served(self) -> Workspace:
        if self._workspace is None:
            from dataferry.data.workspace import Workspace

            try:
                self._workspace = Workspace.from_config()
            except WorkspaceNotFoundError as exc:
                raise WorkspaceNotFoundError(
                    f"{type(self).__name__}.get_authentication_header(): no workspace "
                    "was opened with this authentication and none is found from the "
                    "current folder; pass it as Workspace.from_config(auth=...) first."
                ) from exc
        return self._workspace

    def get_authentication_header(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <workspace token>"}``.

        Raises:
            WorkspaceNotFoundError: no workspace was given and none is found from the
                current folder.
        """
        return {"Authorization": f"Bearer {workspace_token(self._served())}"}

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """The workspace token as an ``AccessToken`` (scopes do not matter locally)."""
        token = workspace_token(self._served())
        return AccessToken(token, int(time.time()) + _TOKEN_LIFETIME_S)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class InteractiveLoginAuthentication(AbstractAuthentication):
    """No prompt: locally there is nothing to log in to."""

    def __init__(
        self,
        force: bool = False,
        tenant_id: str | None = None,
        cloud: str | None = None,
    ) -> None:
        super().__init__(cloud)
        self.force = force
        self.tenant_id = tenant_id


class ServicePrincipalAuthentication(AbstractAuthentication):
    """Stores the principal's id; the password is kept in memory only, never written."""

    def __init__(
        self,
        tenant_id: str,
        service_principal_id: str,
        service_principal_password: str,
        cloud: str = "AzureCloud",
        _enable_caching: bool = True,
    ) -> None:
        super().__init__(cloud)
        self.tenant_id = tenant_id
        self.service_principal_id = service_principal_id
        self._password = service_principal_password
        self._enable_caching = _enable_caching


class AzureCliAuthentication(AbstractAuthentication):
    """Does not call the Azure CLI."""


class MsiAuthentication(AbstractAuthentication):
    """Does not call a managed-identity endpoint; ``identity_config`` is kept."""

    def __init__(self, cloud: str | None = None, **identity_config: Any) -> None:
        super().__init__(cloud)
        self.identity_config = dict(identity_config)


class TokenAuthentication(AbstractAuthentication):
    """Keeps ``get_token_for_audience``; the workspace token is what it hands out."""

    def __init__(
        self, get_token_for_audience: Callable[[str], Any], cloud: str | None = None
    ) -> None:
        super().__init__(cloud)
        self.get_token_for_audience = get_token_for_audience
