"""What changed: planted effects are found and explained, noise is not reported.

The weeks are generated here, row by row with numpy, from a known process: the same process
every week unless a test plants a change in this week (``_week`` 0).
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from cxreports.metrics import changes
from cxreports.metrics.changes import benjamini_hochberg, find
from cxreports.schema import agent_labels
from cxreports.units import duration

QUEUES = ("Billing", "Sales", "Support", "Returns", "Tech")
CHANNELS = ("voice", "chat", "email")
AHT_S = {"voice": 300.0, "chat": 480.0, "email": 1200.0}


def weeks(
    seed: int,
    per_week: int = 3_000,
    *,
    sla_drop: float = 0.0,
    email_share_now: float | None = None,
    queue_weights: tuple[float, ...] = (0.4, 0.15, 0.15, 0.15, 0.15),
    channel_sla_drop: dict[str, float] | None = None,
) -> pl.DataFrame:
    """Nine weeks (``_week`` 8 back to 0) of interactions from one process.

    ``sla_drop`` lowers SLA met by that much this week in Billing on Tuesday and Wednesday
    14:00-17:00, which also get a quarter of Billing's week; ``email_share_now`` moves this
    week's channel mix toward email (handle time within each channel unchanged);
    ``channel_sla_drop`` lowers this week's SLA met in whole channels, by channel.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for back in range(changes.BASELINE_WEEKS + 1):
        n = rng.poisson(per_week)
        queue = rng.choice(len(QUEUES), n, p=queue_weights)
        weekday = rng.integers(1, 8, n)
        hour = rng.integers(8, 20, n)
        billing = queue == 0
        # a quarter of Billing's week falls on Tuesday and Wednesday afternoons, every week
        busy = billing & (rng.random(n) < 0.25)
        weekday[busy] = rng.integers(2, 4, busy.sum())
        hour[busy] = rng.integers(14, 17, busy.sum())
        email = 0.2 if back or email_share_now is None else email_share_now
        p_channel = [(1 - email) * 0.6, (1 - email) * 0.4, email]
        channel = rng.choice(len(CHANNELS), n, p=p_channel)
        aht = np.array([AHT_S[c] for c in CHANNELS])[channel] * rng.lognormal(0, 0.5, n)
        p_met = np.full(n, 0.85)
        if back == 0:
            p_met[busy] -= sla_drop
            for name, drop in (channel_sla_drop or {}).items():
                p_met[channel == CHANNELS.index(name)] -= drop
        responded = rng.random(n) < 0.3
        frames.append(
            pl.DataFrame(
                {
                    "_week": np.full(n, back, dtype=np.int32),
                    "queue_name": np.array(QUEUES)[queue],
                    "channel": np.array(CHANNELS)[channel],
                    "hour": hour.astype(np.int8),
                    "weekday": weekday.astype(np.int8),
                    "agent": np.array([f"Agent {i:02d}" for i in range(40)])[
                        rng.integers(0, 40, n)
                    ],
                    "handled_time_s": aht,
                    "first_response_time_s": rng.lognormal(4, 1, n),
                    "sla_status": np.where(rng.random(n) < p_met, "meet", "breach"),
                    "csat_score": np.where(
                        responded, np.where(rng.random(n) < 0.8, 5, 2), None
                    ).astype(float),
                    "is_resolved": rng.random(n) < 0.7,
                    "is_transferred": rng.random(n) < 0.1,
                }
            )
        )
    return pl.concat(frames)


def test_a_queue_whose_sla_drops_on_two_afternoons_is_named_with_its_hours():
    found = find(weeks(1, 20_000, sla_drop=0.20))
    claims = {r["metric"]: r for r in found.claims.iter_rows(named=True)}
    sla = claims["sla_met_rate"]
    # 40% of the volume is Billing, a quarter of it on the two afternoons, 20 pp lower: 2 pp
    assert sla["before"] - sla["now"] == pytest.approx(0.02, abs=0.006)
    assert sla["dimension"] == "queue_name"
    text = sla["sentence"]
    assert text.startswith("SLA met fell ") and "beyond noise" in text
    assert "in the Billing queue" in text and "Tue and Wed 14:00–17:00" in text
    # nothing else was planted
    assert set(claims) == {"sla_met_rate"}, found.claims["sentence"].to_list()


def test_a_right_to_left_queue_is_isolated_in_the_sentence_that_names_it():
    # a Hebrew name between "the" and "queue" reorders a browser's or mail app's line: the
    # figures and hours after it would read in the wrong order
    hebrew = "חיובים"
    rows = weeks(1, 20_000, sla_drop=0.20).with_columns(
        pl.col("queue_name").replace("Billing", hebrew)
    )
    [sentence] = find(rows).claims["sentence"].to_list()
    assert f"in the \u2068{hebrew}\u2069 queue" in sentence
    assert "Tue and Wed 14:00–17:00" in sentence


