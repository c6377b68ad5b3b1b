"""Meeting pages: live facilitation, the record form, timelines, portfolios, certificates."""
