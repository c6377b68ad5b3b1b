"""The main pages, one module per page family (the blueprints are in app/main/__init__.py):

- home: the home page for each role, the language switch, the health check;
- system: the System page for programme-wide coordinators (what it shows comes from app/main/queries.py);
- floors: two endpoints for `make bench`, on their own blueprint, registered only when BENCH_ENDPOINTS is true.
"""
