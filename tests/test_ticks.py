"""TickFeatures (exact round trip), the mixed-likelihood event model and the desk questions."""

import itertools

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY
from tsargen import WaveNetForecaster
from tsargen.markets import (DURATION_LEVELS, EVENT_CHANNELS, LOG_BIN_WIDTH, event_distribution,
                             event_series, expected_events, mid_price_distribution,
                             move_probabilities, next_move_probabilities, simulate)
from tsargen.transforms import TickFeatures

M = 3     # max_move (half ticks) of the tiny models


def make_events(n=400, seed=0):
    """A synthetic LOBSTER-like stream: ns timestamps with simultaneous events and long gaps,
    half-tick mid moves, order prices on the grid."""
    rng = np.random.default_rng(seed)
    dt = rng.choice([0, 1, 999, 10 ** 6, 10 ** 9 + 7, 3 * 10 ** 12 + 1], n,
                    p=[.2, .1, .2, .2, .2, .1])
    t = pd.Timestamp("2012-06-21 09:30") + pd.to_timedelta(np.cumsum(dt), unit="ns")
    ask = 57901 + np.cumsum(rng.choice([-2, -1, 0, 0, 0, 1, 2], n))          # ticks
    bid = ask - rng.integers(1, 6, n)
    kind = rng.integers(1, 6, n)
    direction = rng.choice([-1, 1], n)
    price = np.where(direction > 0, bid, ask) + rng.integers(-3, 4, n)
    return pd.DataFrame({"type": kind, "order_id": np.arange(n), "size": rng.integers(1, 5000, n),
                         "price": price / 100, "direction": direction,
                         "ask_price_1": ask / 100, "ask_size_1": rng.integers(0, 900, n),
                         "bid_price_1": bid / 100, "bid_size_1": rng.integers(0, 900, n)},
                        index=pd.DatetimeIndex(t, name="time"))


def test_round_trip_is_exact():
    ev = make_events()
    tf = TickFeatures().fit(ev)
    f = tf.transform(ev)
    assert list(f.columns) == list(tf.get_feature_names_out())
    assert set(f["type"]) <= {0, 1, 2, 3, 4} and set(f["direction"]) <= {0, 1}
    assert f["log_dt"].iloc[0] == 0 and (f["log_dt"] >= 0).all()
    assert np.all(2 * f["mid_move"] == np.round(2 * f["mid_move"]))
    back = tf.inverse_transform(f)
    assert (back.index.asi8 == ev.index.asi8).all()                          # to the ns
    for col in ("type", "direction", "size", "price", "ask_price_1", "bid_price_1"):
        assert (back[col].to_numpy() == ev[col].to_numpy()).all(), col        # bit for bit
    np.testing.assert_array_equal(back["mid_price"],
                                  (np.round(ev["ask_price_1"] * 100)
                                   + np.round(ev["bid_price_1"] * 100)) / 200)
    mid_move = np.diff(ev["ask_price_1"] + ev["bid_price_1"]) / 2 / 0.01
    np.testing.assert_allclose(f["mid_move"].iloc[1:], mid_move, atol=1e-9)
    np.testing.assert_allclose(f["spread"], np.round((ev["ask_price_1"] - ev["bid_price_1"])
                                                     / 0.01))


def test_continuation_from_end_anchor():
    ev = make_events()
    tf = TickFeatures().fit(ev)
    tail = tf.transform(ev.iloc[200:])
    back = tf.inverse_transform(tail.iloc[1:], anchor=tf.end_anchor(ev.iloc[:201]))
    # row 0 of tail is relative to itself, rows 1.. relative to their predecessors
    assert (back.index.asi8 == ev.index.asi8[201:]).all()
    assert (back["bid_price_1"].to_numpy() == ev["bid_price_1"].to_numpy()[201:]).all()
    with pytest.raises(ValueError, match="anchor"):
        tf.inverse_transform(pd.DataFrame(tail.iloc[1:].to_dict("list")))


