"""The Triton kernels behind ``impl='triton'`` (imported only when that impl runs; needs ``triton``).

Each kernel is one plain Python function compiled two ways: ``JIT`` (a normal ``triton.jit`` kernel for
CUDA tensors) and ``INTERPRETED`` (Triton's interpreter, for CPU tensors when ``TRITON_INTERPRET=1``),
so one process can run both without depending on the environment at import time. The kernels call no
other jit functions, which is what lets the interpreter take them unchanged.

All arithmetic is float32 (fp16 inputs are widened on load and the result is rounded once on store),
except the matrix products of ``filtered_lrelu`` on fp16 inputs, which multiply fp16 operands with
float32 accumulation (tensor cores), as the reference does its convolutions in fp16.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction
from triton.runtime.jit import JITFunction

# Activation codes of bias_act_kernel (same order as bias_act.ACTIVATIONS).
ACT_CODES = {"linear": 0, "relu": 1, "lrelu": 2, "tanh": 3, "sigmoid": 4, "elu": 5, "selu": 6, "softplus": 7,
             "swish": 8}


def bias_act_kernel(x_ptr, b_ptr, out_ptr, numel, channels, inner, alpha, gain, clamp,
                    ACT: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_CLAMP: tl.constexpr, BLOCK: tl.constexpr):
    """out = clamp(act(x + b[channel]) * gain); channel = (index // inner) % channels."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    v = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    if HAS_BIAS:
        v += tl.load(b_ptr + (offs // inner) % channels, mask=mask, other=0.0).to(tl.float32)
    if ACT == 1:
        v = tl.maximum(v, 0.0)
    elif ACT == 2:
        v = tl.where(v >= 0, v, v * alpha)
    elif ACT == 3:
        v = 2.0 / (1.0 + tl.exp(-2.0 * v)) - 1.0
    elif ACT == 4:
        v = 1.0 / (1.0 + tl.exp(-v))
    elif ACT == 5:
        v = tl.where(v > 0, v, tl.exp(tl.minimum(v, 0.0)) - 1.0)
    elif ACT == 6:
        v = 1.0507009873554805 * tl.where(v > 0, v, 1.6732632423543772 * (tl.exp(tl.minimum(v, 0.0)) - 1.0))
    elif ACT == 7:
        v = tl.where(v > 20.0, v, tl.log(1.0 + tl.exp(tl.minimum(v, 20.0))))
    elif ACT == 8:
        v = v / (1.0 + tl.exp(-v))
    v = v * gain
    if HAS_CLAMP:
        v = tl.minimum(tl.maximum(v, -clamp), clamp)
    tl.store(out_ptr + offs, v.to(out_ptr.dtype.element_ty), mask=mask)


def upfirdn2d_kernel(x_ptr, f_ptr, out_ptr, height, width, out_h, out_w, tiles_x,
                     sx_n, sx_c, sx_h, sx_w, so_n, so_c, so_h, so_w, channels,
                     fh, fw, upx, upy, downx, downy, px0, py0, gain,
                     STEPS_Y: tl.constexpr, STEPS_X: tl.constexpr, FLIP: tl.constexpr, BH: tl.constexpr,
                     BW: tl.constexpr):
    """One [BH, BW] output tile of one image plane, polyphase: only taps that meet an input sample.

    out[o] = gain * sum_j x[(o*down + j - p0) / up] * k[j] over j with (o*down + j - p0) % up == 0,
    per axis, where k is the filter flipped (a true convolution) unless FLIP (correlation).
    """
    plane = tl.program_id(1)
    n, c = plane // channels, plane % channels
    oy = (tl.program_id(0) // tiles_x) * BH + tl.arange(0, BH)[:, None]  # [BH, 1]
    ox = (tl.program_id(0) % tiles_x) * BW + tl.arange(0, BW)[None, :]  # [1, BW]
    sy, sx = oy * downy - py0, ox * downx - px0  # upsampled-domain position of tap 0
    jy0 = ((-sy) % upy + upy) % upy  # first tap that lands on an input sample
    jx0 = ((-sx) % upx + upx) % upx
    x_base = x_ptr + n.to(tl.int64) * sx_n + c.to(tl.int64) * sx_c
    acc = tl.full([BH, BW], 0.0, tl.float32)
    for ty in tl.static_range(STEPS_Y):  # ceil(fh / upy) taps can meet an input sample
        jy = jy0 + ty * upy
        iy = (sy + jy) // upy
        ok_y = (jy < fh) & (iy >= 0) & (iy < height)
        ky = jy if FLIP else fh - 1 - jy
        for tx in tl.static_range(STEPS_X):
            jx = jx0 + tx * upx
            ix = (sx + jx) // upx
            ok = ok_y & (jx < fw) & (ix >= 0) & (ix < width)
            kx = jx if FLIP else fw - 1 - jx
            k = tl.load(f_ptr + ky * fw + kx, mask=ok, other=0.0)
            v = tl.load(x_base + iy * sx_h + ix * sx_w, mask=ok, other=0.0).to(tl.float32)
            acc += k * v
    mask = (oy < out_h) & (ox < out_w)
    out = out_ptr + n.to(tl.int64) * so_n + c.to(tl.int64) * so_c + oy * so_h + ox * so_w
    tl.store(out, (acc * gain).to(out_ptr.dtype.element_ty), mask=mask)


def filtered_lrelu_kernel(x_ptr, b_ptr, uy_ptr, ux_ptr, dy_ptr, dx_ptr, out_ptr,
                          height, width, out_h, out_w, tiles_x, valid_y, valid_x,
                          sx_n, sx_c, sx_h, sx_w, so_n, so_c, so_h, so_w, channels,
                          fuh, fuw, fdh, fdw, up, down, px0, py0,
                          up_gain, gain, slope, clamp,
                          HAS_BIAS: tl.constexpr, HAS_CLAMP: tl.constexpr, FLIP: tl.constexpr,
                          HALF: tl.constexpr, RANKS_U: tl.constexpr, RANKS_D: tl.constexpr,
                          XT: tl.constexpr, UT: tl.constexpr, OT: tl.constexpr):
    """filtered_lrelu for one output tile of one image plane, in one pass, as matrix products.

    With the filters as sums of outer products (fu = sum_r uy_r x ux_r, fd likewise), the upsampled
    tile is U = sum_r Uy_r @ X @ Ux_r^T, where X [XT, XT] is the biased input tile and Uy_r [UT, XT]
    holds the polyphase taps (Uy[u, i] = k(i*up + p0 - u)); the result is sum_s Dy_s @ act(U) @ Dx_s^T
    with Dy_s [OT, UT] the strided down taps (Dy[o, u] = k(u - o*down)). The first ``valid`` rows and
    columns of the [OT, OT] block are the tile's outputs; tiles step by ``valid``.
    """
    plane = tl.program_id(1)
    n, c = plane // channels, plane % channels
    oy0 = (tl.program_id(0) // tiles_x) * valid_y
    ox0 = (tl.program_id(0) % tiles_x) * valid_x
    # First input sample of the tile (ceil((u0 - p0) / up)) and its tap offset.
    num_y, num_x = oy0 * down - py0, ox0 * down - px0
    iy0 = tl.where(num_y >= 0, (num_y + up - 1) // up, -((-num_y) // up))
    ix0 = tl.where(num_x >= 0, (num_x + up - 1) // up, -((-num_x) // up))
    cy, cx = iy0 * up - num_y, ix0 * up - num_x

    xi = tl.arange(0, XT)
    ui = tl.arange(0, UT)
    oi = tl.arange(0, OT)
    rows, cols = iy0 + xi[:, None], ix0 + xi[None, :]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    x_base = x_ptr + n.to(tl.int64) * sx_n + c.to(tl.int64) * sx_c
    x = tl.load(x_base + rows * sx_h + cols * sx_w, mask=inside, other=0.0).to(tl.float32)
    if HAS_BIAS:
        x = tl.where(inside, x + tl.load(b_ptr + c).to(tl.float32), 0.0)
    if HALF:
        x = x.to(tl.float16)

    # Up taps: Uy[u, i] = ku_y(i*up + cy - u), UxT[i, u] = ku_x(i*up + cx - u); zero outside the filter.
    jy = xi[None, :] * up + cy - ui[:, None]  # [UT, XT]
    jx = xi[:, None] * up + cx - ui[None, :]  # [XT, UT]
    ok_uy, ok_ux = (jy >= 0) & (jy < fuh), (jx >= 0) & (jx < fuw)
    ky = jy if FLIP else fuh - 1 - jy
    kx = jx if FLIP else fuw - 1 - jx
    u = tl.full([UT, UT], 0.0, tl.float32)
    for r in tl.static_range(RANKS_U):
        m_uy = tl.load(uy_ptr + r * fuh + ky, mask=ok_uy, other=0.0)
        m_ux = tl.load(ux_ptr + r * fuw + kx, mask=ok_ux, other=0.0)
        if HALF:
            t = tl.dot(x, m_ux.to(tl.float16))  # [XT, UT]
            u += tl.dot(m_uy.to(tl.float16), t.to(tl.float16))
        else:
            t = tl.dot(x, m_ux, input_precision="ieee")
            u += tl.dot(m_uy, t, input_precision="ieee")
    u = u * up_gain
    a = tl.where(u >= 0, u, u * slope) * gain
    if HAS_CLAMP:
        a = tl.minimum(tl.maximum(a, -clamp), clamp)
    if HALF:
        a = a.to(tl.float16)

    # Down taps: Dy[o, u] = kd_y(u - o*down), DxT[u, o] = kd_x(u - o*down), for the tile's valid outputs.
    jdy = ui[None, :] - oi[:, None] * down  # [OT, UT]
    jdx = ui[:, None] - oi[None, :] * down  # [UT, OT]
    ok_dy = (jdy >= 0) & (jdy < fdh) & (oi[:, None] < valid_y)
    ok_dx = (jdx >= 0) & (jdx < fdw) & (oi[None, :] < valid_x)
    kdy = jdy if FLIP else fdh - 1 - jdy
    kdx = jdx if FLIP else fdw - 1 - jdx
    out = tl.full([OT, OT], 0.0, tl.float32)
    for s in tl.static_range(RANKS_D):
        m_dy = tl.load(dy_ptr + s * fdh + kdy, mask=ok_dy, other=0.0)
        m_dx = tl.load(dx_ptr + s * fdw + kdx, mask=ok_dx, other=0.0)
        if HALF:
            t2 = tl.dot(a, m_dx.to(tl.float16))  # [UT, OT]
            out += tl.dot(m_dy.to(tl.float16), t2.to(tl.float16))
        else:
            t2 = tl.dot(a, m_dx, input_precision="ieee")
            out += tl.dot(m_dy, t2, input_precision="ieee")

    oy, ox = oy0 + oi[:, None], ox0 + oi[None, :]
    mask = (oi[:, None] < valid_y) & (oi[None, :] < valid_x) & (oy < out_h) & (ox < out_w)
    dst = out_ptr + n.to(tl.int64) * so_n + c.to(tl.int64) * so_c + oy * so_h + ox * so_w
    tl.store(dst, out.to(out_ptr.dtype.element_ty), mask=mask)


@dataclass(frozen=True)
class Kernel:
    """One kernel compiled for CUDA (``jit``) and for the interpreter (``interpreted``)."""

    jit: JITFunction
    interpreted: InterpretedFunction

    def on(self, device: torch.device):
        return self.interpreted if device.type == "cpu" else self.jit


def _both(fn) -> Kernel:
    return Kernel(JITFunction(fn), InterpretedFunction(fn))


@dataclass(frozen=True)
class Launch:
    """One kernel launch, planned: which kernel, its grid, its runtime arguments and its constexprs.
    ``run`` launches it; ``scripts``/tests compile the same plan ahead of time for a GPU target."""

    kernel: Kernel
    grid: tuple[int, ...]
    args: tuple
    constexprs: dict

    def run(self, device: torch.device) -> None:
        self.kernel.on(device)[self.grid](*self.args, **self.constexprs)

    def signature(self) -> dict[str, str]:
        """Triton's signature of this launch (pointer and scalar types by argument name)."""
        names = self.kernel.jit.arg_names
        sig = {}
        for name, value in zip(names, self.args):
            if isinstance(value, torch.Tensor):
                sig[name] = "*" + {torch.float32: "fp32", torch.float16: "fp16"}[value.dtype]
            elif isinstance(value, bool):
                sig[name] = "i1"
            elif isinstance(value, int):
                sig[name] = "i64" if abs(value) >= 2**31 else "i32"
            else:
                sig[name] = "fp32"
        return {**sig, **{name: "constexpr" for name in self.constexprs}}


BIAS_ACT = _both(bias_act_kernel)
UPFIRDN2D = _both(upfirdn2d_kernel)
FILTERED_LRELU = _both(filtered_lrelu_kernel)


# ---------------------------------------------------------------------------------------------------
# Launchers (arguments already checked and parsed by the op entry points).

def launch_bias_act(x: torch.Tensor, b: torch.Tensor | None, dim: int, act: str, alpha: float, gain: float,
                    clamp: float | None) -> torch.Tensor:
    dim %= x.ndim
    if x.ndim == 4 and dim == 1 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        inner = 1  # [N, H, W, C] in memory: the channel is the fastest index
    else:
        x = x.contiguous()
        inner = 1
        for size in x.shape[dim + 1:]:
            inner *= size
    out = torch.empty_like(x)
    plan_bias_act(x, b, out, x.shape[dim], inner, act, alpha, gain, clamp).run(x.device)
    return out


def plan_bias_act(x: torch.Tensor, b: torch.Tensor | None, out: torch.Tensor, channels: int, inner: int, act: str,
                  alpha: float, gain: float, clamp: float | None) -> Launch:
    numel, block = x.numel(), 1024
    return Launch(BIAS_ACT, (triton.cdiv(numel, block),),
                  (x, x if b is None else b, out, numel, channels, inner, float(alpha), float(gain),
                   0.0 if clamp is None else float(clamp)),
                  dict(ACT=ACT_CODES[act], HAS_BIAS=b is not None, HAS_CLAMP=clamp is not None, BLOCK=block))


def _upfirdn_pass(x: torch.Tensor, f: torch.Tensor, fh: int, fw: int, up: tuple[int, int], down: tuple[int, int],
                  pad: tuple[int, int, int, int], flip: bool, gain: float, out_dtype: torch.dtype) -> torch.Tensor:
    n, c, h, w = x.shape
    out_h = (h * up[1] + pad[2] + pad[3] - fh) // down[1] + 1
    out_w = (w * up[0] + pad[0] + pad[1] - fw) // down[0] + 1
    out = torch.empty((n, c, out_h, out_w), dtype=out_dtype, device=x.device)
    plan_upfirdn_pass(x, f, out, fh, fw, up, down, pad, flip, gain).run(x.device)
    return out


def plan_upfirdn_pass(x: torch.Tensor, f: torch.Tensor, out: torch.Tensor, fh: int, fw: int, up: tuple[int, int],
                      down: tuple[int, int], pad: tuple[int, int, int, int], flip: bool, gain: float) -> Launch:
    n, c, h, w = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    bh, bw = 16, 32
    tiles_x = triton.cdiv(out_w, bw)
    return Launch(UPFIRDN2D, (tiles_x * triton.cdiv(out_h, bh), n * c),
                  (x, f, out, h, w, out_h, out_w, tiles_x, *x.stride(), *out.stride(), c,
                   fh, fw, up[0], up[1], down[0], down[1], pad[0], pad[2], float(gain)),
                  dict(STEPS_Y=-(-fh // up[1]), STEPS_X=-(-fw // up[0]), FLIP=flip, BH=bh, BW=bw))


def launch_upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up: tuple[int, int], down: tuple[int, int],
                     pad: tuple[int, int, int, int], flip: bool, gain: float,
                     factors: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
    """``factors``: (column taps, row taps) of a separable filter (two 1-D passes), or None (one 2-D pass)."""
    if f is None:
        f = torch.ones(1, 1, device=x.device)
    if factors is None:
        f2 = f.to(device=x.device, dtype=torch.float32).contiguous()
        return _upfirdn_pass(x, f2, f2.shape[0], f2.shape[1], up, down, pad, flip, gain, x.dtype)
    col, row = (t.to(torch.float32).contiguous() for t in factors)
    mid = _upfirdn_pass(x, row, 1, row.numel(), (up[0], 1), (down[0], 1), (pad[0], pad[1], 0, 0), flip, 1.0,
                        torch.float32)  # along x, kept in float32
    return _upfirdn_pass(mid, col, col.numel(), 1, (1, up[1]), (1, down[1]), (0, 0, pad[2], pad[3]), flip, gain,
                         x.dtype)  # along y


@functools.lru_cache(maxsize=256)
def filtered_lrelu_tiles(up: int, down: int, fu_taps: int, fd_taps: int) -> tuple[int, int, int, int]:
    """(XT, UT, OT, valid outputs per tile) for one axis: the block sizes with the least work per output.

    A tile of ``valid`` outputs needs ``(valid - 1) * down + fd_taps`` upsampled samples (<= UT) and those
    need at most ``ceil((U + fu_taps - 2) / up) + 1`` inputs (<= XT); Triton's matrix blocks are powers of two
    of at least 16.
    """
    best = None
    for xt, ut, ot in [(16, 32, 16), (32, 32, 16), (32, 64, 32), (64, 64, 32), (64, 128, 64), (128, 128, 64)]:
        u_fit = min(ut, (xt - 2) * up - fu_taps + 2)  # upsampled samples that xt inputs always cover
        valid = min(ot, (u_fit - fd_taps) // down + 1)
        if valid < 1:
            continue
        cost = (xt * xt * ut + ut * xt * ut + ut * ut * ot + ot * ut * ot) / valid**2
        if best is None or cost < best[0]:
            best = (cost, (xt, ut, ot, valid))
    if best is None:
        raise ValueError(f"filters too long for the Triton filtered_lrelu ({fu_taps} up taps, {fd_taps} down taps)")
    return best[1]


def launch_filtered_lrelu(x: torch.Tensor, b: torch.Tensor | None, up_factors: tuple[torch.Tensor, torch.Tensor],
                          down_factors: tuple[torch.Tensor, torch.Tensor], up: int, down: int,
                          pad: tuple[int, int, int, int], gain: float, slope: float, clamp: float | None,
                          flip: bool, out_h: int, out_w: int) -> torch.Tensor:
    """The fused kernel; ``*_factors`` = (column taps [R, fh], row taps [R, fw]) float32."""
    out = torch.empty((x.shape[0], x.shape[1], out_h, out_w), dtype=x.dtype, device=x.device)
    plan_filtered_lrelu(x, b, up_factors, down_factors, out, up, down, pad, gain, slope, clamp, flip).run(x.device)
    return out


def plan_filtered_lrelu(x: torch.Tensor, b: torch.Tensor | None, up_factors: tuple[torch.Tensor, torch.Tensor],
                        down_factors: tuple[torch.Tensor, torch.Tensor], out: torch.Tensor, up: int, down: int,
                        pad: tuple[int, int, int, int], gain: float, slope: float, clamp: float | None,
                        flip: bool) -> Launch:
    n, c, h, w = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    (uy, ux), (dy, dx) = up_factors, down_factors
    fuh, fuw, fdh, fdw = uy.shape[1], ux.shape[1], dy.shape[1], dx.shape[1]
    xt_y, ut_y, ot_y, valid_y = filtered_lrelu_tiles(up, down, fuh, fdh)
    xt_x, ut_x, ot_x, valid_x = filtered_lrelu_tiles(up, down, fuw, fdw)
    xt, ut, ot = max(xt_y, xt_x), max(ut_y, ut_x), max(ot_y, ot_x)
    tiles_x = triton.cdiv(out_w, valid_x)
    return Launch(FILTERED_LRELU, (tiles_x * triton.cdiv(out_h, valid_y), n * c),
                  (x, x if b is None else b, uy, ux, dy, dx, out, h, w, out_h, out_w, tiles_x, valid_y, valid_x,
                   *x.stride(), *out.stride(), c, fuh, fuw, fdh, fdw, up, down, pad[0], pad[2],
                   float(up * up), float(gain), float(slope), 0.0 if clamp is None else float(clamp)),
                  dict(HAS_BIAS=b is not None, HAS_CLAMP=clamp is not None, FLIP=flip, HALF=x.dtype == torch.float16,
                       RANKS_U=uy.shape[0], RANKS_D=dy.shape[0], XT=xt, UT=ut, OT=ot))


def compile_ahead(launch: Launch, capability: int = 90, warp_size: int = 32):
    """Compile ``launch``'s kernel for a CUDA GPU of compute ``capability`` without one (Triton's
    ahead-of-time path): returns Triton's compiled kernel, whose ``asm`` holds the PTX and the cubin."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    source = ASTSource(fn=launch.kernel.jit, signature=launch.signature(), constexprs=launch.constexprs)
    return triton.compile(source, target=GPUTarget("cuda", capability, warp_size))
