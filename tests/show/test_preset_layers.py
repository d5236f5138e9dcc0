"""Presets for any layer count: every shipped preset laid on StyleGAN2 at 256 px (14 layers), StyleGAN3
(16) and StyleGAN2 at 1024 px (18) loads, validates, recalls and shows what its comment says; the mask
key, the layer rule, version 1 files, the docs' examples, and a recall whose own models have another
layer count."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from engine.blend.masks import BANDS, MaskError, compose, curve, nominal_resolutions
from engine.blend.spec import EZ_PRESETS, mask_values
from engine.core.params import ParamRegistry
from engine.errors import PresetError
from engine.models.build import build_generator
from engine.models.loaders import save_generator
from engine.show.catalog import build_registry
from engine.show.preset_file import Preset
from engine.show.presets import PresetManager
from tests.helpers import LAYER_COUNTS, make_show, steps, thin_generator, tiny_pair

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "presets").glob("*.toml"))
KINDS = list(LAYER_COUNTS)


@pytest.fixture(scope="module")
def generators():
    return {kind: thin_generator(kind) for kind in KINDS}


def recalled(G, preset: Preset, folder: Path = ROOT / "presets") -> tuple[ParamRegistry, list[str]]:
    """A show's registry for ``G`` with ``preset`` recalled on it; and the problems validation found."""
    reg = build_registry(G)
    presets = PresetManager(folder, reg, shipped=[], layers=lambda: G.layers)
    problems = preset.validate(reg, G.layers)
    presets.apply(preset)
    return reg, problems


def state_of(reg: ParamRegistry, G):
    return compose(reg.snapshot().values, len(G.layers))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_preset_loads_validates_and_recalls_on_14_16_and_18_layers(path, kind, generators):
    G = generators[kind]
    preset = Preset.read(path)
    assert preset.name == path.stem and preset.description and preset.version == 2
    reg, problems = recalled(G, preset)
    assert problems == []
    for name, value in preset.expanded(reg, G.layers).items():
        assert reg.get(name) == reg.spec(name).coerce(value), name
    state = state_of(reg, G)
    assert len(state.layers) == LAYER_COUNTS[kind]


CROSSOVERS = [p for p in SHIPPED if "crossover@" in Preset.read(p).mask]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", CROSSOVERS, ids=[p.stem for p in CROSSOVERS])
def test_a_crossover_preset_begins_its_b_side_at_the_named_resolution_on_every_model(path, kind, generators):
    G = generators[kind]
    preset = Preset.read(path)
    resolution = int(re.search(r"crossover@(\d+)", preset.mask).group(1))
    reg, _ = recalled(G, preset)
    t = state_of(reg, G).layers
    nominal = nominal_resolutions(G.layers)
    first = nominal.index(resolution)                     # the model's first layer at that resolution
    below, above = t[:first], t[first:]
    b_side, a_side = (above, below) if reg.get("blend.curve.direction") == 0 else (below, above)
    assert min(b_side) > max(a_side)                      # B on the named side of the step, A on the other
    pivot = reg.get("blend.curve.center") * (len(t) - 1)
    assert pivot == pytest.approx(first - 0.5)            # the step sits right before the named layer
    if reg.get("blend.curve.width") == 0.0:
        assert set(a_side) == {0.0} and set(b_side) == {reg.get("blend.curve.amount")}


@pytest.mark.parametrize("kind", KINDS)
def test_the_50_percent_interpolation_is_half_on_every_layer(kind, generators):
    G = generators[kind]
    reg, _ = recalled(G, Preset.read(ROOT / "presets" / "interpolate-50-slerp.toml"))
    state = state_of(reg, G)
    assert state.layers == (0.5,) * len(G.layers) and state.mapping == 0.5     # layer 0 too (was 0.25)


def preset_from(tmp_path, text: str, name: str = "p") -> Preset:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return Preset.read(path)


def test_a_mask_with_params_on_top_and_per_resolution_values(tmp_path, generators):
    G = generators["stylegan2-1024"]
    reg, problems = recalled(G, preset_from(tmp_path, 'version = 2\nmask = "crossover@32"\n'
                                                      '[params]\n"blend.layer.3" = 0.7\n'))
    t = state_of(reg, G).layers
    assert problems == [] and t[3] == 0.7 and t[:3] == (0.0,) * 3 and t[5:] == (1.0,) * 13
    reg, _ = recalled(G, preset_from(tmp_path, 'version = 2\nmask = "4:0,8:0.5,16:1"\n'))
    t = state_of(reg, G).layers
    assert t[:5] == (0.0, 0.5, 0.5, 1.0, 1.0) and t[5:] == (0.0,) * 13          # 16 px = layers 3 and 4
    G3 = generators["stylegan3-1024"]
    reg, _ = recalled(G3, preset_from(tmp_path, 'version = 2\nmask = "32:1"\n'))
    assert [i for i, x in enumerate(state_of(reg, G3).layers) if x == 1.0] == [3, 4]   # its 52 px layers


def test_a_mask_the_model_cannot_take_is_a_problem_not_a_crash(tmp_path, generators):
    G3 = generators["stylegan3-1024"]
    reg, problems = recalled(G3, preset_from(tmp_path, 'version = 2\nmask = "coarse"\n'
                                                       '[params]\n"latent.psi" = 0.5\n'))
    assert problems == ["mask 'coarse': coarse: this model has no layers at 8 px or less "
                        "(its layers: 16, 32, 64, 128, 256, 512, 1024 px)"]
    assert reg.get("latent.psi") == 0.5                                           # the rest still recalls