@pytest.mark.parametrize("unit", ["us", "ms", "s"])
def test_timestamps_of_any_unit_are_read_as_time(unit):
    # pandas stores date_range / to_datetime indexes in us (or coarser) by default
    ev = make_events(60)
    ev.index = pd.date_range("2012-06-21 09:30", periods=60, freq="250ms" if unit != "s"
                             else "2s", name="time").as_unit(unit)
    tf = TickFeatures().fit(ev)
    f = tf.transform(ev)
    step_ms = 250.0 if unit != "s" else 2000.0
    np.testing.assert_allclose(f["log_dt"].iloc[1:], np.log1p(step_ms))
    assert (tf.inverse_transform(f).index == ev.index).all()
    assert tf.end_anchor(ev)["time_ns"] == ev.index[-1].value


def test_a_dateutil_time_zone_round_trips():
    import dateutil.tz
    ev = make_events(30)
    ev.index = ev.index.tz_localize(dateutil.tz.gettz("America/New_York"))
    tf = TickFeatures().fit(ev)
    back = tf.inverse_transform(tf.transform(ev))
    assert (back.index == ev.index).all() and back.index[0].utcoffset() == ev.index[0].utcoffset()


@pytest.mark.parametrize("drop", [[], ["bid_size_1"], ["ask_size_1", "bid_size_1"], ["type"],
                                  ["price", "size", "direction"]])
def test_feature_names_match_the_transform(drop):
    ev = make_events(30).drop(columns=drop)
    tf = TickFeatures().fit(ev)
    assert list(tf.transform(ev).columns) == list(tf.get_feature_names_out())
    out = TickFeatures().set_output(transform="pandas").fit(ev).transform(ev)
    assert list(out.columns) == list(tf.get_feature_names_out())


@pytest.mark.parametrize("change, match", [
    (lambda e: e.iloc[::-1], "earlier"),
    (lambda e: e.assign(ask_price_1=e["ask_price_1"] + 0.001), "tick grid"),
    (lambda e: e.assign(bid_price_1=e["ask_price_1"] + 0.01), "crossed"),
    (lambda e: e.assign(type=np.where(np.arange(len(e)) == 5, 7, e["type"])), "row 5.*type"),
    (lambda e: e.assign(ask_price_1=np.nan), "one-sided"),
    (lambda e: e.drop(columns="bid_price_1"), "bid_price_1"),
])
def test_bad_events(change, match):
    ev = make_events(50)
    with pytest.raises(ValueError, match=match):
        TickFeatures().fit(ev).transform(change(ev))


@pytest.mark.parametrize("change, says", [
    (lambda e: e.assign(type=np.where(np.arange(len(e)) == 5, 7, e["type"])),
     "row 5: event type 7 is not one of"),
    (lambda e: e.assign(ask_price_1=e["ask_price_1"] + 0.001), "ask_price_1 579.011 is not on"),
])
def test_messages_show_plain_numbers(change, says):
    # numpy 2 reprs scalars as np.int64(7) / np.float64(579.011)
    ev = make_events(50)
    with pytest.raises(ValueError) as err:
        TickFeatures().fit(ev).transform(change(ev))
    assert says in str(err.value) and "np." not in str(err.value)
    with pytest.raises(ValueError, match=r"got 0\.0\.$"):
        TickFeatures(tick_size=np.float64(0)).fit(ev)


def test_bad_tick_size_and_input_type():
    with pytest.raises(ValueError, match="tick_size"):
        TickFeatures(tick_size=0).fit(make_events(5))
    with pytest.raises(TypeError, match="DataFrame"):
        TickFeatures().fit(np.ones((3, 2)))


def test_event_series_codes_and_clipping():
    ev = make_events()
    y = event_series(ev, max_move=M)
    assert list(y.columns) == list(EVENT_CHANNELS)
    f = TickFeatures().fit(ev).transform(ev)
    half = 2 * f["mid_move"].to_numpy()
    np.testing.assert_array_equal(y["move"], np.clip(half, -M, M) + M)
    assert y["move"].min() == 0 and y["move"].max() == 2 * M
    ms = np.diff(ev.index.asi8, prepend=ev.index.asi8[0]) / 1e6
    np.testing.assert_array_equal(y["log_dt"], np.floor(np.log1p(ms) / LOG_BIN_WIDTH))
    np.testing.assert_array_equal(y["log_size"], np.floor(np.log1p(ev["size"]) / LOG_BIN_WIDTH))
    raw = event_series(ev, max_move=M, binned=False)
    np.testing.assert_array_equal(raw["log_dt"], f["log_dt"])


