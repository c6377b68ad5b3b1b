"""Feedback services: the operations users perform on rounds, answers, interviews, free-text review and
instruments. They load, check the rules, change models and flush — never commit (the view, API resource or CLI
command commits once).

- rounds: opening rounds by the five-meeting rule, closing and extending them, who may answer, telling members;
- responses: answering a round (drafts, one anonymous submission);
- interviews: recording an interview round's answers;
- review: releasing or withholding free text before leaders see it;
- instruments: storing, activating and choosing questionnaire versions.
"""
