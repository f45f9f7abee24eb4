"""What the store refuses, beside the domain's own errors (StaleVersion is the domain's)."""


class StoreError(Exception):
    """The store could not do what was asked; nothing was changed."""


class AlreadyExists(StoreError):
    """Something with this id (or unique number) is already stored."""


class NotFound(StoreError, LookupError):
    """Nothing is stored under this id."""


class SubjectErased(StoreError):
    """The person's key was destroyed: nothing about them can be read any more."""


class NotRestricted(StoreError):
    """Processing of the person's data is not restricted: there is no restriction to lift."""
