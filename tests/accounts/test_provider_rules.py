"""Rules of provider sign-in without a server: role maps, the sign-in decision, filter escaping, claim mapping."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from app.accounts.providers.ldap import bind_name, user_filter
from app.accounts.providers.oidc import OidcSettings, identity_from_claims
from app.accounts.providers.rules import decide_sign_in, mapped_roles, parse_role_map


def test_a_role_map_reads_dns_with_equals_signs_and_drops_coordinator():
    found = parse_role_map("CN=Balint Leaders, OU=Groups, DC=hosp=leader;\n cn=x=coordinator; junk; =member")
    assert found == {"cn=balint leaders,ou=groups,dc=hosp": "leader"}
    assert mapped_roles(["cn=Balint Leaders,ou=Groups,dc=hosp", "cn=other"], found) == {"leader"}


def decide(**kw):
    base = {"linked_active": None, "email_match_active": None, "email_verified": True, "has_email": True,
            "match_by_email": True, "may_create": True}
    return decide_sign_in(**{**base, **kw})


def test_the_stable_id_wins_and_a_deactivated_account_is_refused_every_way():
    assert decide(linked_active=True, email_match_active=False).action == "use"
    assert decide(linked_active=False).reason == "inactive"
    assert decide(email_match_active=False).reason == "inactive"


def test_an_address_links_only_when_verified_and_matching_is_on():
    assert decide(email_match_active=True).action == "link"
    assert decide(email_match_active=True, email_verified=False).reason == "email_unverified"
    assert decide(email_match_active=True, match_by_email=False).reason == "no_account"


def test_an_account_is_created_only_when_allowed_and_with_an_address():
    assert decide().action == "create"
    assert decide(may_create=False).reason == "no_account"
    assert decide(has_email=False).reason == "missing_email"


@given(linked=st.sampled_from([None, True, False]), matched=st.sampled_from([None, True, False]),
       verified=st.booleans(), has_email=st.booleans(), by_email=st.booleans(), create=st.booleans())
@settings(max_examples=200)
def test_no_decision_ever_lets_a_deactivated_account_in(linked, matched, verified, has_email, by_email, create):
    decision = decide(linked_active=linked, email_match_active=matched, email_verified=verified,
                      has_email=has_email, match_by_email=by_email, may_create=create)
    if linked is False or (linked is None and matched is False):
        assert decision.action == "refuse"
    if decision.action == "create":
        assert linked is None and matched is None and create and has_email
    if decision.action == "link":
        assert verified and by_email and matched is True


@given(st.text(max_size=40))
@settings(max_examples=300)
def test_no_typed_name_can_add_filter_syntax(name):
    made = user_filter("(&(objectClass=person)(uid={username}))", name)
    inner = made[len("(&(objectClass=person)(uid="):-2]
    assert not re.search(r"[()*\x00]", inner)
    assert re.sub(r"\\[0-9a-f]{2}", "", inner).count("\\") == 0  # every backslash starts an escape


def test_a_typed_name_stays_one_dn_value():
    assert bind_name("uid={username},ou=people,dc=h", "x,ou=admins") == "uid=x\\,ou\\=admins,ou=people,dc=h"


def test_claims_map_to_the_same_fields_and_roles():
    settings_ = OidcSettings(issuer="http://i", client_id="c", client_secret=None, redirect_uri="r",
                             post_logout_redirect_uri="p", claim_roles="groups", role_map="balint-leader=leader")
    person = identity_from_claims(settings_, {
        "sub": "42", "email": "a@b.test", "email_verified": "true", "name": "王磊", "employee_number": 7,
        "department": ["ICU"], "organisation": {"x": 1}, "groups": "balint-leader other"})
    assert (person.subject, person.email, person.name, person.staff_number, person.department) == (
        "42", "a@b.test", "王磊", "7", "ICU")
    assert person.email_verified is False  # only the JSON value true counts
    assert person.organisation is None and person.roles == {"leader"}
