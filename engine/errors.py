"""The one exception type the launcher turns into a clean message and a non-zero exit."""


class UserError(Exception):
  """A problem the user can fix (bad flag, bad config value, foreign work dir).

  The message is one paragraph that names the problem and the fix; no traceback is shown.
  """