@pytest.fixture(scope="module")
def model():
    ev = make_events(600, seed=1)
    y = event_series(ev, max_move=M)
    f = WaveNetForecaster(**{**TINY, "max_epochs": 2},
                          distribution=event_distribution(max_move=M)).fit(y)
    return f, ev, y.to_numpy()


def test_mixed_heads_are_causal_in_time_then_channel_order(model):
    f, _, y = model
    y = y[:80]
    base = f.score_steps(y)
    n_t, n_c = y.shape
    for t, c in [(0, 0), (10, 1), (30, 2), (30, 3), (50, 4), (79, 0), (79, 2)]:
        z = y.copy()
        if c <= 2:           # integer levels are not rescaled: change the one value
            z[t, c] = (y[t, c] + 1) % (5, 2, 2 * M + 1)[c]
        else:                # swap with a later row: keeps the per-series scaling fixed
            u = next(u for u in range(n_t - 1, t, -1) if y[u, c] != y[t, c])
            z[t, c], z[u, c] = y[u, c], y[t, c]
        steps = f.score_steps(z)
        earlier = np.zeros((n_t, n_c), bool)
        earlier[:t] = True
        earlier[t, :c] = True
        np.testing.assert_allclose(steps[earlier], base[earlier], rtol=1e-5, atol=1e-5)
        assert not np.allclose(steps[t:], base[t:], atol=1e-5)  # the change is seen


def test_discrete_part_of_an_event_is_normalised_jointly(model):
    f, _, y = model
    hist = y[:40]
    combos = list(itertools.product(range(5), range(2), range(2 * M + 1)))
    series = []
    for k, d, m in combos:
        z = hist.copy()
        z[-1, :3] = (k, d, m)
        series.append(z)
    steps = f.score_steps(series)
    joint = np.array([s[-1, :3].sum() for s in steps])
    assert np.exp(joint).sum() == pytest.approx(1.0, abs=1e-5)
    # the duration levels, given the discrete part of the event
    z = np.repeat(hist[None], DURATION_LEVELS, 0)
    z[:, -1, 3] = np.arange(DURATION_LEVELS)
    assert np.exp([s[-1, 3] for s in f.score_steps(list(z))]).sum() == pytest.approx(1, abs=1e-5)
    # each conditional on its own, too: P(direction | type) sums to one over directions
    for k in range(5):
        p = [np.exp(steps[combos.index((k, d, 0))][-1, 1]) for d in range(2)]
        assert sum(p) == pytest.approx(1.0, abs=1e-5)


def test_joint_dependence_learns_a_within_event_rule():
    rng = np.random.default_rng(3)
    kind = rng.integers(0, 5, 1000).astype(float)
    y = pd.DataFrame({"type": kind, "direction": (kind >= 2) * 1.0})   # given by the type
    dist = {"type": {"name": "categorical", "quantization": "levels", "n_bins": 5},
            "direction": {"name": "categorical", "quantization": "levels", "n_bins": 2}}
    nll = {}
    for dep in ("joint", "independent"):
        f = WaveNetForecaster(**{**TINY, "max_epochs": 5}, lr=1e-2, distribution=dist,
                              channel_dependence=dep).fit(y)
        nll[dep] = -f.score_steps(y)["direction"].mean()
    assert nll["joint"] < 0.1 < 0.6 < nll["independent"]      # log 2 = 0.69 without the rule


