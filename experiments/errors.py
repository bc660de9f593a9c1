"""The one exception type whose message is shown to the user as a single line."""


class UserError(Exception):
    """Bad input or a failed stage, explained in one line (no traceback shown)."""
