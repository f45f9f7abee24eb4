"""Errors of the local stack, each with a one-line message meant for a person at a terminal."""


class StackError(Exception):
    """The local stack could not do what was asked; the message says why, in one line."""