def test_simulate_and_desk_questions(model):
    f, ev, _ = model
    paths = simulate(f, ev.iloc[:300], n_paths=50, n_events=40, max_move=M, random_state=0)
    assert paths.mid.shape == (50, 40) and paths.time_ns.shape == (50, 40)
    assert (np.diff(paths.time_ns, axis=1) >= 0).all()
    assert (paths.time_ns[:, 0] >= paths.start_ns).all()
    last = ev.iloc[299]
    assert paths.start_mid == (last["ask_price_1"] + last["bid_price_1"]) / 2
    # mid path = start + cumulative sampled half-tick moves
    half = paths.events[..., 2] - M
    np.testing.assert_allclose(paths.mid, paths.start_mid + 0.005 * np.cumsum(half, axis=1),
                               atol=1e-9)
    again = simulate(f, ev.iloc[:300], n_paths=50, n_events=40, max_move=M, random_state=0)
    np.testing.assert_array_equal(again.mid, paths.mid)
    both = simulate(f, [ev.iloc[:300], ev.iloc[:350]], n_paths=50, n_events=40, max_move=M,
                    random_state=0)
    assert len(both) == 2 and both[1].start_ns == ev.index[349].value
    dist = mid_price_distribution(paths, seconds=(0.5, 5))
    assert list(dist.index) == [0.5, 5.0]
    assert (dist["q0.05"] <= dist["q0.5"]).all() and (dist["q0.5"] <= dist["q0.95"]).all()
    probs = move_probabilities(paths, seconds=(0.5, 5))
    np.testing.assert_allclose(probs[["up", "down", "flat"]].sum(axis=1), 1.0)
    nxt = next_move_probabilities(paths)
    assert nxt["up"] + nxt["down"] == pytest.approx(1.0) or nxt["none"] == 1.0
    cnt = expected_events(paths, 60)
    assert 0 <= cnt["mean"] <= 40 and 0 <= cnt["censored"] <= 1
    # counts and mid_at by hand for one path
    h = paths.start_ns + 5 * 10 ** 9
    k = int((paths.time_ns[0] <= h).sum())
    assert paths.count(5)[0] == k
    if paths.time_ns[0, -1] >= h:
        assert paths.mid_at(5)[0] == (paths.start_mid if k == 0 else paths.mid[0, k - 1])
    frame = paths.to_frame(0)
    assert isinstance(frame.index, pd.DatetimeIndex) and "mid_price" in frame
    with pytest.raises(ValueError, match=r"seconds must be a finite number >= 0, got -1\.$"):
        paths.mid_at(np.int64(-1))                      # not np.int64(-1) (numpy 2 repr)


def test_simulate_checks_max_move_and_binned_against_the_fit(model):
    f, ev, _ = model
    ev = ev.iloc[:100]
    # a smaller max_move used to be accepted and shift every sampled move (the mid drifts)
    for wrong in (M - 1, M + 1, 32):
        with pytest.raises(ValueError, match=rf"fitted with max_move={M} \(its move head has "
                                             rf"{2 * M + 1} levels\); pass max_move={M}\."):
            simulate(f, ev, n_paths=2, n_events=3, max_move=wrong, random_state=0)
    with pytest.raises(ValueError, match=r"fitted with binned=True \(its log_dt head has "
                                         rf"{DURATION_LEVELS} levels\); pass binned=True\."):
        simulate(f, ev, n_paths=2, n_events=3, max_move=M, binned=False, random_state=0)
    with pytest.raises(ValueError, match=r"max_move must be a positive integer, got 0\.$"):
        simulate(f, ev, n_paths=2, n_events=3, max_move=np.int64(0))


def test_simulate_checks_an_ensemble_and_other_models():
    ev = make_events(200, seed=4)
    y = event_series(ev, max_move=2)
    f = WaveNetForecaster(**{**TINY, "n_layers": 2, "max_epochs": 1}, n_networks=2,
                          distribution=event_distribution(max_move=2)).fit(y)
    with pytest.raises(ValueError, match=r"fitted with max_move=2 .*; pass max_move=2\."):
        simulate(f, ev, n_paths=2, n_events=3, max_move=1)
    assert simulate(f, ev, n_paths=2, n_events=3, max_move=2).mid.shape == (2, 3)
    other = WaveNetForecaster(**{**TINY, "n_layers": 2, "max_epochs": 1}).fit(
        y[["move", "log_dt"]].to_numpy())
    with pytest.raises(ValueError, match="fitted on 2 channels; simulate needs one fitted on "
                                         "event_series"):
        simulate(other, ev, n_paths=2, n_events=3, max_move=2)


