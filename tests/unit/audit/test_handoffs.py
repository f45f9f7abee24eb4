"""The steps the handoff statistics keep and the times measured on them: the measuring agrees
with the rule read literally (each step against every step of its referral up to it), however
the steps arrive, and steps kept batch by batch end up as if measured all at once."""

import datetime as dt
import itertools
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.directory import OrganisationRegisteredV1
from schemas.envelope import EventData
from schemas.examples import example_of
from schemas.referrals import (
    ContactResult,
    Outcome,
    ReferralAcceptedV1,
    ReferralAssignedV1,
    ReferralCompletedV1,
    ReferralContactRecordedV1,
    ReferralRedirectedV1,
    ReferralRejectedV1,
    ReferralStartedV1,
    ReferralSubmittedV1,
    ReferralWithdrawnV1,
    RejectionReason,
    WithdrawalReason,
)
from services.audit.domain.handoffs import (
    HandoffStep,
    StepName,
    handoff_step,
    measured,
    remeasured,
)

START = dt.datetime(2026, 9, 14, 8, 0, tzinfo=dt.UTC)
REFERRALS = [uuid.UUID(int=n) for n in range(1, 4)]
SENDER, RECEIVER = uuid.UUID(int=100), uuid.UUID(int=200)
REACHED = ContactResult.REACHED.value


def _reference(steps: list[HandoffStep]) -> dict[int, tuple[float | None, ...]]:
    """The rule as the window SQL said it: for each step, the steps of its referral up to it
    (itself included) in (occurred_at, sequence) order, and the latest time of each kind."""

    def hours(since: dt.datetime | None, until: dt.datetime) -> float | None:
        return None if since is None else (until - since).total_seconds() / 3600

    times: dict[int, tuple[float | None, ...]] = {}
    for step in steps:
        upto = [
            s
            for s in steps
            if s.referral_id == step.referral_id
            and (s.occurred_at, s.sequence) <= (step.occurred_at, step.sequence)
        ]

        def latest(*names: StepName, upto: list[HandoffStep] = upto) -> dt.datetime | None:
            return max((s.occurred_at for s in upto if s.step in names), default=None)

        arrived = latest(StepName.SUBMITTED, StepName.REDIRECTED)
        received = latest(StepName.RECEIVED)
        accepted = latest(StepName.ACCEPTED)
        reached = sum(1 for s in upto if s.step is StepName.CONTACT_RECORDED and s.code == REACHED)
        receive = hours(arrived, step.occurred_at) if step.step is StepName.RECEIVED else None
        decide = None
        if (
            step.step in (StepName.ACCEPTED, StepName.REJECTED)
            and received is not None
            and arrived is not None
            and received >= arrived
        ):
            decide = hours(received, step.occurred_at)
        contact = None
        if step.step is StepName.CONTACT_RECORDED and step.code == REACHED and reached == 1:
            contact = hours(accepted, step.occurred_at)
        times[step.sequence] = (receive, decide, contact)
    return times


@st.composite
def step_streams(draw: st.DrawFn) -> list[HandoffStep]:
    """Steps of a few referrals in any order of their times (ties included), each logged at
    a sequence of its own: the order they arrived in, which need not be the times' order."""
    count = draw(st.integers(min_value=0, max_value=14))
    sequences = draw(st.permutations(range(1, count + 1)))
    # The steps that measure or are measured, more often than the others.
    measuring = st.sampled_from(
        [
            StepName.SUBMITTED,
            StepName.RECEIVED,
            StepName.ACCEPTED,
            StepName.REJECTED,
            StepName.REDIRECTED,
            StepName.CONTACT_RECORDED,
        ]
    )
    steps = []
    for sequence in sequences:
        name = draw(st.one_of(measuring, st.sampled_from(StepName)))
        code = None
        if name is StepName.CONTACT_RECORDED:
            code = draw(st.sampled_from(ContactResult)).value
        steps.append(
            HandoffStep(
                sequence=sequence,
                referral_id=draw(st.sampled_from(REFERRALS)),
                step=name,
                # Quarter hours over two days: ties happen.
                occurred_at=START + dt.timedelta(minutes=15 * draw(st.integers(0, 192))),
                receiver=RECEIVER,
                sender=SENDER,
                code=code,
            )
        )
    return steps


@given(steps=step_streams())
def test_the_times_are_those_of_the_rule_read_literally(steps: list[HandoffStep]) -> None:
    found = {step.sequence: step.times for step in measured(steps)}
    assert found == _reference(steps)


@given(steps=step_streams())
def test_measured_steps_come_in_their_order_and_keep_what_they_are(
    steps: list[HandoffStep],
) -> None:
    one = [s for s in steps if s.referral_id == REFERRALS[0]]
    found = measured(one)
    assert [s.sequence for s in found] == [
        s.sequence for s in sorted(one, key=lambda s: (s.occurred_at, s.sequence))
    ]
    before = {s.sequence: s for s in one}
    for step in found:
        kept = before[step.sequence]
        assert (step.step, step.occurred_at, step.receiver, step.code) == (
            kept.step,
            kept.occurred_at,
            kept.receiver,
            kept.code,
        )


