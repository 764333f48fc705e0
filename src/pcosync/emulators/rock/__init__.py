"""A faithful local stand-in for Rock RMS's REST v1 API (Rock v14+), for tests and demos.

Modules::

    app          create_app(): Starlette app, EmulatorMiddleware, RockEmulator handle
    api          /api routes: generic ApiController<T> actions and the specials
    control_api  /__emulator__ routes: reset and the web UI's actions
    auth         cookie / Authorization-Token / apikey callers, REST keys, rights
    odata        OData v3 $filter lexer, parser, binder and compiled predicate
    query        planner (hash / sorted index / scan), paging, output shapes
    core         RockData: clock, org time zone, write pipeline with audit columns and hooks
    people       Person/PhoneNumber hooks, search, families, merges
    groups       Group/GroupMember/GroupLocation hooks, families, addresses
    attributes   attributes, attribute values, loadAttributes
    schema       the entities, their properties and navigations
    seeding      a fresh Rock install plus the seeded church
    store        in-memory tables with indexes, SQLite write-through
    values       date-time and JSON formats at Rock's boundary
"""
