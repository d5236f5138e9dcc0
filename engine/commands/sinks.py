"""`netblend sinks`: every output and whether it can run here (or why not, with the fix)."""

from __future__ import annotations


def configure(parser) -> None:
    parser.epilog = ("Use an output with --sink NAME[:ARG][,key=value], e.g. --sink record:show.mp4,fps=30; "
                     "docs/outputs.md explains every option")


def run(args) -> int:
    from ..sinks import sink_class, sink_table

    rows = sink_table()
    w = max(len(r[0]) for r in rows)
    for name, status, what in rows:
        print(f"{name:<{w}}  {what}\n{'':<{w}}  -> {status}")
        try:
            options = sink_class(name).OPTIONS
        except Exception:  # a module that cannot even be imported is already reported in its status
            options = {}
        for key, meaning in options.items():
            print(f"{'':<{w}}     {key}=  {meaning}")
    return 0
