import math
import threading

import pytest

from engine.core.params import ParamError, ParamRegistry, ParamSpec


def registry():
    r = ParamRegistry()
    r.add_all([
        ParamSpec("blend.layer.3", 0.0, -2.0, 3.0),
        ParamSpec("latent.psi", 0.7, 0.0, 2.0, smoothing=0.1),
        ParamSpec("latent.seed", 0, 0, 2**31 - 1, kind="int"),
        ParamSpec("engine.pause", 0, kind="bool"),
        ParamSpec("latent.walk.mode", 0, kind="choice", choices=("off", "lerp", "slerp")),
        ParamSpec("blend.panic", kind="trigger"),
    ])
    return r


def test_canonical_osc_address():
    assert registry().spec("blend.layer.3").address == "/blend/layer/3"
    assert registry().by_address("/latent/psi").name == "latent.psi"


def test_overblend_values_kept_and_out_of_range_clamped():
    r = registry()
    assert r.set("blend.layer.3", 1.7) == 1.7
    assert r.set("blend.layer.3", 9.0) == 3.0
    assert r.set("blend.layer.3", -5) == -2.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "abc", None, [1, 2]])
def test_bad_values_rejected_and_last_good_value_stays(bad):
    r = registry()
    r.set("blend.layer.3", 0.4)
    with pytest.raises(ParamError, match="blend.layer.3"):
        r.set("blend.layer.3", bad)
    assert r.snapshot()["blend.layer.3"] == 0.4


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ParamError, match="unknown parameter 'blend.layer.99'"):
        registry().set("blend.layer.99", 1)


def test_kinds_coerce():
    r = registry()
    assert r.set("latent.seed", 41.6) == 42
    assert r.set("engine.pause", 0.8) == 1.0
    assert r.set("latent.walk.mode", "slerp") == 2
    assert r.set("latent.walk.mode", 1.2) == 1
    with pytest.raises(ParamError, match="not one of"):
        r.set("latent.walk.mode", "zigzag")


def test_triggers_count_every_press():
    r = registry()
    before = r.snapshot().triggers["blend.panic"]
    r.set("blend.panic", 1)
    r.set("blend.panic", 1)
    assert r.snapshot().triggers["blend.panic"] == before + 2


def test_smoothing_is_frame_rate_aware():
    a, b = registry(), registry()
    a.set("latent.psi", 1.7)
    b.set("latent.psi", 1.7)
    for _ in range(10):          # 10 frames of 10 ms
        a.snapshot(0.01)
    b.snapshot(0.1)              # one frame of 100 ms
    assert a.snapshot(0)["latent.psi"] == pytest.approx(b.snapshot(0)["latent.psi"], rel=1e-9)
    assert 0.7 < b.snapshot(0)["latent.psi"] < 1.7
    for _ in range(100):
        a.snapshot(0.1)
    assert a.snapshot(0)["latent.psi"] == 1.7


def test_snapshot_is_frozen():
    r = registry()
    snap = r.snapshot()
    r.set("blend.layer.3", 1.0)
    assert snap["blend.layer.3"] == 0.0
    with pytest.raises(TypeError):
        snap.values["blend.layer.3"] = 2.0


def test_latest_value_wins_across_threads():
    r = registry()

    def writer(k):
        for i in range(2000):
            r.set("blend.layer.3", (i % 7) * 0.1 + k * 1e-6, source=k)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r.set("blend.layer.3", 2.5, source="last")
    assert r.snapshot()["blend.layer.3"] == 2.5
    assert r.drain_changes()["blend.layer.3"] == (2.5, "last")
    assert r.drain_changes() == {}


def test_redeclaring_keeps_values_and_remove_forgets():
    r = registry()
    r.set("blend.layer.3", 2.0)
    r.add(ParamSpec("blend.layer.3", 0.0, -1.0, 1.0))
    assert r.get("blend.layer.3") == 1.0
    r.remove(["blend.layer.3"])
    assert "blend.layer.3" not in r
