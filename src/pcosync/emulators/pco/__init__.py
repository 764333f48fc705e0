"""A faithful local stand-in for the Planning Center API (People, Services, Webhooks).

The app is built by :func:`pcosync.emulators.pco.app.create_app`. The parts:

- ``model``      plain records (one dataclass per PCO resource type)
- ``store``      the records, their indexes and every mutation (which also queues webhooks)
- ``persist``    optional SQLite file behind the store (``--data``)
- ``jsonapi``    query parsing (where/order/include/filter/paging), documents, error bodies
- ``versions``   ``X-PCO-API-Version`` resolution per product
- ``gate``       authentication, per-user rate limiting, version check, common headers
- ``loader``     the seeded church (:mod:`pcosync.emulators.seed`) into a store
- ``people_resources``, ``people``      ``/people/v2`` renderings and specs; routes and writes
- ``services_resources``, ``services``  ``/services/v2`` renderings and specs; routes and writes
- ``webhooks``   ``/webhooks/v2`` subscriptions and signed, retried event delivery
- ``oauth``      ``/oauth/token`` and ``/oauth/authorize``
- ``control_api`` ``/__emulator__/`` actions a person would do in the web UI
"""

from __future__ import annotations
