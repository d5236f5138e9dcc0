"""One way to put a show together from plain configuration (no argparse here).

``netblend run`` and ``netblend render`` both call :func:`assemble` with a :class:`ShowConfig`; run
then adds its transports (``engine.show.transports``) and real-time clock, render a fake clock and a
control-log replay. Everything that can be checked without a model (the preset, the resume file)
is checked before any model loads, so a typo costs no loading time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core.clock import Clock
from ..core.params import SHOW_SOURCE
from ..errors import NetblendError
from .build import RenderSettings, build_show, load_models, resolve_device, resolve_precision
from .frame import FrameOptions
from .preset_file import Preset
from .presets import PresetFolders
from .swap import describe

log = logging.getLogger("netblend")


@dataclass
class ShowConfig:
    models: list[str] = field(default_factory=list)   # model A first; empty = the built-in demo pair
    preset: str | None = None                         # name (presets folders) or .toml path to start with
    resume: bool = False                              # restore the autosaved state
    presets_dir: str | None = None                    # where user presets are saved (default: user folder)
    size: tuple[int, int] | None = None               # output size (default: the model's resolution)
    fit: str = "fit"                                  # image in that size: fit (letterbox), fill (crop), stretch
    device: str = "auto"
    fps: float | None = None                          # target frame rate; None = as fast as possible
    clock: Clock | None = None                        # a FakeClock for offline renders and tests
    profile: bool = False
    impl: str | None = None                           # stylegan_ops implementation; None: the device's default
    precision: str = "auto"                           # auto (fp16 layers on CUDA, fp32 elsewhere) | fp32 | fp16
    num_fp16_res: int | None = None                   # fp16 layers: the N highest resolutions (None: the model's)
    compile: str = "auto"                             # torch.compile of the frame: auto | on | off (docs/gpu.md)
    cuda_graph: str = "auto"                          # CUDA-graph replay: auto (with compile on CUDA) | on | off
    initial: dict = field(default_factory=dict)       # values set after the demo/preset/resume state


def render_settings(config: ShowConfig, device) -> RenderSettings:
    """How the config's frames are computed on ``device``; a bad choice is a one-line error."""
    resolve_precision(config.precision, device)
    if config.num_fp16_res is not None and config.num_fp16_res < 0:
        raise NetblendError(f"--fp16-res {config.num_fp16_res}: the number of fp16 resolutions is 0 or more")
    return RenderSettings(impl=config.impl, precision=config.precision, num_fp16_res=config.num_fp16_res,
                          frame=FrameOptions(compile=config.compile, cuda_graph=config.cuda_graph))


def find_start_preset(config: ShowConfig) -> Preset | None:
    """The ``--preset`` of the config, read now (a path or a name); errors before any model loads."""
    if not config.preset:
        return None
    path = Path(config.preset)
    if path.suffix == ".toml" or path.exists():
        return Preset.read(path)
    return PresetFolders(config.presets_dir).load(config.preset)


def _resume_state(config: ShowConfig) -> Preset | None:
    if not config.resume:
        return None
    folders = PresetFolders(config.presets_dir)
    if not folders.autosave_path.exists():
        log.warning("nothing to resume yet (no autosave in %s); starting fresh", folders.autosave_path.parent)
        return None
    return folders.read_autosave()                     # says itself what it could not read


def assemble(config: ShowConfig):
    """Build the :class:`~engine.show.show.Show` a config describes, in its start state."""
    from .fit import FIT_MODES

    if config.fit not in FIT_MODES:
        raise NetblendError(f"--fit {config.fit!r}: choose {', '.join(FIT_MODES)}")
    device = resolve_device(config.device)
    settings = render_settings(config, device)         # a bad --precision fails before any model loads
    preset = find_start_preset(config)
    resumed = _resume_state(config)
    paths = list(config.models)
    wanted = [str(p) for p in (resumed.models.values() if resumed else [])]
    if resumed is not None and wanted and not paths:
        paths = wanted
    elif resumed is not None and wanted and [Path(p).resolve() for p in paths] != [Path(p).resolve() for p in wanted]:
        log.warning("--resume: playing %s from the command line, but the autosave was made with %s; its "
                    "layer values were tuned for those", describe(paths), describe(wanted))
    if not paths and preset is not None and preset.models:
        paths = [str(p) for p in preset.models.values()]
    try:
        models = load_models(paths, device)
    except NetblendError as e:
        if resumed is None or config.models or not wanted:
            raise
        log.warning("--resume could not load the autosaved models (%s); playing the demo pair instead", e)
        paths, models = [], load_models([], device)
    show = build_show(models, device, paths=paths, size=config.size, clock=config.clock, fps=config.fps,
                      presets_dir=config.presets_dir, profile=config.profile, settings=settings, fit=config.fit)
    if not paths and preset is None and resumed is None:
        from ..blend.masks import release_values
        from ..models.demo import DEMO_SHOW

        show.registry.update(DEMO_SHOW, source=(SHOW_SOURCE, "demo"))
        layers = show.renderer.num_layers                # faders sit where the demo's curve puts their layers
        show.registry.update(release_values(show.registry.targets(), layers), source=(SHOW_SOURCE, "demo"))
        show.registry.jump()
    for state in (resumed, preset):
        if state is not None:
            show.apply_now(_without_models(state))
    if config.initial:
        show.registry.update(config.initial, source=(SHOW_SOURCE, "initial"))
        show.registry.jump()
    return show


def _without_models(preset: Preset) -> Preset:
    """The preset's state minus its models (already chosen and loaded above)."""
    return replace(preset, params=dict(preset.params), models={}, keyframes=list(preset.keyframes))
