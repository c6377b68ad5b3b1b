"""Feedback pages, one module per page family (the blueprint is app.feedback.bp):

- rounds: a group's rounds, extending one;
- answer: a member answers a round (the questionnaire, its autosave, the thank-you);
- results: a round's results, the free-text review, recording interviews;
- instruments: the questionnaire list, upload, preview, activation and a group's feedback settings.
"""
