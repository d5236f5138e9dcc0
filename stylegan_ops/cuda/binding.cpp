// Registers the fused filtered_lrelu kernel as the torch op netblend_cuda::filtered_lrelu (CUDA only).
// Uses only the light ATen/c10 headers (not torch/extension.h), and no pybind: the library is loaded
// with is_python_module=False and reached through torch.ops.
#include <ATen/core/Tensor.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "filtered_lrelu.h"

namespace {

void fill_strides(const at::Tensor& t, int64_t* out) {
    for (int i = 0; i < 4; ++i) out[i] = t.stride(i);
}

void filtered_lrelu(const at::Tensor& x, const std::optional<at::Tensor>& bias, const at::Tensor& up_cols,
                    const at::Tensor& up_rows, const at::Tensor& down_cols, const at::Tensor& down_rows,
                    const at::Tensor& out, int64_t up, int64_t down, int64_t pad_x, int64_t pad_y, double gain,
                    double slope, std::optional<double> clamp, bool flip) {
    TORCH_CHECK(x.is_cuda() && x.dim() == 4, "filtered_lrelu: x must be a 4-D CUDA tensor");
    TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kHalf, "filtered_lrelu: fp32 or fp16 only");
    TORCH_CHECK(out.scalar_type() == x.scalar_type() && out.dim() == 4, "filtered_lrelu: out must match x");
    for (const at::Tensor* f : {&up_cols, &up_rows, &down_cols, &down_rows})
        TORCH_CHECK(f->scalar_type() == at::kFloat && f->dim() == 2 && f->is_contiguous() && f->is_cuda(),
                    "filtered_lrelu: filter factors must be contiguous float32 [R, taps] CUDA tensors");
    TORCH_CHECK(up_cols.size(0) == up_rows.size(0) && down_cols.size(0) == down_rows.size(0),
                "filtered_lrelu: column and row factors differ in rank");
    if (bias) TORCH_CHECK(bias->scalar_type() == at::kFloat && bias->is_contiguous() && bias->numel() == x.size(1),
                          "filtered_lrelu: bias must be float32 [C]");
    const c10::cuda::CUDAGuard guard(x.device());
    FilteredLreluParams p{};
    p.x = x.data_ptr();
    p.bias = bias ? bias->data_ptr<float>() : nullptr;
    p.up_cols = up_cols.data_ptr<float>();
    p.up_rows = up_rows.data_ptr<float>();
    p.down_cols = down_cols.data_ptr<float>();
    p.down_rows = down_rows.data_ptr<float>();
    p.out = out.data_ptr();
    fill_strides(x, p.x_stride);
    fill_strides(out, p.out_stride);
    p.n = x.size(0), p.c = x.size(1), p.h = x.size(2), p.w = x.size(3);
    p.out_h = out.size(2), p.out_w = out.size(3);
    p.ranks_up = up_cols.size(0), p.ranks_down = down_cols.size(0);
    p.fu_h = up_cols.size(1), p.fu_w = up_rows.size(1), p.fd_h = down_cols.size(1), p.fd_w = down_rows.size(1);
    p.up = up, p.down = down, p.pad_x = pad_x, p.pad_y = pad_y;
    p.up_gain = static_cast<float>(up * up), p.gain = gain, p.slope = slope;
    p.has_clamp = clamp.has_value(), p.clamp = clamp.value_or(0.0), p.flip = flip;
    p.half = x.scalar_type() == at::kHalf;
    const int err = filtered_lrelu_launch(p, c10::cuda::getCurrentCUDAStream().stream());
    TORCH_CHECK(err == 0, "filtered_lrelu: CUDA launch failed with error ", err);
}

}  // namespace

TORCH_LIBRARY(netblend_cuda, m) {
    m.def("filtered_lrelu(Tensor x, Tensor? bias, Tensor up_cols, Tensor up_rows, Tensor down_cols, "
          "Tensor down_rows, Tensor(a!) out, int up, int down, int pad_x, int pad_y, float gain, float slope, "
          "float? clamp, bool flip) -> ()");
}

TORCH_LIBRARY_IMPL(netblend_cuda, CUDA, m) { m.impl("filtered_lrelu", &filtered_lrelu); }
