"""Telegram conversation logic: reporter flow, status and mailbox, caseworker and admin commands."""
