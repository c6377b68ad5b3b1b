"""`flask demo`: seeds a small demonstration programme (refused under the Production config)."""

from datetime import date, datetime, timedelta

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
from app.feedback import instruments as feedback_instruments
from app.programme import services as programme

DEMO_PASSWORD = "balint-demo"
DEMO_LOGINS = (
    ("coordinator@demo.test", "coordinator"),
    ("leader@demo.test", "leader"),
    ("member@demo.test", "member"),
)


def print_logins() -> None:
    click.echo(f"Demo logins (password: {DEMO_PASSWORD}):")
    for email, role in DEMO_LOGINS:
        click.echo(f"  {role:<12} {email}")


def seed_demo(today: date) -> None:
    """Create the demo organisations, people, trained leaders and groups through the services."""
    coordinator = accounts.create_user(
        None, email="coordinator@demo.test", name="Zhao Min (coordinator)", roles=["coordinator"],
        password=DEMO_PASSWORD, profession="psychologist",
    )
    hospital = programme.create_organisation(coordinator, name="Beijing Children's Research Hospital")
    programme.create_organisation(coordinator, name="Community Health Centre, Chaoyang", kind="other")
    coordinator.organisation_id = hospital.id

    leader = accounts.create_user(
        coordinator, email="leader@demo.test", name="Dr Wang Lei", roles=["leader"], password=DEMO_PASSWORD,
        profession="physician", department="Psychiatry", organisation_id=hospital.id,
    )
    accounts.add_training_record(
        coordinator, leader, kind="Balint group leader training", level="leader",
        issuer="Chinese Balint Federation", completed_on=today - timedelta(days=900),
        valid_until=today + timedelta(days=900), verified=True,
    )
    co_leader = accounts.create_user(
        coordinator, email="coleader@demo.test", name="Dr Li Na", roles=["leader"], password=DEMO_PASSWORD,
        profession="physician", department="Psychiatry", organisation_id=hospital.id,
    )
    accounts.add_training_record(
        coordinator, co_leader, kind="Balint group leader training", level="leader_in_training",
        issuer="Chinese Balint Federation", completed_on=today - timedelta(days=200), verified=True,
    )
    member = accounts.create_user(
        coordinator, email="member@demo.test", name="Chen Jing", roles=["member"], password=DEMO_PASSWORD,
        profession="nurse", department="Paediatric ICU", organisation_id=hospital.id,
    )

    names = [
        ("Liu Yang", "physician", "Paediatric Emergency"), ("Sun Hui", "nurse", "Neonatology"),
        ("Zhou Qiang", "physician", "Haematology"), ("Wu Fang", "nurse", "Paediatric ICU"),
        ("Xu Ming", "physician", "Cardiology"), ("Ma Li", "nurse", "Oncology"),
        ("Hu Jun", "physician", "Neurology"), ("Guo Xia", "nurse", "Emergency"),
        ("Lin Tao", "physician", "Respiratory"), ("He Yan", "psychologist", "Psychology"),
        ("Gao Wei", "nurse", "Surgery"), ("Luo Ping", "physician", "Infectious Diseases"),
        ("Zheng Hong", "nurse", "Outpatients"), ("Liang Bo", "physician", "Nephrology"),
    ]
    staff = [member]
    for i, (name, profession, department) in enumerate(names, start=1):
        staff.append(accounts.create_user(
            coordinator, email=f"staff{i:02d}@demo.test", name=name, roles=["member"], password=DEMO_PASSWORD,
            profession=profession, department=department, organisation_id=hospital.id,
        ))

    groups = [
        programme.create_group(
            coordinator, organisation_id=hospital.id, name="Paediatric ICU Balint group",
            description="Doctors and nurses of the intensive care units.", capacity=10, mode="onsite",
            location="Staff wellbeing room, building 3",
        ),
        programme.create_group(
            coordinator, organisation_id=hospital.id, name="Emergency & outpatients Balint group",
            description="Meets online on the evenings after the late shift.", capacity=10, mode="online",
            video_link="https://meeting.example.invalid/balint-er",
        ),
    ]
    start = today - timedelta(days=730)
    for group, people in ((groups[0], staff[:8]), (groups[1], [member, *staff[8:15]])):
        programme.add_group_leader(coordinator, group, leader)
        for person in people:
            programme.add_member(coordinator, group, person, joined_on=start)
    programme.add_group_leader(coordinator, groups[0], co_leader)
    feedback_instruments.ensure_shipped_instrument()  # the questionnaire the demo rounds ask
    seed_schedules(coordinator, groups, leader, co_leader, today)
    seed_responses(groups)


