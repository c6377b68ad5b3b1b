"""`flask demo`: seeds a small demonstration programme (refused under the Production config)."""

from datetime import date, datetime, timedelta

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
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
    for group, people in ((groups[0], staff[:8]), (groups[1], staff[7:15])):
        programme.add_group_leader(coordinator, group, leader)
        for person in people:
            programme.add_member(coordinator, group, person, joined_on=start)
    programme.add_group_leader(coordinator, groups[0], co_leader)
    seed_schedules(coordinator, groups, leader, co_leader, today)


def seed_schedules(coordinator, groups, leader, co_leader, today: date) -> None:
    """Twice-monthly series for every demo group, three months back and six ahead, with leaders."""
    from datetime import time

    from app.scheduling import services as scheduling

    scheduling.save_schedule(coordinator, groups[0], kind="nth_weekday", weekday=2, weeks=[1, 3],
                             start_time=time(14, 0))
    scheduling.save_schedule(coordinator, groups[1], kind="biweekly", weekday=3,
                             start_on=today - timedelta(days=120), start_time=time(18, 30), holiday_policy="skip")
    start, until = today - timedelta(days=90), today + timedelta(days=182)
    for group, co in ((groups[0], co_leader), (groups[1], None)):
        scheduling.generate_meetings(coordinator, group, start, until)
        scheduling.assign_series(coordinator, group, leader, "lead", since=datetime(start.year, start.month, 1))
        if co is not None:
            scheduling.assign_series(coordinator, group, co, "co_lead", since=datetime(start.year, start.month, 1))


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
