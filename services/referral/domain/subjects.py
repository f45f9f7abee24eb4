"""The person referred, as the rules see them: a random subject_id and a birth date.

The birth date is passed in (from the person's record); it is never read out of the identity
number, whose digits stop telling the century from 2032."""

import datetime as dt
from dataclasses import dataclass

from schemas.ids import SubjectId


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Whole years of age on a day; someone born on 29 February turns a year older on 1 March
    in years without one."""
    if day < birth_date:
        raise ValueError("the day is before the birth date")
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


@dataclass(frozen=True, repr=False)
class Subject:
    """A person who can be referred."""

    subject_id: SubjectId
    birth_date: dt.date

    def age_on(self, day: dt.date) -> int:
        """Whole years of age on a day."""
        return age_on(self.birth_date, day)

    def __repr__(self) -> str:
        # The birth date is personal data: keep it out of logs and tracebacks.
        return f"Subject(subject_id={self.subject_id!s}, birth_date=<hidden>)"
