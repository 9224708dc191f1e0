"""Errors a user can cause. Each message is one line that names the file, row or key
and says what to do; the CLI prints it and exits non-zero, without a traceback."""


class LaafficError(Exception):
    """Base of every error the user can cause and fix."""

    exit_code = 2


class ConfigError(LaafficError):
    """The campaign config (TOML or a pushed job's JSON) is invalid."""


class InputError(LaafficError):
    """The contact file cannot be read or used as a contact list."""


def one_line(text: object) -> str:
    """Text (an exception's message, a row) on one line: every run of whitespace, line
    breaks included, becomes one space."""
    return " ".join(str(text).split())
