"""drift.compare: every disagreement between the SaaS API's record and LiteLLM, by key hash."""

from provisioning.drift import Drift, compare


def saas_team(**overrides):
    return {
        "team_id": "t1",
        "status": "active",
        "models": ["a", "b"],
        "max_budget": 10.0,
        "key_hash": "h1",
        "key_alias": "t1_key",
    } | overrides


def litellm_team(**overrides):
    return {
        "team_id": "t1",
        "models": ["b", "a"],
        "max_budget": 10.0,
        "metadata": {"saas_organization_id": "o"},
    } | overrides


def key(**overrides):
    return {
        "token": "h1",
        "team_id": "t1",
        "key_alias": "t1_key",
        "models": ["a", "b"],
        "blocked": None,
        "metadata": {"saas_team_id": "t1"},
    } | overrides


OLD_KEY = key(token="h0", key_alias="old")  # noqa: S106 (a hash, not a password)


def test_agreement_is_no_drift():
    assert compare([saas_team()], [litellm_team()], [key()]) == []


def test_each_disagreement_is_named():
    cases = [
        (([saas_team()], [], [key()]), Drift("team", "t1", "missing in LiteLLM", "t1")),
        (
            ([saas_team()], [litellm_team(models=["a"])], [key()]),
            Drift("team", "t1", "LiteLLM team models differ from its groups'", "t1"),
        ),
        (
            ([saas_team()], [litellm_team(max_budget=5.0)], [key()]),
            Drift("team", "t1", "LiteLLM team budget differs", "t1"),
        ),
        (
            ([saas_team()], [litellm_team()], []),
            Drift("key", "t1_key", "the team's key is missing in LiteLLM", "t1"),
        ),
        (
            ([saas_team()], [litellm_team()], [key(models=[])]),
            Drift("key", "t1_key", "allowed models differ", "t1"),
        ),
        (
            ([saas_team(status="suspended")], [litellm_team()], [key()]),
            Drift("key", "t1_key", "blocked state differs", "t1"),
        ),
        (
            ([saas_team()], [litellm_team()], [key(), OLD_KEY]),
            Drift("key", "old", "orphan key of t1"),
        ),
        (
            ([], [litellm_team()], []),
            Drift("team", "t1", "orphan LiteLLM team (no SaaS team)"),
        ),
        (
            ([], [], [key(team_id="gone", metadata={"saas_team_id": "gone"})]),
            Drift("key", "t1_key", "orphan key of gone"),
        ),
    ]
    for listings, expected in cases:
        assert compare(*listings) == [expected], expected


def test_teams_not_made_by_the_saas_api_are_not_orphans():
    foreign = litellm_team(team_id="someone", metadata={})
    assert compare([saas_team()], [litellm_team(), foreign], [key()]) == []