def test_a_report_of_one_queue_does_not_say_the_change_is_in_that_queue():
    # the same planted drop, in a report scoped to Billing: every interaction is Billing's, so
    # "100% of the fall is in the Billing queue" would say nothing; where else it sits does
    found = find(weeks(1, 8_000, sla_drop=0.20, queue_weights=(1.0, 0.0, 0.0, 0.0, 0.0)))
    claims = {r["metric"]: r for r in found.claims.iter_rows(named=True)}
    sla = claims["sla_met_rate"]
    assert sla["before"] - sla["now"] == pytest.approx(0.05, abs=0.012)  # a quarter, 20 pp
    text = sla["sentence"]
    assert sla["dimension"] != "queue_name" and "queue" not in text, text
    assert "of the fall is in the" in text and "Tue 14:00–17:00" in text


def test_two_cells_named_each_give_their_own_figures():
    # SLA met falls in two channels by different amounts: each named channel says its own
    # before and after, not the first one's figures for both
    found = find(weeks(3, 12_000, channel_sla_drop={"chat": 0.15, "email": 0.35}))
    sla = {r["metric"]: r for r in found.claims.iter_rows(named=True)}["sla_met_rate"]
    text = sla["sentence"]
    assert sla["dimension"] == "channel", text
    assert "the email and chat channels" in text, text
    shifts = re.findall(r"(?:went )?from (\d+)% to (\d+)% in the (\w+) channel", text)
    after = {name: int(now) for before, now, name in shifts}
    assert set(after) == {"email", "chat"}, text
    assert all(84 <= int(before) <= 86 for before, _, _ in shifts), text
    assert 45 <= after["email"] <= 55 and 65 <= after["chat"] <= 75, text
    # a fall spread over the whole week is not said to sit mostly anywhere
    assert "mostly" not in text, text


def test_a_queues_slower_handle_time_is_told_with_its_medians_as_the_report_shows_them():
    # Billing's handle time doubles this week: the sentence gives Billing's median before and
    # after, which its row of the queue table shows, not a mean of logarithms shown nowhere
    rows = weeks(2, 6_000).with_columns(
        pl.when((pl.col("_week") == 0) & (pl.col("queue_name") == "Billing"))
        .then(pl.col("handled_time_s") * 2)
        .otherwise(pl.col("handled_time_s"))
    )
    aht = {r["metric"]: r for r in find(rows).claims.iter_rows(named=True)}["aht_s"]
    assert aht["dimension"] == "queue_name" and "last week" in aht["sentence"], aht["sentence"]
    billing = rows.filter(queue_name="Billing")
    before, now = (duration(billing.filter(_week=w)["handled_time_s"].median()) for w in (1, 0))
    # and no "mostly": it rose on every day and hour, not in some of them
    assert aht["sentence"].endswith(
        f"Billing queue, where handle time went from {before} to {now}."
    )


def test_an_agent_is_told_apart_from_a_namesake_and_placed_in_the_week():
    # rows by agent id and name, as the weekly figures give them: a07 and a08 are both
    # "Mei", and a07 (a tenth of the work) misses SLA all Tuesday and Wednesday this week, a08
    # (a twentieth) on Mondays; one queue, channel and hour, so that only an agent can say
    # where the fall is
    rows = weeks(5, 6_000).with_row_index("_i")
    agent = (
        pl.when(pl.col("_i") % 10 == 0)
        .then(7)
        .when(pl.col("_i") % 20 == 1)
        .then(8)
        .otherwise(pl.col("agent").str.slice(-2).cast(pl.Int32))
    )
    rows = rows.with_columns(agent_id=pl.format("a{}", agent.cast(pl.String).str.zfill(2)))
    mei = pl.col("agent_id").is_in(["a07", "a08"])
    rows = rows.with_columns(
        queue_name=pl.lit("Billing"),
        channel=pl.lit("chat"),
        hour=pl.lit(10, dtype=pl.Int8),
        agent_name=pl.when(mei).then(pl.lit("Mei")).otherwise(pl.col("agent")),
        sla_status=pl.when(
            (pl.col("_week") == 0)
            & (
                (pl.col("agent_id") == "a07") & pl.col("weekday").is_in([2, 3])
                | (pl.col("agent_id") == "a08") & (pl.col("weekday") == 1)
            )
        )
        .then(pl.lit("breach"))
        .otherwise(pl.col("sla_status")),
    ).drop("agent", "_i")
    found = find(rows)
    sla = {r["metric"]: r for r in found.claims.iter_rows(named=True)}["sla_met_rate"]
    text = sla["sentence"]
    assert sla["dimension"] == "agent", text
    assert "is in Mei (a07), where SLA met went from 8" in text, text
    assert text.endswith(", mostly Tue and Wed 10:00–11:00."), text
    # the same as naming every row first (the agent column the other tests give)
    named = find(rows.with_columns(agent=agent_labels()))
    assert named.claims["sentence"].to_list() == found.claims["sentence"].to_list()
    assert named.tests == found.tests


