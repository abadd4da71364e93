"""API-key authentication of upstream systems, shared by every service that serves them.

An upstream system (a moderation tool, a trusted flagger's portal, an authority's case
system) is a *client*: a row in the service's own ``api_clients`` table with a name, the
SHA-256 of its one API key (sent as ``X-API-Key``), the scopes it holds and an optional
request rate of its own. The table definition, key handling, verification (with a short
positive cache, a negative cache of bad keys and a per-source limit on failed attempts),
per-client rate limits, the create/list/revoke helpers and the CLI commands live here;
each service only names its scopes and keeps the table in its own database.

How a service adopts it (intake is the worked example):

1. Settings: derive the service's settings from :class:`ApiKeySettings` instead of
   ``ServiceSettings``; that adds ``WARDEN_<SERVICE>_RATE_LIMIT_PER_S``, ``…_RATE_LIMIT_BURST``,
   ``…_AUTH_CACHE_TTL_S``, ``…_DEV_API_KEY`` and the failed-authentication limits.
2. Model: ``import warden.shared.apikeys.models`` from the service's ``models.py`` (so the
   table is in ``SQLModel.metadata`` for Alembic and for foreign keys to ``api_clients.id``).
3. Migration: a revision of the service's own that calls
   :func:`~warden.shared.apikeys.migration.create_api_clients_table` in ``upgrade`` and
   :func:`~warden.shared.apikeys.migration.drop_api_clients_table` in ``downgrade``.
4. Wiring: in the service's ``wire(runtime)``, ``await install_api_keys(runtime, SCOPES)``
   where ``SCOPES`` lists every scope the service knows (the dev client gets them all).
5. Routes: take ``client: CurrentClient`` (from :mod:`warden.shared.apikeys.gate`) and
   check scopes with ``client.require_scope("appeals:file", "file appeals")``; declare
   ``problem_responses(401, 403, 429)`` on the route.
6. CLI: in the service's ``cli.py``,
   ``app.add_typer(clients_cli(DecisionSettings, SCOPES), name="clients")`` gives
   ``warden <service> clients create|list|revoke``.
"""

from warden.shared.apikeys.gate import CurrentClient, current_client, install_api_keys
from warden.shared.apikeys.keys import ClientIdentity, generate_api_key, hash_api_key
from warden.shared.apikeys.settings import ApiKeySettings

__all__ = ["ApiKeySettings", "ClientIdentity", "CurrentClient", "current_client",
           "generate_api_key", "hash_api_key", "install_api_keys"]