@pytest.mark.parametrize("change, match", [
    ({2: 8}, "move head has 8 levels, but event_series"),
    ({3: 10}, "log_dt head has 10 levels, but event_series\\(binned=True\\) makes 64"),
    ({4: 47}, "log_size head has 47 levels, but event_series\\(binned=True\\) makes 48"),
])
def test_simulate_names_heads_event_series_cannot_feed(change, match):
    from types import SimpleNamespace
    specs = [{"name": "categorical", "channels": [c],
              "kwargs": {"quantization": "levels", "n_bins": change.get(c, n)}}
             for c, n in enumerate((5, 2, 2 * M + 1, DURATION_LEVELS, 48))]
    fake = SimpleNamespace(network_=SimpleNamespace(heads=SimpleNamespace(specs=specs)))
    with pytest.raises(ValueError, match=match):         # before anything is sampled
        simulate(fake, make_events(20), n_paths=2, n_events=3, max_move=M)


def test_simulated_paths_keep_the_events_time_zone(model):
    import datetime

    import dateutil.tz
    f, ev, _ = model
    ev = ev.iloc[:100]
    naive = simulate(f, ev, n_paths=3, n_events=5, max_move=M, random_state=0)
    assert naive.start == ev.index[-1] and naive.start.tz is None
    assert naive.to_frame(0).index.tz is None
    pair = simulate(f, [ev, ev], n_paths=3, n_events=5, max_move=M, random_state=0)
    for tz in ("America/New_York", dateutil.tz.gettz("Europe/Berlin"),
               datetime.timezone(datetime.timedelta(hours=-4))):
        local = ev.tz_localize(tz)
        paths, also = simulate(f, [local, ev], n_paths=3, n_events=5, max_move=M,
                               random_state=0)
        assert paths.start == local.index[-1]                   # the same instant ...
        assert paths.start.utcoffset() == local.index[-1].utcoffset()   # ... in the same zone
        frame = paths.to_frame(1)
        assert frame.index.tz is not None and (frame.index >= local.index[-1]).all()
        expect = pd.to_datetime(paths.time_ns[1], unit="ns").tz_localize("UTC")
        assert (frame.index == expect).all()
        assert [t.utcoffset() for t in frame.index] == [t.tz_convert(local.index.tz).utcoffset()
                                                        for t in expect]
        np.testing.assert_array_equal(paths.mid, pair[0].mid)   # the zone changes no draw
        assert also.start.tz is None                            # each origin keeps its own


def test_continuous_duration_variant():
    ev = make_events(400, seed=2)
    y = event_series(ev, max_move=M, binned=False)
    # global scaling: an untrained head over window-scaled, bimodal log durations draws
    # durations whose exponential overflows
    f = WaveNetForecaster(**{**TINY, "max_epochs": 1}, scaling="global",
                          distribution=event_distribution(max_move=M, binned=False,
                                                          n_bins=16)).fit(y)
    paths = simulate(f, ev, n_paths=5, n_events=10, max_move=M, binned=False, random_state=1)
    assert paths.mid.shape == (5, 10) and (np.diff(paths.time_ns, axis=1) >= 0).all()
    with pytest.raises(ValueError, match=r"fitted with binned=False \(its log_dt head is "
                                         r"continuous: categorical with quantization='uniform'"
                                         r"\); pass binned=False\."):
        simulate(f, ev, n_paths=5, n_events=10, max_move=M, random_state=1)


def test_real_day_round_trip(data_dir):
    from tsargen.datasets import read_lobster
    ev = read_lobster(data_dir / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    tf = TickFeatures().fit(ev)
    back = tf.inverse_transform(tf.transform(ev))
    assert (back.index.asi8 == ev.index.asi8).all()
    for col in ("price", "ask_price_1", "bid_price_1", "size", "type", "direction"):
        assert (back[col].to_numpy() == ev[col].to_numpy()).all(), col