@pytest.mark.parametrize("text, message", [
    ('version = 2\nmask = "crossover@32:depth=1"\n', "unknown option"),
    ('version = 2\nmask = 3\n', "mask must be a string"),
    ('mask = "interp=0.5"\n', "a mask needs version = 2"),
    ('version = 3\n', "version 3 is not one this netblend reads"),
])
def test_bad_masks_and_versions_are_refused_when_the_file_is_read(tmp_path, text, message):
    with pytest.raises(PresetError, match=message):
        preset_from(tmp_path, text)


def test_the_layer_rule_a_preset_that_describes_the_layers_sets_every_layer(tmp_path, generators):
    G = generators["stylegan2-256"]
    reg = build_registry(G)
    presets = PresetManager(tmp_path, reg, shipped=[], layers=lambda: G.layers)
    reg.set("blend.layer.2", 1.0, ("osc", "td"))                          # a performer holds layer 2
    presets.apply(preset_from(tmp_path, 'version = 2\n[params]\n"latent.psi" = 0.4\n'))
    assert reg.get("blend.hold.2") == 1.0                            # latents only: layers untouched
    presets.apply(preset_from(tmp_path, 'version = 2\n[params]\n"blend.curve.amount" = 1.0\n'))
    c = curve(14, 1.0, reg.get("blend.curve.center"), reg.get("blend.curve.width"))
    assert reg.get("blend.hold.2") == 0.0                            # a curve preset: every layer on it
    assert [reg.get(f"blend.layer.{i}") for i in range(14)] == pytest.approx(c)   # faders sit where it is
    presets.apply(preset_from(tmp_path, 'version = 2\n[params]\n"blend.layer.*" = 0.25\n"blend.hold.3" = 0\n'))
    assert reg.get("blend.hold.0") == 1.0 and reg.get("blend.hold.3") == 0.0


def test_a_version_1_preset_shows_what_it_showed_under_the_offset_rule(tmp_path, generators):
    G = generators["stylegan2-1024"]
    text = ('version = 1\n[params]\n"blend.layer.*" = 0.0\n"blend.layer.2" = 0.5\n"blend.curve.amount" = 1.0\n'
            '"blend.curve.center" = 0.265\n"blend.curve.width" = 0.5\n')
    reg, problems = recalled(G, preset_from(tmp_path, text))
    old_rule = curve(18, 1.0, 0.265, 0.5)
    old_rule[2] += 0.5                                                      # t = curve + offset
    assert problems == [] and state_of(reg, G).layers == pytest.approx(tuple(old_rule))
    assert reg.get("blend.hold.2") == 1.0 and reg.get("blend.hold.5") == 0.0
    unversioned = preset_from(tmp_path, '[params]\n"blend.layer.0" = 0.5\n')   # before the key existed: 1
    assert unversioned.version == 1


DOCS = (ROOT / "docs" / "presets.md").read_text()
DOC_MASKS = re.findall(r'^mask = "([^"]+)"', DOCS, flags=re.M)


def test_the_docs_show_a_preset_for_every_ez_preset_and_each_one_works():
    for name in EZ_PRESETS:
        assert any(re.match(rf"{name}\b", m) or f"; {name}" in m for m in DOC_MASKS), name
    table = thin_generator("stylegan2-1024").layers
    for mask in DOC_MASKS:
        values, _ = mask_values(mask, table)
        assert compose(values, len(table)).layers != (0.0,) * len(table) or "inverse" in mask, mask


def test_bands_are_named_by_the_vocabulary():
    assert set(BANDS) <= set(EZ_PRESETS)
    with pytest.raises(MaskError, match="no layers at 64 px or more"):
        mask_values("fine", [4, 8, 8, 16, 16, 32, 32, 32])


def test_a_recall_that_swaps_models_lays_its_mask_on_the_new_layer_table(tmp_path):
    """crossover@32 on the 8-layer show puts the step before layer 5 of 8; the preset's own models have
    10 layers, where the same center would land past layer 5: after the swap the mask is laid again."""
    kwargs = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=64, img_channels=3,
                  mapping_kwargs={"num_layers": 2}, channel_base=512, channel_max=16, architecture="skip")
    gen = torch.Generator().manual_seed(1)
    shell = build_generator(kwargs)
    paths = []
    for k in range(2):
        sd = {n: v + 0.2 * k * torch.randn(v.shape, generator=gen) if v.is_floating_point() and "filter" not in n
              else v for n, v in shell.state_dict().items()}
        paths.append(tmp_path / f"m{k}.safetensors")
        save_generator(build_generator(kwargs, sd), paths[-1])
    show = make_show(tmp_path, models=tiny_pair())
    try:
        show.presets.folder.mkdir(parents=True)
        (show.presets.folder / "big.toml").write_text(
            f'version = 2\nmask = "crossover@32"\n[models]\na = "{paths[0]}"\nb = "{paths[1]}"\n')
        show.recall("big")
        steps(show, 1)
        assert show.renderer.blend_state.layers == (0.0,) * 5 + (1.0,) * 3            # on the 8 layers now
        assert show.swapper.wait_idle(timeout=60)
        steps(show, 2)
        assert show.renderer.num_layers == 10
        assert show.renderer.blend_state.layers == (0.0,) * 5 + (1.0,) * 5            # 32 px is still layer 5
        show.actions.panic()                                                          # panic: that same state
        show.registry.set("blend.layer.0", 1.0, ("midi", "fader"))
        steps(show, 2)
        assert show.renderer.blend_state.layers == (0.0,) * 5 + (1.0,) * 5
    finally:
        show.close()