def seed_schedules(coordinator, groups, leader, co_leader, today: date) -> None:
    """Twice-monthly series for every demo group, two years back and six months ahead, with leaders;
    the past meetings are recorded through the same service the record form uses, so feedback rounds
    open by the five-meeting rule."""
    from datetime import time

    from app.scheduling import services as scheduling

    scheduling.save_schedule(coordinator, groups[0], kind="nth_weekday", weekday=2, weeks=[1, 3],
                             start_time=time(14, 0))
    scheduling.save_schedule(coordinator, groups[1], kind="biweekly", weekday=3,
                             start_on=today - timedelta(days=735), start_time=time(18, 30), holiday_policy="skip")
    start, until = today - timedelta(days=730), today + timedelta(days=182)
    since = datetime(start.year, start.month, start.day)
    for group, co in ((groups[0], co_leader), (groups[1], None)):
        scheduling.generate_meetings(coordinator, group, start, until)
        scheduling.assign_series(coordinator, group, leader, "lead", since=since)
        if co is not None:
            scheduling.assign_series(coordinator, group, co, "co_lead", since=since)
    record_history(leader, groups)


SUMMARIES = (
    "A nurse told of a father who shouted at her during a night shift; the group explored his fear and her shame.",
    "A doctor presented a long-stay child whose mother no longer visits; the group stayed with the sadness.",
    "A resident spoke of a death after resuscitation and of not being able to talk about it at home.",
    "A nurse described a family who refuse a treatment plan; the group imagined the grandparents' view.",
    "A doctor was angry with a colleague's handover; the group looked at loyalty and exhaustion.",
    "The group discussed a teenage patient who idealises one nurse and rejects the others.",
)


def record_history(leader, groups) -> None:
    """Record every past demo meeting: mostly held with believable attendance, a few cancelled."""
    import random

    import sqlalchemy as sa

    from app.meetings import services as meetings
    from app.meetings.models import Theme
    from app.scheduling.models import Meeting
    from app.timeutil import utcnow

    meetings.ensure_default_themes()
    themes = db.session.scalars(sa.select(Theme).order_by(Theme.id)).all()
    rng = random.Random(2026)
    now = utcnow()
    for group_index, group in enumerate(groups):
        past = db.session.scalars(
            sa.select(Meeting).where(Meeting.group_id == group.id, Meeting.starts_at < now - timedelta(hours=2))
            .order_by(Meeting.starts_at)
        ).all()
        for i, meeting in enumerate(past):
            if rng.random() < 0.06:
                meetings.record_meeting(leader, meeting, status="cancelled", now=now,
                                        cancel_reason="Leader on emergency duty")
                continue
            members = meetings.current_members(group.id, meeting.starts_at.date())
            # Attendance drifts: one group settles in, the other thins out over the two years.
            trend = i / max(len(past), 1)
            rate = 0.7 + 0.2 * trend if group_index == 0 else 0.9 - 0.3 * trend
            attendance = {m.id: ("present" if rng.random() < rate else rng.choice(["absent", "excused"]))
                          for m in members}
            present = [uid for uid, state in attendance.items() if state == "present"]
            meetings.record_meeting(
                leader, meeting, status="held", now=meeting.starts_at + timedelta(hours=2), attendance=attendance,
                presenter_id=rng.choice(present) if present else None,
                theme_ids=[t.id for t in rng.sample(themes, k=rng.choice([1, 1, 2]))],
                summary=rng.choice(SUMMARIES), guest_count=rng.choice([0, 0, 0, 1]),
            )


