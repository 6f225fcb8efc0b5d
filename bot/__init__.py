"""Sanad's application: configuration, wiring of the bot and scheduler, and the command line."""
