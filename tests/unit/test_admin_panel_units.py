"""The admin panel's pure parts: form values into the API's schemas, refusals onto fields, the
login throttle's waits, money on the page, the usage chart's geometry."""

from __future__ import annotations

from datetime import date

import pytest
from saas_api.admin import chart, throttle
from saas_api.admin.forms import FormErrors, number, refusal, validated
from saas_api.admin.settings import AdminSettings
from saas_api.admin.web import money, percent
from saas_api.errors import ApiError
from saas_api.schemas import DaySpend, TeamCreate


@pytest.mark.parametrize(
    ("typed", "integer", "value", "error"),
    [
        ("12.50", False, 12.5, None),
        ("$1,000", False, 1000.0, None),
        ("", False, None, None),
        ("lots", False, None, "enter a number, like 25 or 12.50"),
        ("inf", False, None, "enter a finite number"),
        ("100", True, 100, None),
        ("1.5", True, None, "enter a whole number"),
    ],
)
def test_numbers_from_a_form(typed, integer, value, error):
    errors = FormErrors()
    assert number({"n": typed}, "n", errors, integer=integer) == value
    assert errors.get("n") == error


def test_the_apis_schema_refuses_onto_each_field_at_once():
    errors = FormErrors()
    body = {"name": "", "organization_id": "has space", "max_budget": -1.0}
    assert validated(TeamCreate, body, errors) is None
    assert set(errors) == {"name", "organization_id", "max_budget"}
    assert "greater than or equal to 0" in errors["max_budget"]
    assert errors["organization_id"].startswith("use letters, digits")


@pytest.mark.parametrize(
    ("error", "conflict_field", "field"),
    [
        (ApiError(422, "models: not known to LiteLLM: x", fields=["models"]), None, "models"),
        (
            ApiError(409, "organization 'o' already exists with different name"),
            "organization_id",
            "organization_id",
        ),
        (ApiError(409, "x is assigned to team(s) t", teams=["t"]), None, "__all__"),
        (ApiError(409, "name: an organization named 'A' already exists"), None, "name"),
    ],
)
def test_a_domain_refusal_lands_on_the_field_that_caused_it(error, conflict_field, field):
    errors = FormErrors()
    refusal(errors, error, ("name", "models", "organization_id"), conflict_field=conflict_field)
    assert errors == {field: error.detail}


def test_the_throttle_doubles_each_wait_after_the_free_failures_up_to_its_cap():
    settings = AdminSettings.model_construct(
        admin_login_free_failures=5, admin_login_max_delay_seconds=300
    )
    waits = [throttle.delay_after(n, settings) for n in range(3, 16)]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


@pytest.mark.parametrize(
    ("amount", "shown"),
    [(0, "$0.00"), (1234.5, "$1,234.50"), (0.00072, "$0.00072"), (0.01, "$0.01"), (None, "—")],
)
def test_money_on_the_page_never_hides_a_small_spend(amount, shown):
    assert money(amount) == shown


def test_percent_of_budget():
    assert percent(0.00072, 7.5) == "under 0.1%" and percent(3, 4) == "75.0%"
    assert percent(1, 0) == "—"


def test_the_chart_shows_thirty_days_to_today_with_gaps_and_the_highest_bar_full():
    days = [DaySpend(date="2026-11-20", spend=2.0), DaySpend(date="2026-12-01", spend=4.0)]
    drawn = chart.daily_bars(days, today=date(2026, 12, 1))
    assert len(drawn.bars) == chart.DAYS_SHOWN
    assert drawn.bars[-1].day == "2026-12-01" and drawn.bars[0].day == "2026-11-02"
    tallest = drawn.baseline - drawn.top
    by_day = {bar.day: bar for bar in drawn.bars}
    assert by_day["2026-12-01"].height == pytest.approx(tallest)
    assert by_day["2026-11-20"].height == pytest.approx(tallest / 2)
    assert by_day["2026-11-21"].height == 0
    assert all(bar.x + bar.width <= drawn.right for bar in drawn.bars)
    assert chart.daily_bars([], today=date(2026, 12, 1)).maximum == 0


def test_a_token_check_needs_both_tokens_present_and_equal():
    from saas_api.admin.sessions import csrf_token, same_token

    assert not same_token("", "") and not same_token(None, "x") and not same_token("x", None)
    assert not same_token("a" * 64, "b" * 64) and same_token("abc", "abc")
    assert csrf_token("one session") != csrf_token("another session")
