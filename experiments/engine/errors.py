"""The one exception type whose message is shown to the user as a single line."""


class UserError(Exception):
    """Bad input or a failed stage, explained in one line (no traceback shown)."""


def one_line(err: BaseException, limit: int = 300) -> str:
    """An error's message on one line, cut at `limit` characters."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[:limit] + " ..."
