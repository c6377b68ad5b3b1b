"""The live facilitation view: check-in, presenter, the Balint phases as a timer, saved from the page."""
