"""Provider metadata for Airflow's providers manager (the ``apache_airflow_provider`` entry point)."""

from __future__ import annotations

from typing import Any

from airflow_provider_bc import __version__
from airflow_provider_bc.hooks.connection_fields import HOOK_NAME, conn_fields, ui_field_behaviour
from airflow_provider_bc.hooks.names import CONN_TYPE

_INTEGRATION = "Microsoft Dynamics 365 Business Central"

#: the how-to pages of the documentation site (docs/ of the repository), as Airflow's providers name theirs:
#: paths from the repository's root, starting with ``/docs/``. Airflow has no key for a connection type's
#: page: it leads the integration's list. The transfer's page is the transfer's own ``how-to-guide``.
HOW_TO_GUIDES = (
    "/docs/connection.md",  # the connection type and the hook's connection
    "/docs/howto/hook.md",  # BusinessCentralHook
    "/docs/howto/fetch.md",  # the get-entity operators
    "/docs/howto/wait.md",  # the entity sensors and their trigger, deferrable
    "/docs/howto/many-entries.md",  # the get-entities operator and the entities sensor
    "/docs/howto/reconcile.md",  # the reconcile operator
    "/docs/howto/event-driven.md",  # the new-entities trigger behind asset watchers
)
TRANSFER_HOW_TO_GUIDE = "/docs/howto/extract.md"  # the object-storage transfer


def get_provider_info() -> dict[str, Any]:
    """Describe the package, its hooks, operators, sensors, triggers, transfers and connection type, and
    where their how-to pages are (validated against each supported Airflow's ``provider_info.schema.json``
    by ``tests/hook/test_provider_info.py``)."""
    return {
        "package-name": "airflow-provider-business-central",
        "name": "Microsoft Dynamics 365 Business Central",
        "description": (
            "Read Business Central (API v2.0) ledgers from Airflow: hook, operators, sensors, triggers, "
            "bulk extraction to object storage, and reconciliation against a warehouse."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://learn.microsoft.com/dynamics365/business-central/dev-itpro/api-reference/v2.0/",
                "tags": ["software"],
                "how-to-guide": list(HOW_TO_GUIDES),
            }
        ],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_bc.hooks.business_central"]}],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_bc.operators.business_central",
                    "airflow_provider_bc.operators.entities",
                    "airflow_provider_bc.operators.reconcile",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_bc.sensors.business_central",
                    "airflow_provider_bc.sensors.entities",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_bc.triggers.business_central",
                    "airflow_provider_bc.triggers.new_entities",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": _INTEGRATION,
                "target-integration-name": "Object Storage",
                "python-module": "airflow_provider_bc.transfers.business_central_to_object_storage",
                "how-to-guide": TRANSFER_HOW_TO_GUIDE,
            }
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_bc.hooks.business_central.BusinessCentralHook",
                "hook-name": HOOK_NAME,
                "conn-fields": conn_fields(),
                "ui-field-behaviour": ui_field_behaviour(),
            }
        ],
    }