@given(steps=step_streams(), cuts=st.lists(st.integers(min_value=0, max_value=14), max_size=4))
def test_steps_kept_batch_by_batch_are_measured_as_all_at_once(
    steps: list[HandoffStep], cuts: list[int]
) -> None:
    """As the consumer keeps them: each batch (in sequence order) joins what is kept, and only
    what `remeasured` returns is written."""
    arrived = sorted(steps, key=lambda s: s.sequence)
    bounds = sorted({0, len(arrived), *(min(cut, len(arrived)) for cut in cuts)})
    table: dict[int, HandoffStep] = {}
    for start, end in itertools.pairwise(bounds):
        batch = arrived[start:end]
        written = remeasured(table.values(), batch)
        assert {s.sequence for s in batch} <= {s.sequence for s in written}
        table |= {s.sequence: s for s in written}
    assert {s: step.times for s, step in table.items()} == _reference(steps)


def test_only_the_steps_that_changed_are_written_again() -> None:
    referral = REFERRALS[0]

    def step(sequence: int, name: StepName, hours: float) -> HandoffStep:
        at = START + dt.timedelta(hours=hours)
        return HandoffStep(sequence, referral, name, at, RECEIVER, SENDER)

    kept = measured(
        [
            step(1, StepName.SUBMITTED, 0),
            step(2, StepName.RECEIVED, 4),
            step(3, StepName.ACCEPTED, 6),
        ]
    )
    assert [s.times for s in kept] == [(None, None, None), (4.0, None, None), (None, 2.0, None)]
    # A redirect logged late, taken before the acknowledgement: receiving is measured from it;
    # the decision is unchanged, and nothing else is written.
    written = remeasured(kept, [step(4, StepName.REDIRECTED, 1)])
    assert [(s.sequence, s.times) for s in written] == [
        (4, (None, None, None)),
        (2, (3.0, None, None)),
    ]
    # An acknowledgement logged late, taken after the acceptance: nothing measured changes.
    assert [s.sequence for s in remeasured(kept, [step(5, StepName.RECEIVED, 7)])] == [5]


def _changed(model: type[EventData], **changes: Any) -> Any:
    return model.model_validate(example_of(model).model_dump() | changes)


def test_a_redirect_counts_for_the_organisation_that_sent_it_on_with_its_reason() -> None:
    data = _changed(ReferralRedirectedV1, occurred_at=START)
    step = handoff_step(data, 7)
    assert step is not None
    assert (step.sequence, step.step, step.occurred_at) == (7, StepName.REDIRECTED, START)
    assert step.receiver == data.redirected_from_organisation_id != data.to_organisation_id
    assert (step.sender, step.referral_id) == (data.from_organisation_id, data.referral_id)
    assert step.code == data.reason.value


def test_rejections_and_completions_keep_their_code_and_other_steps_none() -> None:
    rejected = handoff_step(_changed(ReferralRejectedV1, reason=RejectionReason.NO_CAPACITY), 1)
    completed = handoff_step(_changed(ReferralCompletedV1, outcome=Outcome.EMPLOYMENT), 2)
    submitted = handoff_step(example_of(ReferralSubmittedV1), 3)
    accepted = handoff_step(example_of(ReferralAcceptedV1), 4)
    assert [step and step.code for step in (rejected, completed, submitted, accepted)] == [
        "no_capacity",
        "employment",
        None,
        None,
    ]
    assert accepted is not None
    assert accepted.receiver == example_of(ReferralAcceptedV1).to_organisation_id


def test_every_step_of_a_referral_is_kept_and_nothing_else() -> None:
    reached = _changed(ReferralContactRecordedV1, result=ContactResult.REACHED)
    not_reached = _changed(ReferralContactRecordedV1, result=ContactResult.NOT_REACHED)
    withdrawn = _changed(ReferralWithdrawnV1, reason=WithdrawalReason.DUPLICATE)
    found = [handoff_step(data, 1) for data in (reached, not_reached, withdrawn)]
    assert [(s and s.step, s and s.code) for s in found] == [
        (StepName.CONTACT_RECORDED, "reached"),
        (StepName.CONTACT_RECORDED, "not_reached"),
        (StepName.WITHDRAWN, "duplicate"),
    ]
    for model in (ReferralStartedV1, ReferralAssignedV1):
        step = handoff_step(example_of(model), 3)
        assert step is not None
        assert (step.step, step.code) == (model.ce_type.split(".")[3], None)
    assert handoff_step(example_of(OrganisationRegisteredV1), 4) is None
