"""The people import: coordinators bring people and their group memberships in from HR spreadsheets (XLSX, CSV),
on a page (app/accounts/routes/people_import.py), with `flask people import` (cli.py) or through the API
(app/api/resources_people.py) — one service for all three.

- rules.py: pure rules — column names and values in English and Chinese, cleaning, dates, e-mails;
- spreadsheets.py: reading a spreadsheet into text rows and writing the template (no database);
- services.py: `import_people(actor, rows, dry_run=...)`, the preview token, the template workbook (flush, never
  commit);
- cli.py: `flask people import FILE [--dry-run]`.

The staff number a person is recognised by is app.accounts.models.StaffNumber.
"""
