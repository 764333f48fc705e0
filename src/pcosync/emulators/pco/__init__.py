"""A faithful local stand-in for the Planning Center API (People, Services, Webhooks).

The app is built by :func:`pcosync.emulators.pco.app.create_app`. The parts:

- ``model``      plain records (one dataclass per PCO resource type)
- ``store``      the records, their indexes and every mutation (which also queues webhooks)
- ``persist``    optional SQLite file behind the store (``--data``)
- ``jsonapi``    query parsing (where/order/include/filter/paging), documents, error bodies
- ``versions``   ``X-PCO-API-Version`` resolution per product
- ``gate``       authentication, per-user rate limiting, version check, common headers
- ``people``     ``/people/v2`` resources and routes
- ``services``   ``/services/v2`` resources and routes
- ``webhooks``   ``/webhooks/v2`` subscriptions and signed, retried event delivery
- ``oauth``      ``/oauth/token`` and ``/oauth/authorize``
- ``control_api`` ``/__emulator__/`` actions a person would do in the web UI
"""

from __future__ import annotations