DEMO_COMMENTS = (
    "Hearing how others felt about a similar family made me less alone with it.",
    "I now notice earlier when I start to avoid a patient's parents.",
    "Sometimes the hour ends just when the discussion becomes real.",
    "The push-back was hard at first; listening without answering taught me a lot.",
    "I would like more time for cases from the night shift.",
    "I leave the meetings calmer than I arrive.",
    "With the extra shifts it has been hard to come, and I feel less connected to the group.",
    "It would help if the meetings did not fall on days after a night shift.",
)


def seed_responses(groups) -> None:
    """Answer the demo rounds through the members' own submission service, with believable trends: the first
    group's ratings improve from round to round, the second group's decline. Most eligible members answer
    the earlier rounds, which are then closed; the latest round stays open with a few answers so far."""
    import random

    from app.feedback import rules
    from app.feedback import services as feedback
    from app.feedback.models import FeedbackRound
    from app.feedback.responses import round_definition, submit_response
    from app.timeutil import utcnow

    rng = random.Random(5)
    now = utcnow()
    demo_member_id = db.session.scalar(sa.select(User.id).where(User.email == "member@demo.test"))
    users = {}
    for group_index, group in enumerate(groups):
        rounds = db.session.scalars(
            sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id).order_by(FeedbackRound.number)
        ).all()
        for position, feedback_round in enumerate(rounds):
            latest = position == len(rounds) - 1
            definition = round_definition(feedback_round)
            # Agreement on a 0..1 scale: one group settles in, the other is worn down by the extra shifts.
            progress = position / max(len(rounds) - 1, 1)
            level = 0.45 + 0.35 * progress if group_index == 0 else 0.75 - 0.35 * progress
            eligible = feedback.eligible_user_ids(feedback_round)
            still_open = feedback_round.is_open(now)
            answering = [uid for uid in eligible if rng.random() < (0.4 if latest and still_open else 0.85)]
            if still_open:  # leave the open round for the demo member to answer in the browser
                answering = [uid for uid in answering if uid != demo_member_id]
            for user_id in answering:
                person_level = min(max(level + rng.gauss(0, 0.12), 0.0), 1.0)
                answers = {}
                for item in definition.items:
                    if item.is_numeric:
                        span = item.max - item.min
                        value = round(item.min + span * min(max(person_level + rng.gauss(0, 0.1), 0.0), 1.0))
                        answers[item.code] = item.min + item.max - value if item.reverse else value
                    elif item.type == "choice" and item.choices:
                        answers[item.code] = rng.choice(item.choices).value
                    elif item.type == "text" and rng.random() < 0.3:
                        pool = DEMO_COMMENTS[:6] if person_level >= 0.5 else DEMO_COMMENTS[2:]
                        answers[item.code] = rng.choice(pool)[: item.max_length]
                answers = {code: value for code, value in answers.items()
                           if code not in rules.answer_problems(definition, answers)}
                if user_id not in users:
                    users[user_id] = db.session.get(User, user_id)
                # Each answer arrives during the round's window, as it would have.
                window = (feedback_round.closes_at - feedback_round.opens_at).total_seconds()
                when = feedback_round.opens_at + timedelta(seconds=rng.uniform(0.02, 0.9) * window)
                submit_response(users[user_id], feedback_round, answers, min(when, now))
    feedback.close_due_rounds(now)
    db.session.flush()


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Seed only when the database has no users yet.")
@with_appcontext
def demo_command(if_empty):
    """Seed demo data and print the demo logins."""
    if current_app.config["CONFIG_NAME"] == "production":
        raise click.ClickException("Demo data is never seeded under the Production config.")
    has_users = db.session.scalar(sa.select(sa.func.count(User.id))) > 0
    if has_users:
        if not if_empty:
            raise click.ClickException("The database already holds users; demo data is seeded only once.")
        click.echo("Database already has data; demo seeding skipped.")
    else:
        seed_demo(date.today())
        db.session.commit()
        click.echo("Demo data created.")
    print_logins()
