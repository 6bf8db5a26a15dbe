"""The exception types for data problems a user can fix."""


class DataError(ValueError):
  """A data file is missing, corrupt or inconsistent.

  The message is one paragraph naming the file, the problem and the fix, so
  the launcher can print it as is, without a traceback.
  """


class DataNotFoundError(DataError):
  """No source holds the dataset; the only case a stand-in may replace it.

  Kept apart from other DataErrors so a corrupt file is never papered over.
  """
