"""The host's managed identity endpoints, under ``/_emulator/identity/`` (host-local services, so
outside counters, limits and faults, as the control API):

* App Service style, ``msi/token`` (MSAL's ``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``): the
  ``X-IDENTITY-HEADER`` must be the emulator's identity header; answers ``expires_on``.
* IMDS style, ``imds/metadata/identity/oauth2/token`` (MSAL's ``AZURE_POD_IDENTITY_AUTHORITY_HOST``
  set to ``.../_emulator/identity/imds``): needs ``Metadata: true``; answers ``expires_in``.

Both take ``resource`` and, for a user-assigned identity, ``client_id`` or its resource id
(``mi_res_id``, ``msi_res_id``); an identity not assigned to
the host (see :meth:`.entra.Directory.assign_managed_identity`) is refused as Azure does.
"""

from __future__ import annotations

import hmac
import time
from urllib.parse import parse_qsl

from .asgi import Reply, Request, json_reply
from .state import EmulatorState

IDENTITY_PREFIX = "/_emulator/identity/"
APP_SERVICE_PATH = "msi/token"
IMDS_PATH = "imds/metadata/identity/oauth2/token"


def managed_identity_reply(state: EmulatorState, request: Request) -> Reply:
    """Answer a token request to the App Service or the IMDS endpoint."""
    kind = request.path.removeprefix(IDENTITY_PREFIX)
    directory = state.directory
    params = dict(parse_qsl(request.query_string))
    if kind == APP_SERVICE_PATH:
        presented = request.headers.get("x-identity-header", "")
        if not hmac.compare_digest(presented.encode(), directory.identity_header.encode()):
            return json_reply(401, {"statusCode": 401, "message": "The X-IDENTITY-HEADER is missing or invalid."})
    elif kind == IMDS_PATH:
        if request.headers.get("metadata", "").lower() != "true":
            return json_reply(
                400, {"error": "invalid_request", "error_description": "Required metadata header not specified"}
            )
    else:
        return json_reply(404, {"error": f"no managed identity endpoint {request.path}"})
    # a user-assigned identity by client id, or by resource id (App Service: mi_res_id; IMDS: msi_res_id)
    client_id = directory.managed_identity(params.get("client_id"), params.get("mi_res_id") or params.get("msi_res_id"))
    resource = params.get("resource", "")
    if client_id is None or not resource:
        problem = "Identity not found" if client_id is None else "Required query variable 'resource' is missing"
        if kind == APP_SERVICE_PATH:
            return json_reply(
                400, {"statusCode": 400, "message": f"Unable to load the proper Managed Identity. {problem}"}
            )
        return json_reply(400, {"error": "invalid_request", "error_description": problem})
    lifetime = state.config.token_lifetime
    token = directory.access_token(client_id, resource.rstrip("/"), lifetime)
    expires_on = str(int(time.time()) + lifetime)
    common = {"access_token": token, "resource": resource, "token_type": "Bearer", "client_id": client_id}
    if kind == APP_SERVICE_PATH:
        return json_reply(200, {**common, "expires_on": expires_on})
    return json_reply(200, {**common, "expires_in": str(lifetime), "expires_on": expires_on})
