"""The accounts pages, one module per page family (the blueprint is app.accounts.bp):

- login: log-in, log-out, the forgotten-password form, and setting a password through a reset or invitation link;
- profile: one's own profile, password and API tokens;
- people: coordinators' pages for people — the list, invitations, roles, deactivation, training records, and
  who may lead on a date;
- people_import: coordinators' import of people from HR spreadsheets (upload and preview, confirm, template).
"""
