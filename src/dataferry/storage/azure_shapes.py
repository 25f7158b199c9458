"""The shape of an Azure registration, checked before anything is stored or asked.

Azure refuses a container, account or endpoint of the wrong shape only when a request
is made, and ``skip_validation`` makes none; a container of ``../x`` or ``a/b`` would
even root the datastore outside its container. So every registration of an Azure kind
passes :func:`check_azure_shape` first, without a network call, and a wrong shape is a
``DatastoreShapeError`` naming the datastore, the option and the rule. Secret values are
never quoted in a message. Pure: no I/O, no SDK import.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dataferry._lazy import LazyPattern
from dataferry.errors import DatastoreShapeError

if TYPE_CHECKING:
    from collections.abc import Mapping

# Azure's rules: containers, ADLS filesystems and shares 3-63 lowercase letters, digits
# and single hyphens, starting and ending with a letter or digit; accounts 3-24
# lowercase letters and digits. $root, $web and $logs are the system containers.
_CONTAINER = LazyPattern(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
_SYSTEM_CONTAINERS = ("$root", "$web", "$logs")
_ACCOUNT = LazyPattern(r"^[a-z0-9]{3,24}$")
_HOST = LazyPattern(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")
_CONTAINER_OPTIONS = {
    "azure_blob": "container_name",
    "azure_data_lake_gen2": "filesystem",
    "azure_file": "file_share_name",
}


def check_azure_shape(
    name: str, kind: str, options: Mapping[str, Any], secrets: Mapping[str, Any]
) -> None:
    """Refuse an Azure registration whose names, endpoint or key cannot be right.

    Args:
        name: the datastore's name, for the message.
        kind: the datastore kind; kinds other than the Azure ones pass unchecked.
        options: the plain options (container, account, protocol, endpoint).
        secrets: the secret values given (None for one not given).

    Raises:
        DatastoreShapeError: a container/filesystem/share or account name breaks Azure's
            naming rules, the protocol is not http(s), the endpoint is not a host, a
            host:port or an http(s) URL, a secret is empty, or an account key is not
            base64.
    """
    option = _CONTAINER_OPTIONS.get(kind)
    if option is None:
        return
    where = f"datastore '{name}'"
    _check_container(where, option, options.get(option))
    _check_account(where, options.get("account_name"))
    _check_protocol(where, options.get("protocol"))
    _check_endpoint(where, options.get("endpoint"))
    _check_secrets(where, secrets)


def _check_container(where: str, option: str, value: Any) -> None:
    if isinstance(value, str) and (
        _CONTAINER.fullmatch(value) or value in _SYSTEM_CONTAINERS
    ):
        return
    raise DatastoreShapeError(
        f"{where}: {option} {value!r} is not a valid Azure name: use 3-63 lowercase "
        "letters, digits and single hyphens, starting and ending with a letter or "
        "digit (no '/', '..' or spaces; a folder inside it is a path on the datastore)."
    )


def _check_account(where: str, value: Any) -> None:
    if isinstance(value, str) and _ACCOUNT.fullmatch(value):
        return
    raise DatastoreShapeError(
        f"{where}: account_name {value!r} is not a valid Azure storage account name: "
        "use 3-24 lowercase letters and digits (the emulator's is 'devstoreaccount1')."
    )


def _check_protocol(where: str, value: Any) -> None:
    if value is None or str(value).lower() in ("http", "https"):
        return
    raise DatastoreShapeError(
        f"{where}: protocol {value!r} is not supported: use 'https' (or 'http' for a "
        "local emulator)."
    )


def _check_endpoint(where: str, value: Any) -> None:
    if value is None:
        return
    text = str(value)
    if "://" not in text:
        ok = bool(_HOST.fullmatch(text.rstrip("/"))) and _port_ok(text)
    else:
        ok = _url_ok(text)
    if ok:
        return
    raise DatastoreShapeError(
        f"{where}: endpoint {value!r} is not an endpoint: give a suffix such as "
        "'core.windows.net', a host[:port] such as '127.0.0.1:10000', or an http(s) "
        "URL such as 'http://127.0.0.1:10000/devstoreaccount1' (no query, no "
        "credentials in it)."
    )


def _url_ok(text: str) -> bool:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and _HOST.fullmatch(parts.netloc) is not None
        and not parts.query
        and not parts.fragment
        and not any(c.isspace() for c in text)
    )


def _port_ok(host: str) -> bool:
    port = host.rstrip("/").rsplit("]", 1)[-1].partition(":")[2]
    return not port or 0 < int(port) < 65536


def _check_secrets(where: str, secrets: Mapping[str, Any]) -> None:
    for field, value in secrets.items():
        if value is not None and not str(value).strip():
            raise DatastoreShapeError(
                f"{where}: {field} is empty; give the credential, or leave it out "
                "(None) for a public container or another credential."
            )
    key = secrets.get("account_key")
    if key is None:
        return
    try:
        base64.b64decode(str(key), validate=True)
    except (binascii.Error, ValueError):
        raise DatastoreShapeError(
            f"{where}: account_key is not a storage account key (those are base64 "
            "text, as the portal's 'Access keys' page shows them); copy it again. "
            "(The value is not shown.)"
        ) from None
