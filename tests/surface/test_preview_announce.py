"""The preview sink (nothing on the render thread unless asked), the preview JPEG over HTTP from a real
render loop, and the zeroconf records (built, never announced: tests stay off the LAN)."""

import io
import time
import urllib.request

import numpy as np
import torch
from PIL import Image

from engine.sinks.base import Frame
from engine.surface import SurfaceConfig
from engine.surface.announce import OSC_TYPE, OSCJSON_TYPE, Announcer, service_infos
from engine.surface.preview import PreviewSink


def frame_of(value: int, index: int = 0) -> Frame:
    pixels = torch.full((48, 64, 4), value, dtype=torch.uint8)
    pixels[:, :32, 0] = 255 - value                      # two halves: not a flat picture
    return Frame(pixels, index)


def test_the_preview_sink_copies_a_frame_only_when_asked():
    sink = PreviewSink(max_side=32)
    sink.open(64, 48)
    sink.send(frame_of(10))
    assert sink.captured == 0 and sink.jpeg() is None     # nobody asked: nothing copied, nothing to encode
    sink.request()
    shown = frame_of(200, 1)
    sink.send(shown)
    shown.pixels.fill_(0)                                 # the renderer reuses its buffer next frame
    sink.send(frame_of(30, 2))                            # not asked again: ignored
    assert sink.captured == 1
    image = np.asarray(Image.open(io.BytesIO(sink.jpeg())))
    assert image.shape == (24, 32, 3)                     # longest side max_side, aspect kept
    assert abs(int(image[:, 20:, 1].mean()) - 200) < 8    # the frame as it was when it was captured
    assert sink.jpeg() is sink.jpeg()                     # encoded once per captured frame


def test_the_page_preview_is_a_jpeg_of_the_running_show(surface, host):
    host.registry.set("latent.psi", 1.0)
    host.play(surface, fps=30)
    url = f"http://127.0.0.1:{surface.port}/ui/preview.jpg"
    images = []
    for _ in range(2):
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.headers["Content-Type"] == "image/jpeg"
            images.append(np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB")).astype(float))
        time.sleep(0.1)
    assert images[0].shape == (32, 32, 3)
    assert images[0].std() > 5                            # a picture, not a blank frame
    assert surface.preview.captured >= 2                  # each request took a fresh frame


def test_zeroconf_records_name_the_oscquery_and_osc_ports():
    infos = service_infos(SurfaceConfig(name="netblend stage", osc_port=9000), 9001, ["192.0.2.10"])
    oscjson, osc = infos
    assert oscjson.type == OSCJSON_TYPE and oscjson.port == 9001
    assert oscjson.name == f"netblend stage.{OSCJSON_TYPE}" and oscjson.parsed_addresses() == ["192.0.2.10"]
    assert osc.type == OSC_TYPE and osc.port == 9000
    assert len(service_infos(SurfaceConfig(osc_port=None), 9001, ["192.0.2.10"])) == 1


def test_announcing_a_loopback_port_is_skipped_with_a_warning(caplog):
    announcer = Announcer(SurfaceConfig(host="127.0.0.1", announce=True), 9001).start()
    assert announcer._zeroconf is None and "cannot reach" in caplog.text
    announcer.stop()
