"""Trends pages, one module per page family (the blueprint is app.trends.bp):

- group: a group's trends and their chart data, and plotly.js served by the app;
- programme: every group's trends by round or quarter, for coordinators;
- exports: CSV and Excel exports of aggregates, anonymised responses and free text;
- report: the printable quarterly programme report.
"""
