"""`netblend midi`: list MIDI ports (and which shipped mapping fits each); `netblend midi learn PARAM`
binds the next control you move to PARAM and writes it into a mapping file."""

from __future__ import annotations


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="midi_command", metavar="ACTION")
    sub.add_parser("list", help="list MIDI input and output ports (the default)")
    learn = sub.add_parser("learn", help="bind the next control you move to PARAM",
                           description="Move one control on your controller within --timeout seconds; "
                                       "its binding to PARAM is written into --mapping.")
    learn.add_argument("param", metavar="PARAM", help="parameter name, e.g. blend.layer.3 (`netblend osc` lists)")
    learn.add_argument("--mapping", default="learned.toml", help="mapping file to write (default: %(default)s)")
    learn.add_argument("--midi-port", default=None, metavar="REGEX", help="only listen to matching input ports")
    learn.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"),
                       help="value range of the control (overblend allowed, e.g. -1 2)")
    learn.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default: %(default)s)")


def run(args) -> int:
    if getattr(args, "midi_command", None) == "learn":
        return _learn(args)
    return _list()


def _list() -> int:
    from ..control.mapping import load_mapping
    from ..control.midi_ports import get_backend, matching, port_names
    from ..core.paths import shipped_dir
    from ..errors import MappingError

    backend = get_backend()
    inputs, outputs = port_names(backend), port_names(backend, output=True)
    mappings = []
    for path in sorted(shipped_dir("mappings").glob("*.toml")):
        try:
            mapping = load_mapping(path)
        except MappingError:
            continue
        if mapping.device.port:
            mappings.append(mapping)
    print("MIDI inputs:" if inputs else "MIDI inputs: none (plug in a controller, then run this again)")
    for name in inputs:
        fits = [m.path.name for m in mappings if matching([name], m.device.port)]
        print(f"  {name}" + (f"    -> mappings/{', '.join(fits)}" if fits else ""))
    print("MIDI outputs (LED feedback):" if outputs else "MIDI outputs: none")
    for name in outputs:
        print(f"  {name}")
    return 0


def _learn(args) -> int:
    from types import SimpleNamespace

    from ..blend.masks import params as blend_params
    from ..control.learn import MidiLearn, learn_from_ports
    from ..control.midi_ports import MidiPorts, MidiPortsConfig
    from ..core.params import ParamRegistry
    from ..latents import params as latent_params
    from ..show.catalog import engine_params

    registry = ParamRegistry()                   # every name a show can have (18 layers, both families)
    registry.add_all(engine_params() + blend_params(18))
    for family in ("stylegan2", "stylegan3"):
        registry.add_all(latent_params(SimpleNamespace(num_ws=18, c_dim=0, family=family)))
    spec = registry.spec(args.param)             # unknown names raise ParamError with the fix
    learner = MidiLearn(args.param, spec, tuple(args.range) if args.range else None)
    with MidiPorts(MidiPortsConfig(input_pattern=args.midi_port), handler=lambda msg, port: None) as ports:
        if not ports.connected:
            print("no MIDI input found" + (f" matching {args.midi_port!r}" if args.midi_port else "")
                  + "; `netblend midi` lists the ports")
            return 1
        print(f"listening on {', '.join(ports.connected)}: move the control for {args.param} ...")
        binding = learn_from_ports(ports, learner, args.mapping, args.timeout)
    if binding is None:
        print(f"nothing moved within {args.timeout:g} s; nothing written")
        return 1
    where = binding["control"] + (f" {binding['number']}" if "number" in binding else "")
    print(f"{where} (channel {binding.get('channel', 'any')}) from {learner.port} -> {args.param}; "
          f"written to {args.mapping}")
    return 0