def test_a_shift_toward_a_slower_channel_is_mix_not_agents_getting_slower():
    found = find(weeks(2, 10_000, email_share_now=0.4))
    claims = {r["metric"]: r for r in found.claims.iter_rows(named=True)}
    aht = claims["aht_s"]
    assert aht["now"] > aht["before"] and aht["dimension"] == "channel"
    text = aht["sentence"]
    assert "it is mostly mix" in text and "the email channel" in text
    assert re.search(r"went from (19|20|21)% to (39|40|41)%", text)
    assert "within each channel, handle time did not change beyond noise" in text
    assert "Agent" not in text


@pytest.mark.slow
def test_pure_noise_yields_no_claim_in_at_least_95_percent_of_weeks():
    # the same process this week as the eight before: any claim is a false alarm
    seeds = range(200)
    with_claims = [s for s in seeds if find(weeks(1000 + s, 2_000)).claims.height]
    assert len(with_claims) <= 10, with_claims


def test_a_quiet_week_says_so_in_one_sentence():
    found = find(weeks(7, 2_000))
    if found.claims.height:  # a seed that happens to alarm would make this test about luck
        pytest.skip("seed 7 raised a false alarm; the noise test bounds how often")
    [sentence] = found.sentences
    assert sentence.startswith("Nothing moved beyond noise")
    assert f"{found.tests:,} comparisons checked" in sentence and found.tests > 100


def test_too_few_cases_are_not_tested():
    small = weeks(3, 15)
    found = find(small)
    assert found.claims.height == 0
    assert found.tests < 20  # most cells have fewer than MIN_CASES on a side
    tiny = find(weeks(3, 3))
    assert tiny.tests == 0 and tiny.sentences[0].startswith("Too few interactions")


def test_benjamini_hochberg_against_its_definition():
    p = [0.01, 0.02, 0.03, 0.04, 0.05, 0.5]
    # k = 5: p(5) = 0.05 <= 5/6 * 0.05? no; k = 4: 0.04 <= 4/6 * 0.05 = 0.033? no; ...
    # k = 1: 0.01 <= 0.0083? no: nothing is a discovery
    assert benjamini_hochberg(p) == [False] * 6
    assert benjamini_hochberg([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]) == [
        True, True, False, False, False, False, False, False
    ]  # fmt: skip


def test_the_samples_planted_surge_is_what_changed(sample_dir):
    from cxreports.report import prepare

    _, m = prepare(sample_dir, "2026-W13", "Asia/Singapore")
    claims = {r["metric"]: r for r in m.changes.claims.iter_rows(named=True)}
    sla = claims["sla_met_rate"]  # the generator's SURGE: Billing, Monday to Wednesday
    assert sla["now"] < sla["before"] - 0.05 and sla["comparison"] == "last week"
    assert "in the Billing queue" in sla["sentence"] and "Mon" in sla["sentence"]
    # what is said is what the report shows: the week's SLA met and last week's
    assert sla["now"] == pytest.approx(m.summary["sla_met_rate"].item())
    assert sla["before"] == pytest.approx(m.previous_summary["sla_met_rate"].item())


@pytest.mark.slow
def test_both_reports_and_the_email_open_with_what_changed(rendered):
    for name, anchor in (("agent-performance", None), ("csat-sla", "#SLA-met-by-queue")):
        page = rendered[name]["html"].read_text()
        assert page.index('id="What-changed"') < page.index('id="Headline"')
        section = page[page.index('id="What-changed"') : page.index('id="Headline"')]
        assert "SLA met fell" in section and "Billing queue" in section
        assert 'href="#Headline"' in section
        if anchor:
            assert f'href="{anchor}"' in section and anchor[1:] in page
    body = (rendered["csat-sla"]["html"].parent / "email" / "body.txt").read_text()
    assert "WHAT CHANGED\n  SLA met fell" in body


def test_nothing_moved_names_only_the_figures_it_could_test():
    said = changes.nothing_moved(1, 1, "Mon 09:12", ["SLA met", "CSAT"])
    assert said == (
        "Nothing moved beyond noise, comparing each week up to Mon 09:12 (where the data "
        "ends): none of volume, resolved, transferred, handle time or first response differs "
        "from last week by more than chance would explain (1 comparison checked); SLA met and "
        "CSAT could not be tested (fewer than 20 cases on a side, or too few of one outcome)."
    )
    one = changes.nothing_moved(2, 8, untested=list(changes.NAMES.values())[1:])
    assert one.startswith("Nothing moved beyond noise: volume does not differ from last week or")
    assert changes.nothing_moved(3, 8, untested=list(changes.NAMES.values())).startswith("Too few")
